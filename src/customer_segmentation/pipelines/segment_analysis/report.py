"""The self-contained HTML segment report (images embedded), for marketers.
Its layout is the Jinja template ``templates/segment_report.html.j2``; the
pictures are the PNG files the catalog saved, read back, never redrawn."""

from __future__ import annotations

import base64

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.colors import to_hex

from customer_segmentation.features import FeatureSpec

from .nodes import column_label


def _format(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _warnings(metrics: dict) -> list[str]:
    """The model-selection findings a reader must not miss."""
    warnings = []
    structure = metrics.get("structure") or {}
    if metrics.get("clear_structure") is False:
        warnings.append(
            "No clear segment structure: the best silhouette "
            f"({structure.get('best_silhouette', float('nan')):.2f}) is hardly better than "
            f"on structure-free data ({structure.get('reference_silhouette', float('nan')):.2f}). "
            "The segments are useful cuts of a continuum, not separate groups of customers."
        )
    if metrics.get("selected_k_stable") is False:
        warnings.append(
            f"k = {metrics['selected_k']} is unstable: refits on resampled customers give "
            "different segments. Treat segment boundaries with caution."
        )
    share = (metrics.get("feature_separation") or {}).get("categorical_share")
    if share is not None and share > 0.5:
        warnings.append(
            f"Categorical columns carry {share:.0%} of what separates the segments, so the "
            "segments mostly follow categories (consider preprocessing.categorical_weight < 1)."
        )
    return warnings


def _why(metrics: dict) -> str:
    choices = metrics.get("choice_per_criterion") or {}
    agreeing = sorted(c for c, k in choices.items() if k == metrics["selected_k"])
    text = (
        f"k = {metrics['selected_k']} was chosen by the '{metrics['criterion']}' rule "
        "(the best silhouette among the k whose segments come back on resampled customers)"
        if metrics["criterion"] == "consensus"
        else f"k = {metrics['selected_k']} was chosen by the '{metrics['criterion']}' criterion"
    )
    if agreeing:
        text += f"; {', '.join(agreeing)} also point to it"
    others = {c: k for c, k in choices.items() if k not in (None, metrics["selected_k"])}
    if others:
        text += "; " + ", ".join(f"{c} prefers k = {k}" for c, k in sorted(others.items()))
    return text + "."


def build_segment_report(  # noqa: PLR0913 - the tables, pictures and settings it shows
    segment_profiles: pd.DataFrame,
    segment_recommendations: pd.DataFrame,
    model_selection_metrics: dict,
    segmented_customers: pd.DataFrame,
    segment_sizes_plot: bytes,
    profile_heatmap_plot: bytes,
    segment_map_plot: bytes,
    segment_scatter_plot: bytes,
    features: dict,
    labels: dict,
    highlight_columns: list[str],
) -> str:
    """One self-contained HTML page a marketer can open from an email: the
    chosen k and why, any model-selection warning, a card per segment (name,
    size, action, reason, and its profile against the whole base: the five
    features it differs most on, the three most different profile-only
    columns and every ``highlight_columns`` column) and the four pictures, the
    PNG files the catalog saved, embedded."""
    spec = FeatureSpec.parse(features)
    numeric, categorical = spec.described_numeric, spec.described_categorical
    labels = labels or {}
    overall = segmented_customers[numeric].mean()
    profile_only = set(spec.profile_numeric) - set(spec.numeric)
    highlighted = [c for c in highlight_columns if c in numeric]
    cards = []
    profiles = segment_profiles.set_index("segment")
    for recommendation in segment_recommendations.itertuples():
        row = profiles.loc[recommendation.segment]
        by_size = sorted(numeric, key=lambda c: -abs(row[f"{c}_z"]))
        shown = [c for c in by_size if c not in profile_only][:5]
        shown += [c for c in by_size if c in profile_only and c not in highlighted][:3]
        shown += [c for c in highlighted if c not in shown]
        mix = []
        for column in categorical:
            shares = row[[c for c in profiles.columns if c.startswith(f"{column}=")]]
            top = shares.astype(float).idxmax()
            mix.append(
                f"{column_label(column, labels)}: mostly {top.split('=', 1)[1]} ({shares[top]:.0%})"
            )
        cards.append(
            {
                "priority": recommendation.priority,
                "segment": recommendation.segment,
                "name": recommendation.name,
                "customers": recommendation.customers,
                "share": f"{recommendation.share:.0%}",
                "action": recommendation.action[0].upper() + recommendation.action[1:],
                "reason": recommendation.reason,
                "colour": _colour(recommendation.segment),
                "profile": [
                    {
                        "label": column_label(c, labels),
                        "mean": _format(row[c]),
                        "overall": _format(overall[c]),
                        "z": f"{row[f'{c}_z']:+.1f}",
                    }
                    for c in shown
                ],
                "mix": "; ".join(mix),
            }
        )
    score_keys = [
        key
        for key in ("silhouette", "calinski_harabasz", "davies_bouldin", "stability_mean")
        if key in model_selection_metrics["scores"][0]
    ]
    scores = [
        {"k": row["k"], **{key: f"{row[key]:,.2f}" for key in score_keys}}
        for row in model_selection_metrics["scores"]
    ]
    pictures = [
        ("Segment sizes", "Customers in each segment.", segment_sizes_plot),
        (
            "Segment profiles",
            "Red: above the whole customer base; blue: below; numbers are standard deviations.",
            profile_heatmap_plot,
        ),
        (
            "Map of the segments",
            "Customers on the two directions that spread them most; close segments are similar.",
            segment_map_plot,
        ),
        (
            "Two features in original units",
            "Segments overlap here because they differ in all features at once.",
            segment_scatter_plot,
        ),
    ]
    environment = Environment(
        loader=PackageLoader(__package__, "templates"), autoescape=select_autoescape(default=True)
    )
    return environment.get_template("segment_report.html.j2").render(
        total=len(segmented_customers),
        k=model_selection_metrics["selected_k"],
        warnings=_warnings(model_selection_metrics),
        why=_why(model_selection_metrics),
        score_columns=[key.replace("_", " ") for key in score_keys],
        score_keys=score_keys,
        scores=scores,
        cards=cards,
        pictures=[
            {"title": title, "caption": caption, "data": base64.b64encode(png).decode("ascii")}
            for title, caption, png in pictures
        ],
    )


def _colour(segment: int) -> str:
    """The hex colour the plots give the segment (matplotlib's "C0", "C1", ...)."""
    return to_hex(f"C{segment % 10}")
