"""Segment assignment and per-segment profiles in the units marketers know."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)


def assign_segments(
    customers: pd.DataFrame, segmentation_model: Pipeline, features: dict
) -> pd.DataFrame:
    """Scores every customer with the fitted segmentation model (preprocessor and
    KMeans in one ``predict``) and returns the id with its segment number."""
    id_column = features["id_column"]
    segments = segmentation_model.predict(customers)
    return pd.DataFrame(
        {id_column: customers[id_column].to_numpy(), "segment": segments.astype("int64")}
    )


def _with_segments(
    customers: pd.DataFrame, customer_segments: pd.DataFrame, id_column: str
) -> pd.DataFrame:
    """Joins each customer to its segment by id; every customer must have one."""
    joined = customers.merge(
        customer_segments[[id_column, "segment"]], on=id_column, how="left", validate="one_to_one"
    )
    unassigned = joined["segment"].isna()
    if unassigned.any():
        raise ValueError(
            f"{int(unassigned.sum())} customers have no segment in customer_segments "
            f"(first {id_column}: {joined.loc[unassigned, id_column].iloc[0]}); "
            "run model_selection and segment_analysis on the same raw_customers"
        )
    return joined.astype({"segment": "int64"})


def profile_segments(
    customers: pd.DataFrame, customer_segments: pd.DataFrame, features: dict
) -> pd.DataFrame:
    """Describes each segment by its size, its share of customers, the mean of
    every numeric feature in original units and the mix of every categorical
    feature (share of the segment in each category)."""
    id_column = features["id_column"]
    segmented = _with_segments(customers, customer_segments, id_column)
    grouped = segmented.groupby("segment")
    profile = pd.DataFrame({"customers": grouped.size()})
    profile["share"] = profile["customers"] / len(segmented)
    profile = profile.join(grouped[list(features["numeric"])].mean())
    for column, categories in (features.get("categorical") or {}).items():
        mix = pd.crosstab(segmented["segment"], segmented[column], normalize="index")
        mix = mix.reindex(columns=list(categories), fill_value=0.0)
        profile = profile.join(mix.add_prefix(f"{column}=").rename_axis(columns=None))
    return profile.reset_index()


def _plot_axes(customers: pd.DataFrame, features: dict, scatter: dict) -> tuple[str, str]:
    """The configured axes, or the first two numeric features when the data
    lacks them (a user's own data need not have income or order value)."""
    wanted = [scatter["x"], scatter["y"]]
    if all(column in customers.columns for column in wanted):
        return scatter["x"], scatter["y"]
    numeric = list(features["numeric"])
    fallback = (numeric + numeric)[:2]
    logger.warning(
        "segment_analysis.scatter axes %s are not in the data; plotting %s instead",
        wanted,
        fallback,
    )
    return fallback[0], fallback[1]


def plot_segment_scatter(
    customers: pd.DataFrame,
    customer_segments: pd.DataFrame,
    features: dict,
    scatter: dict,
) -> Figure:
    """Scatter of two features in original units (by default annual income
    against average order value) coloured by segment; at most ``max_points``
    customers, sampled with ``random_seed``, are drawn so large runs stay fast."""
    x, y = _plot_axes(customers, features, scatter)
    segmented = _with_segments(
        customers[list(dict.fromkeys([features["id_column"], x, y]))],
        customer_segments,
        features["id_column"],
    )
    if len(segmented) > scatter["max_points"]:
        segmented = segmented.sample(scatter["max_points"], random_state=scatter["random_seed"])
    figure = Figure(figsize=(8, 6), layout="constrained")
    axes = figure.subplots()
    sizes = customer_segments["segment"].value_counts()
    for segment, members in segmented.groupby("segment"):
        axes.scatter(
            members[x],
            members[y],
            s=12,
            alpha=0.6,
            label=f"{segment} ({sizes[segment]:,} customers)",
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
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.set_xlabel(x.replace("_", " "))
    axes.set_ylabel(y.replace("_", " "))
    title = f"Segments by {x.replace('_', ' ')} and {y.replace('_', ' ')}"
    if len(segmented) < len(customer_segments):
        title += f" ({len(segmented):,} of {len(customer_segments):,} customers shown)"
    if outside:
        noun = "value" if outside == 1 else "values"
        title += f"\n{outside:,} extreme {noun} beyond the axes (over 3 IQR from the quartiles)"
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(title="segment", markerscale=2)
    return figure
