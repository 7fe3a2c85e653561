"""The project's dataset classes: what they write is what pandas and
Matplotlib would have written, only faster."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from kedro.io import Version
from matplotlib.figure import Figure

from customer_segmentation.datasets import ArrowCSVDataset, FigureDataset


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
