"""Pictures of the segments for marketers: sizes, profiles, a map and two
features in original units. Each function is a node that returns one
Matplotlib figure; the catalog saves it as a PNG that the report embeds."""

from __future__ import annotations

import logging
import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec
from customer_segmentation.figures import (
    ReadableNumbers,
    is_share,
    segment_colour,
    set_title,
    short_label,
    wrap_to,
)

from .names import column_label

logger = logging.getLogger(__name__)


def _plot_axes(segmented_customers: pd.DataFrame, features: dict, scatter: dict) -> tuple[str, str]:
    """The configured axes; or, when they are null (the default) or not in
    the data, the two numeric features on which the segments differ most
    (the largest share of variance between segment means)."""
    wanted = [scatter["x"], scatter["y"]]
    if all(column in segmented_customers.columns for column in wanted):
        return wanted[0], wanted[1]
    if any(wanted):
        logger.warning(
            "segment_analysis.scatter axes %s are not in the data; plotting the two "
            "features that separate the segments most",
            wanted,
        )
    numeric = list(FeatureSpec.parse(features).numeric)
    values = segmented_customers[numeric]
    between = values.groupby(segmented_customers["segment"]).mean().var(ddof=0)
    share = (between / values.var(ddof=0).replace(0, np.nan)).fillna(0)
    ranked = list(share.sort_values(ascending=False, kind="stable").index)
    return ranked[0], (ranked + ranked)[1]


def _sample(segmented_customers: pd.DataFrame, scatter: dict) -> pd.DataFrame:
    """At most ``max_points`` customers, sampled with ``random_seed``: what a
    picture shows costs the same at a thousand customers as at ten million."""
    if len(segmented_customers) <= scatter["max_points"]:
        return segmented_customers
    return segmented_customers.sample(scatter["max_points"], random_state=scatter["random_seed"])


def _legend_labels(segment_profiles: pd.DataFrame) -> dict[int, str]:
    """Each segment as the legends show it: its number, name and size."""
    return {
        int(row.segment): textwrap.shorten(f"{row.segment}: {row.name}", 64)
        + f" ({row.customers:,})"
        for row in segment_profiles.itertuples()
    }


def plot_segment_scatter(
    segmented_customers: pd.DataFrame,
    segment_profiles: pd.DataFrame,
    features: dict,
    scatter: dict,
    naming: dict | None = None,
) -> Figure:
    """Scatter of two features in original units (by default the two that
    separate the segments most) coloured by segment, the legend naming each
    segment; at most ``max_points`` customers, sampled with ``random_seed``,
    are drawn so large runs stay fast. Axes and title name the columns in
    the words of ``naming.labels``, as the report's tables do."""
    segmented = _sample(segmented_customers, scatter)
    x, y = _plot_axes(segmented, features, scatter)
    figure = Figure(figsize=(8, 6), layout="constrained")
    axes = figure.subplots()
    legend = _legend_labels(segment_profiles)
    for segment, members in segmented.groupby("segment"):
        axes.scatter(
            members[x],
            members[y],
            s=12,
            alpha=0.6,
            color=segment_colour(segment),
            label=legend[int(segment)],
        )
    outside = 0
    for column, set_limits in ((x, axes.set_xlim), (y, axes.set_ylim)):
        first, third = segmented[column].quantile([0.25, 0.75])
        low = max(first - 3 * (third - first), segmented[column].min())
        high = min(third + 3 * (third - first), segmented[column].max())
        outside_column = ~segmented[column].between(low, high) & segmented[column].notna()
        if outside_column.any() and high > low:
            # A few extreme values (an income of 666,666, say) would squash everyone else.
            margin = 0.05 * (high - low)
            set_limits(low - margin, high + margin)
            outside += int(outside_column.sum())
    axes.xaxis.set_major_formatter(ReadableNumbers(percent=is_share(segmented[x])))
    axes.yaxis.set_major_formatter(ReadableNumbers(percent=is_share(segmented[y])))
    labels = (naming or {}).get("labels") or {}
    x_label, y_label = column_label(x, labels), column_label(y, labels)
    axes.set_xlabel(wrap_to(x_label, 0.8 * figure.get_figwidth(), "medium"))
    axes.set_ylabel(wrap_to(y_label, 0.8 * figure.get_figheight(), "medium"))
    title = f"Segments by {x_label} and {y_label}"
    total = int(segment_profiles["customers"].sum())
    if len(segmented) < total:
        title += f" ({len(segmented):,} of {total:,} customers shown)"
    if outside:
        noun = "value" if outside == 1 else "values"
        title += f"\n{outside:,} extreme {noun} beyond the axes (over 3 IQR from the quartiles)"
    set_title(axes, title)
    axes.grid(alpha=0.3)
    axes.legend(title="segment (customers)", markerscale=2, fontsize="small")
    return figure


def plot_segment_sizes(segment_profiles: pd.DataFrame) -> Figure:
    """Customers per segment, with each segment's share of the base."""
    profiles = segment_profiles.sort_values("customers")
    figure = Figure(figsize=(8, 0.6 * len(profiles) + 1.5), layout="constrained")
    axes = figure.subplots()
    bars = axes.barh(
        [short_label(f"{row.segment}: {row.name}", 40) for row in profiles.itertuples()],
        profiles["customers"],
        color=[segment_colour(segment) for segment in profiles["segment"]],
    )
    axes.bar_label(
        bars,
        labels=[f"{row.customers:,} ({row.share:.0%})" for row in profiles.itertuples()],
        padding=3,
    )
    axes.set_xlim(0, profiles["customers"].max() * 1.25)
    axes.xaxis.set_major_formatter(ReadableNumbers())
    axes.set_xlabel("customers")
    axes.set_title("Segment sizes")
    axes.grid(axis="x", alpha=0.3)
    return figure


def plot_profile_heatmap(segment_profiles: pd.DataFrame, features: dict, naming: dict) -> Figure:
    """How each segment (a column) differs from the whole customer base on
    every numeric column (a row): the difference of its mean in standard
    deviations (z-score), red above and blue below the base."""
    numeric = FeatureSpec.parse(features).described_numeric
    z = segment_profiles.set_index("segment")[[f"{c}_z" for c in numeric]].to_numpy(float).T
    labels = naming["labels"]
    figure = Figure(
        figsize=(4 + 1.9 * len(segment_profiles), 2.2 + 0.42 * len(numeric)),
        layout="constrained",
    )
    axes = figure.subplots()
    limit = max(1.0, float(abs(z).max()))
    image = axes.imshow(z, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    axes.set_yticks(
        range(len(numeric)), [short_label(column_label(c, labels), 40) for c in numeric]
    )
    axes.set_xticks(
        range(len(segment_profiles)),
        [short_label(f"{row.segment}: {row.name}", 18, 4) for row in segment_profiles.itertuples()],
        fontsize="small",
    )
    axes.xaxis.tick_top()
    for (row, column), value in np.ndenumerate(z):
        axes.text(
            column,
            row,
            f"{value:+.1f}" if round(value, 1) != 0 else "0.0",
            ha="center",
            va="center",
            color="white" if abs(value) > 0.6 * limit else "black",
            fontsize="small",
        )
    figure.colorbar(image, ax=axes, label="difference from all customers (SD)", shrink=0.8)
    axes.set_xlabel(
        wrap_to(
            "Segment profiles: each column's mean against the whole customer base",
            0.8 * figure.get_figwidth(),
            "medium",
        )
    )
    return figure


def plot_segment_map(
    segmented_customers: pd.DataFrame,
    segment_profiles: pd.DataFrame,
    segmentation_model: Pipeline,
    scatter: dict,
) -> Figure:
    """All customers (at most ``max_points``, sampled) on the first two
    principal components of the model's encoded features, coloured by
    segment and labelled by name: a map of how the segments sit relative to
    one another."""
    segmented = _sample(segmented_customers, scatter)
    encoded = segmentation.preprocessor(segmentation_model).transform(segmented)
    pca = PCA(n_components=2, random_state=scatter["random_seed"]).fit(encoded)
    points = pca.transform(encoded)
    centres = pca.transform(
        pd.DataFrame(
            segmentation.clustering(segmentation_model).cluster_centers_, columns=encoded.columns
        )
    )
    figure = Figure(figsize=(8, 6), layout="constrained")
    axes = figure.subplots()
    labels = _legend_labels(segment_profiles)
    for segment in sorted(segmented["segment"].unique()):
        members = (segmented["segment"] == segment).to_numpy()
        axes.scatter(
            points[members, 0],
            points[members, 1],
            s=10,
            alpha=0.5,
            color=segment_colour(segment),
            label=labels[int(segment)],
        )
        axes.annotate(
            str(segment),
            centres[segment],
            ha="center",
            va="center",
            fontsize=14,
            fontweight="bold",
            bbox={"boxstyle": "circle", "fc": "white", "ec": segment_colour(segment)},
        )
    ratio = pca.explained_variance_ratio_
    axes.set_xlabel(f"first principal component ({ratio[0]:.0%} of the variance)")
    axes.set_ylabel(f"second principal component ({ratio[1]:.0%} of the variance)")
    total = int(segment_profiles["customers"].sum())
    shown = (
        f"{len(segmented):,} of {total:,} customers"
        if len(segmented) < total
        else f"{len(segmented):,} customers"
    )
    axes.xaxis.set_major_formatter(ReadableNumbers())
    axes.yaxis.set_major_formatter(ReadableNumbers())
    set_title(axes, f"Map of the segments ({shown}; numbers mark segment centres)")
    axes.grid(alpha=0.3)
    axes.legend(title="segment (customers)", markerscale=2, fontsize="small")
    return figure
