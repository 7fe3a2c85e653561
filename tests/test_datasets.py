"""The project's dataset classes: what they write is what pandas and
Matplotlib would have written, only faster, and CSVs for people have their
spreadsheet formulas neutralised."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import Version
from matplotlib.figure import Figure

from customer_segmentation.datasets import (
    ArrowCSVDataset,
    CSVDataset,
    FigureDataset,
    neutralise_formulas,
    restore_formulas,
)

# (value, as written for a spreadsheet): OWASP's CSV injection forms.
HOSTILE = [
    ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-cmd", "'-cmd"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\r=1+1", "'\r=1+1"),
    ("-.cmd", "'-.cmd"),
    # Already escaped by someone: one apostrophe more, so loading gives it back.
    ("'=1+1", "''=1+1"),
]
# Numbers, phone numbers and ordinary text: written as they are.
HARMLESS = ["-2+3", "-2.5", "+44 20 7946 0958", "-.5", "-", "plain", "O'Brien", "'quoted'", "a=b"]


def test_arrow_csv_round_trips_what_pandas_writes(tmp_path):
    table = pd.DataFrame(
        {
            "customer_id": pd.array(["0042", "0007", "A,B", None], dtype="string"),
            "segment": [0, 1, 1, 2],
            "segment_name": ["Frequent, young", 'Says "hi"', "plain", "plain"],
            "share": [0.1, 0.25, np.nan, 1 / 3],
        }
    )
    path = tmp_path / "targets.csv"
    dataset = ArrowCSVDataset(filepath=str(path), load_args={"dtype": {"customer_id": str}})
    dataset.save(table)
    text = path.read_text()
    assert text.splitlines()[0] == "customer_id,segment,segment_name,share"
    assert text.splitlines()[1].startswith('"0042",0,"Frequent, young",0.1')
    expected = pd.read_csv(io.StringIO(table.to_csv(index=False)), dtype={"customer_id": str})
    pd.testing.assert_frame_equal(dataset.load(), expected)


def test_arrow_csv_is_versioned_like_kedros(tmp_path):
    path = tmp_path / "targets.csv"
    ArrowCSVDataset(filepath=str(path), version=Version(None, "2026-01-01T00.00.00.000Z")).save(
        pd.DataFrame({"a": [1]})
    )
    assert (path / "2026-01-01T00.00.00.000Z" / "targets.csv").read_text() == "a\n1\n"


def _hostile_table(dtype) -> pd.DataFrame:
    values = [value for value, _ in HOSTILE] + HARMLESS
    return pd.DataFrame(
        {
            "customer_id": pd.Series(values, dtype=dtype),
            "segment": np.arange(len(values)) - 3,
            "share": np.linspace(-1.5, 1.5, len(values)),
        }
    )


@pytest.mark.parametrize("dtype", ["str", object, "string", "category"])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(dtype):
    table = _hostile_table(dtype)
    safe = neutralise_formulas(table)
    expected = [written for _, written in HOSTILE] + HARMLESS
    assert safe["customer_id"].astype(str).tolist() == expected
    pd.testing.assert_frame_equal(safe[["segment", "share"]], table[["segment", "share"]])
    assert table["customer_id"].iloc[0].startswith("=")  # the input is not changed
    pd.testing.assert_frame_equal(restore_formulas(safe), table)


def test_numbers_and_mixed_columns_are_left_alone():
    table = pd.DataFrame({"mixed": pd.Series([-1, "-x", None, 2.5], dtype=object), "n": [-1] * 4})
    safe = neutralise_formulas(table)
    assert safe["mixed"].tolist()[:2] == [-1, "'-x"] and safe["n"].tolist() == [-1] * 4
    ordinary = pd.DataFrame({"id": ["0001", "A-1"], "x": [1.5, -2.0]})
    assert neutralise_formulas(ordinary) is ordinary


@pytest.mark.parametrize("dataset_class", [CSVDataset, ArrowCSVDataset])
def test_a_csv_for_people_is_safe_to_open_and_loads_back_unchanged(tmp_path, dataset_class):
    table = _hostile_table("str")
    path = tmp_path / "targets.csv"
    dataset = dataset_class(
        filepath=str(path), neutralise_formulas=True, load_args={"dtype": {"customer_id": str}}
    )
    dataset.save(table)
    written = pd.read_csv(path, dtype={"customer_id": str})
    assert written["customer_id"].tolist() == [w for _, w in HOSTILE] + HARMLESS
    assert not written["customer_id"].str.match(r"[=@\t\r]|[+-][a-z]").any()
    pd.testing.assert_frame_equal(dataset.load(), table)


@pytest.mark.parametrize("dataset_class", [CSVDataset, ArrowCSVDataset])
def test_an_ordinary_table_round_trips_unchanged(tmp_path, dataset_class):
    table = pd.DataFrame(
        {
            "customer_id": ["0042", "A,B", 'Says "hi"', "-7"],
            "segment": [0, 1, 1, 2],
            "share": [0.1, -0.25, np.nan, 1 / 3],
        }
    )
    plain, safe = tmp_path / "plain.csv", tmp_path / "safe.csv"
    dataset_class(filepath=str(plain)).save(table)
    dataset = dataset_class(
        filepath=str(safe), neutralise_formulas=True, load_args={"dtype": {"customer_id": str}}
    )
    dataset.save(table)
    assert safe.read_bytes() == plain.read_bytes()
    pd.testing.assert_frame_equal(dataset.load(), table)


def test_formulas_are_kept_unless_the_option_is_set(tmp_path):
    path = tmp_path / "export.csv"
    dataset = CSVDataset(filepath=str(path))
    dataset.save(pd.DataFrame({"id": ["=1+1"]}))
    assert path.read_text().splitlines() == ["id", "=1+1"]


def test_every_csv_the_project_writes_for_people_neutralises_formulas():
    """Inputs (data/01_raw) are read, never written; every CSV output is
    opened by people, the previous profiles are read back through it."""
    catalog = yaml.safe_load(
        (Path(__file__).parents[1] / "conf" / "base" / "catalog.yml").read_text(encoding="utf-8")
    )
    written = {
        name: entry.get("dataset", entry)
        for name, entry in catalog.items()
        if str(entry.get("dataset", entry).get("filepath", "")).endswith(".csv")
        and not str(entry.get("dataset", entry)["filepath"]).startswith("data/01_raw")
    }
    assert {"target_customers", "segment_profiles", "previous_segment_profiles"} <= set(written)
    for name, entry in written.items():
        assert entry["type"].startswith("customer_segmentation.datasets."), name
        assert entry.get("neutralise_formulas") is True, name


def _figure() -> Figure:
    figure = Figure(figsize=(4, 3), layout="constrained")
    axes = figure.subplots(1, 2)
    axes[0].plot([1, 2, 3], [3, 1, 2], label="a long legend label")
    axes[0].legend()
    axes[1].set_ylabel("a y label that needs a margin")
    return figure


def test_a_figure_loads_back_as_the_png_savefig_wrote(tmp_path):
    """The report embeds the very file the catalog saved."""
    expected = io.BytesIO()
    _figure().savefig(expected, format="png", dpi=60)
    dataset = FigureDataset(filepath=str(tmp_path / "plot.png"), save_args={"dpi": 60})
    dataset.save(_figure())
    assert dataset.load() == expected.getvalue()
