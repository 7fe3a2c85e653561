"""`make airflow-dags` writes DAGs that run the pipelines, one task each.

Airflow itself is not a dependency of the project (its workers install the
project, not the other way round), so the DAG files are executed against a
recorder of the two decorators they use, ``airflow.sdk.dag`` and ``task``,
and their tasks are then run in dependency order, each in its own Kedro
session, as Airflow's workers would."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from graphlib import TopologicalSorter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import FAST_SELECTION, run_command, version_file, versions

pytestmark = pytest.mark.integration


class _Task:
    def __init__(self, dag: dict, task_id: str, function) -> None:
        self.task_id, self.function, self._dag = task_id, function, dag
        dag["tasks"][task_id] = self

    def __rshift__(self, other: _Task) -> _Task:
        self._dag["edges"].add((self.task_id, other.task_id))
        return other


def _airflow_recorder(dags: dict) -> types.ModuleType:
    """``airflow.sdk`` with ``dag`` and ``task`` recording what a DAG file
    declares."""
    sdk = types.ModuleType("airflow.sdk")
    current: list[dict] = []

    def dag(**settings):
        def decorate(function):
            def build():
                record = {"settings": settings, "tasks": {}, "edges": set()}
                current.append(record)
                function()
                current.pop()
                dags[settings["dag_id"]] = record

            return build

        return decorate

    def task(task_id: str):
        return lambda function: lambda: _Task(current[-1], task_id, function)

    sdk.dag, sdk.task = dag, task
    return sdk


def _load_dags(folder: Path, monkeypatch) -> dict:
    dags: dict = {}
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    monkeypatch.setitem(sys.modules, "airflow.sdk", _airflow_recorder(dags))
    for path in sorted(folder.glob("*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return dags


def _run(dag: dict) -> None:
    order = TopologicalSorter({task: set() for task in dag["tasks"]})
    for parent, child in dag["edges"]:
        order.add(child, parent)
    for task_id in order.static_order():
        dag["tasks"][task_id].function()


def test_airflow_dags_run_the_pipelines_one_task_each(project_copy, tmp_path, monkeypatch):
    made = run_command(
        ["make", "airflow-dags", f"BIN={Path(sys.executable).parent}", "INSTALLED=", "RUNTIME="],
        project_copy,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    folder = project_copy / "airflow_dags"
    for path in folder.glob("*.py"):
        compile(path.read_text(), str(path), "exec")

    settings = yaml.safe_load((project_copy / "conf" / "base" / "airflow.yml").read_text())
    dags = _load_dags(folder, monkeypatch)
    assert set(dags) == {"customer-segmentation", "customer-segmentation-scoring"}
    training, scoring = dags["customer-segmentation"], dags["customer-segmentation-scoring"]
    for dag in dags.values():
        assert dag["settings"]["max_active_runs"] == 1
        assert dag["settings"]["catchup"] is False
    assert training["settings"]["schedule"] == settings["default"]["schedule"]
    assert scoring["settings"]["schedule"] == settings["scoring"]["schedule"]
    assert training["edges"] == {
        ("data-generation", "preprocessing"),
        ("preprocessing", "segment-analysis"),  # validated_customers
        ("preprocessing", "model-selection"),
        ("model-selection", "segment-analysis"),
    }
    assert set(scoring["tasks"]) == {"scoring"}

    # Tasks run from the worker's own folder still read and write the project's data.
    generation = yaml.safe_load(
        (project_copy / "conf" / "base" / "parameters_data_generation.yml").read_text()
    )
    generation["data_generation"]["n_customers"] = 600
    (project_copy / "conf" / "local" / "parameters_data_generation.yml").write_text(
        yaml.safe_dump(generation)
    )
    (project_copy / "conf" / "local" / "parameters_model_selection.yml").write_text(
        yaml.safe_dump({"model_selection": FAST_SELECTION})  # merged key by key into base
    )
    worker = tmp_path / "worker"
    worker.mkdir()
    monkeypatch.chdir(worker)
    _run(training)
    _run(scoring)
    model = versions(project_copy, "data/06_models/segmentation_model.pkl")[-1]
    scored = version_file(project_copy, "data/07_model_output/scored_customers.parquet")
    assert set(pd.read_parquet(scored)["model_version"]) == {model}
    raw = version_file(project_copy, "data/01_raw/customers.parquet")
    segments = version_file(project_copy, "data/07_model_output/customer_segments.parquet")
    assert (
        pd.read_parquet(segments)["customer_id"].tolist()
        == pd.read_parquet(raw)["customer_id"].tolist()
    )
    drift = version_file(project_copy, "data/08_reporting/drift_report.json")
    assert json.loads(drift.read_text())["previous_version"] is None
    assert not list(worker.iterdir())
