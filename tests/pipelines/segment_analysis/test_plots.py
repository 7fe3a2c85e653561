"""The segment pictures write numbers and words a marketer can trust: ticks
keep the decimals the data needs, shares read as percents, long titles and
labels are wrapped inside the figure, never cut."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from customer_segmentation.figures import ReadableNumbers, decimals_for, is_share
from customer_segmentation.parameters import Features
from customer_segmentation.pipelines.segment_analysis.plots import (
    plot_profile_heatmap,
    plot_segment_scatter,
    plot_segment_sizes,
)
from tests.conftest import base_parameters, filled

LONG = (
    "share_of_orders_returned_within_thirty_days_of_delivery_for_any_reason_including_"
    "damaged_goods_wrong_size_late_arrival_as_recorded_by_the_warehouse_team_in_2024"
)
SCATTER = {"x": None, "y": None, "max_points": 5000, "random_seed": 0}


def _customers() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "segment": np.repeat([0, 1], 50),
            LONG: rng.uniform(0, 0.3, 100),
            "visits": rng.uniform(0, 2, 100),
        }
    )


def _profiles() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": [0, 1],
            "name": ["High visits", "Low visits"],
            "customers": [50, 50],
            "share": [0.5, 0.5],
            f"{LONG}_z": [0.4, -0.4],
            "visits_z": [1.0, -1.0],
        }
    )


def _inside(figure, artists) -> None:
    """Every artist is drawn within the figure, none cut at an edge."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = figure.bbox
    for artist in artists:
        extent = artist.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1, artist.get_text()[:40]
        assert extent.y0 >= box.y0 - 1 and extent.y1 <= box.y1 + 1, artist.get_text()[:40]


def _ticks(axis) -> list[str]:
    axis.axes.get_figure().canvas.draw()
    return [label.get_text() for label in axis.get_ticklabels() if label.get_text()]


def test_scatter_ticks_keep_their_decimals_and_shares_read_as_percents():
    figure = plot_segment_scatter(
        _customers(), _profiles(), {"numeric": []}, {**SCATTER, "x": LONG, "y": "visits"}
    )
    FigureCanvasAgg(figure)
    axes = figure.axes[0]
    x, y = _ticks(axes.xaxis), _ticks(axes.yaxis)
    assert {"0%", "5%", "10%", "15%", "20%", "25%"} <= set(x)
    assert len(set(x)) == len(x)
    assert len(set(y)) == len(y) and "0.50" in y  # a 0-2 range is not read as 0, 0, 1, 1, 2


def test_a_long_column_label_never_cuts_the_scatter_title():
    figure = plot_segment_scatter(
        _customers(), _profiles(), {"numeric": []}, {**SCATTER, "x": LONG, "y": "visits"}
    )
    axes = figure.axes[0]
    label = LONG.replace("_", " ")
    assert axes.get_title().replace("\n", " ") == f"Segments by {label} and visits"
    _inside(figure, [axes.title, axes.xaxis.label, axes.yaxis.label])


def test_long_labels_of_the_heatmap_and_sizes_stay_inside():
    profiles = _profiles()
    profiles["name"] = [f"High {LONG.replace('_', ' ')}", "Low visits"]
    features = filled(
        Features, {"id_column": "customer_id", "numeric": [LONG, "visits"], "profile_only": {}}
    )
    naming = {**base_parameters()["segment_analysis"]["naming"], "labels": {}}
    heatmap = plot_profile_heatmap(profiles, features, naming)
    axes = heatmap.axes[0]
    FigureCanvasAgg(heatmap)
    _inside(heatmap, [*axes.get_yticklabels(), *axes.get_xticklabels(), axes.xaxis.label])
    cells = [text.get_text() for text in axes.texts]
    assert "-0.0" not in cells
    sizes = plot_segment_sizes(profiles)
    _inside(sizes, [*sizes.axes[0].get_yticklabels(), sizes.axes[0].title])


@pytest.mark.parametrize(
    "ticks, percent, expected",
    [
        ([0.0, 0.25, 0.5, 0.75, 1.0], False, ["0.00", "0.25", "0.50", "0.75", "1.00"]),
        ([0.0, 0.2, 0.4], True, ["0%", "20%", "40%"]),
        ([0.0, 0.025, 0.05], True, ["0.0%", "2.5%", "5.0%"]),
        ([-20000, -15000, -10000], False, ["-20,000", "-15,000", "-10,000"]),
        ([1000.5, 1001.0, 1001.5], False, ["1,000.5", "1,001.0", "1,001.5"]),
        ([-0.2, 1e-17, 0.2], False, ["-0.2", "0.0", "0.2"]),
    ],
)
def test_readable_numbers(ticks, percent, expected):
    formatter = ReadableNumbers(percent=percent)
    assert formatter.format_ticks(ticks) == expected


def test_shares_and_decimals():
    assert is_share([0.1, 0.5, 0.95])
    assert not is_share([0, 1, 1, 0])  # a 0/1 flag is not a share
    assert not is_share([0.5, 1.5])
    assert decimals_for(np.array([0.0, 0.5, 1.0])) == 1
    assert decimals_for(np.array([0.0, 500.0, 1000.0])) == 0


def test_the_scatter_names_its_axes_in_the_words_of_the_report():
    customers = _customers().rename(columns={LONG: "recency_days"})
    naming = {"labels": {"recency_days": "days since last purchase"}}
    figure = plot_segment_scatter(
        customers,
        _profiles(),
        {"numeric": []},
        {**SCATTER, "x": "recency_days", "y": "visits"},
        naming,
    )
    axes = figure.axes[0]
    assert axes.get_xlabel() == "days since last purchase"
    assert axes.get_ylabel() == "visits"
    assert axes.get_title().startswith("Segments by days since last purchase and visits")
    assert "recency" not in axes.get_xlabel() + axes.get_title()
