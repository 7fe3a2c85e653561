"""Kedro-Viz previews of the versioned Parquet tables (validated_customers,
scored_customers, customer_features, ...): the first rows of the newest
version that a finished run marked complete, never a killed run's
half-written file nor a refused batch's table."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io.core import Version, VersionNotFoundError
from kedro_viz.models.flowchart.node_metadata import DataNodeMetadata
from kedro_viz.models.flowchart.nodes import GraphNode

from customer_segmentation.datasets import ParquetDataset
from customer_segmentation.versioning.marks import mark_complete
from tests.conftest import kedro_cli, version_file

OLD, NEW = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"
PARQUET_MAGIC = b"PAR1"


def _save(path: Path, data: pd.DataFrame, stamp: str, complete: bool = True) -> None:
    """Saves ``data`` as version ``stamp`` of a versioned Parquet table at
    ``path``, marked complete as a finished run marks it, or left as a killed
    (or refused) run leaves it."""
    ParquetDataset(filepath=str(path), version=Version(None, stamp)).save(data)
    if complete:
        mark_complete([path / stamp / path.name], stamp, {})


def _reader(path: Path, **options) -> ParquetDataset:
    """The table at ``path`` as the catalog makes it: loading the newest version."""
    return ParquetDataset(filepath=str(path), version=Version(None, None), **options)


def _customers(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": [f"{i:04d}" for i in range(rows)], "total_spend": range(rows)}
    )


def test_a_parquet_preview_is_the_first_rows_of_the_newest_complete_version(tmp_path):
    path = tmp_path / "validated_customers.parquet"
    finished = _customers(1000)
    _save(path, finished, OLD)
    _save(path, pd.DataFrame({"refused": [1]}), NEW, complete=False)
    dataset = _reader(path)
    assert list(dataset.load().columns) == ["refused"]  # Kedro alone reads the unfinished table

    preview = dataset.preview(nrows=3)

    assert preview["columns"] == ["customer_id", "total_spend"]
    assert preview["data"] == finished.head(3).to_numpy().tolist()


def test_a_killed_runs_half_written_parquet_file_is_never_read(tmp_path):
    """kill -9 during the save: a newer version folder holds the first bytes
    of a Parquet file, without its footer."""
    path = tmp_path / "scored_customers.parquet"
    _save(path, _customers(20), OLD)
    _save(path, _customers(5000), NEW, complete=False)
    killed = path / NEW / path.name
    killed.write_bytes(killed.read_bytes()[:100])
    assert killed.read_bytes().startswith(PARQUET_MAGIC)

    preview = _reader(path).preview()

    assert preview["data"] == _customers(5).to_numpy().tolist()


def test_a_parquet_preview_keeps_to_the_columns_the_entry_loads(tmp_path):
    path = tmp_path / "customer_features.parquet"
    _save(path, _customers(10), OLD)

    preview = _reader(path, load_args={"columns": ["total_spend"]}).preview(nrows=2)

    assert preview["columns"] == ["total_spend"]
    assert preview["data"] == [[0], [1]]


def test_a_parquet_preview_of_a_table_without_rows_shows_its_columns(tmp_path):
    path = tmp_path / "scored_customers.parquet"
    _save(path, _customers(0), OLD)

    preview = _reader(path).preview()

    assert preview["columns"] == ["customer_id", "total_spend"]
    assert preview["data"] == []


def test_without_a_complete_parquet_version_kedro_viz_shows_no_preview(tmp_path, caplog):
    """A project whose only run was killed: the preview raises a short error,
    which Kedro-Viz logs, and the table shows without a preview."""
    path = tmp_path / "validated_customers.parquet"
    _save(path, _customers(3), NEW, complete=False)
    dataset = _reader(path)
    with pytest.raises(VersionNotFoundError, match="no complete version in .*a run that finishes"):
        dataset.preview()

    node = GraphNode.create_data_node(
        dataset_id="id", dataset_name=path.name, layer=None, tags=set(), dataset=dataset,
        modular_pipelines=set(),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        metadata = DataNodeMetadata(data_node=node)

    assert metadata.preview is None
    assert metadata.preview_type == "TablePreview"
    assert "no complete version" in caplog.text


def _parquet_entries(entry: dict, versioned: bool = False):
    """The Parquet tables an entry declares, itself or wrapped (a
    ``CachedDataset``'s ``dataset``), with whether each is versioned."""
    versioned = versioned or entry.get("versioned", False)
    if "ParquetDataset" in str(entry.get("type")):
        yield entry["type"], versioned
    if isinstance(entry.get("dataset"), dict):
        yield from _parquet_entries(entry["dataset"], versioned)


def test_every_versioned_parquet_table_of_every_environment_previews_complete_versions():
    catalogs = sorted(Path(__file__).parents[1].glob("conf/*/catalog.yml"))
    found = {
        (catalog.parent.name, name): dataset_type
        for catalog in catalogs
        for name, entry in (yaml.safe_load(catalog.read_text()) or {}).items()
        if isinstance(entry, dict)
        for dataset_type, versioned in _parquet_entries(entry)
        if versioned
    }

    assert ("base", "validated_customers") in found
    assert ("base", "scored_customers") in found
    assert {
        place: dataset_type
        for place, dataset_type in found.items()
        if dataset_type != "customer_segmentation.datasets.ParquetDataset"
    } == {}


@pytest.mark.integration
def test_kedro_viz_build_previews_the_finished_runs_parquet_table(trained_project):
    """`kedro viz build --include-previews` after a finished run and a run
    killed (kill -9) while it wrote validated_customers."""
    relative = "data/02_intermediate/validated_customers.parquet"
    finished = pd.read_parquet(version_file(trained_project, relative))
    killed = trained_project / relative / "2099-01-01T00.00.00.000Z"
    killed.mkdir()
    (killed / killed.parent.name).write_bytes(PARQUET_MAGIC + b"half a row group")

    result = kedro_cli(trained_project, "viz", "build", "--include-previews")

    assert result.returncode == 0, result.stderr
    assert "magic bytes" not in result.stdout + result.stderr
    api = trained_project / "build" / "api"
    main = json.loads((api / "main").read_text())
    ids = {node["name"]: node["id"] for node in main["nodes"] if node["type"] == "data"}
    node = json.loads((api / "nodes" / ids["validated_customers"]).read_text())
    assert node["preview_type"] == "TablePreview"
    assert node["preview"]["columns"] == list(finished.columns)
    shown = pd.DataFrame(node["preview"]["data"], columns=node["preview"]["columns"])
    assert shown["customer_id"].tolist() == finished["customer_id"].head(5).tolist()
