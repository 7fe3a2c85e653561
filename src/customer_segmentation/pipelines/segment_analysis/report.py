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
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _share(value: float) -> str:
    return f"{value:.0%}" if value >= 0.01 else f"{value:.1%}"


def _warnings(metrics: dict, recommendations: pd.DataFrame, labels: dict) -> list[str]:
    """What a reader must not miss, in plain words: no clear structure,
    unstable segments, value that cannot be judged, categories driving the
    segments."""
    warnings = []
    if metrics.get("clear_structure") is False:
        warnings.append(
            "These customers do not fall into clearly separate groups. The segments are "
            "useful cuts of a continuum (from low to high spend, say), not distinct kinds "
            "of customer, and customers near a boundary may move between segments from "
            "one run to the next."
        )
    if metrics.get("selected_k_stable") is False:
        warnings.append(
            f"The {metrics['selected_k']} segments are not stable: repeating the analysis on "
            "resampled customers gives noticeably different segments. Treat the boundaries "
            "with caution."
        )
    if recommendations["value"].isna().all():
        warnings.append(
            "Customer value cannot be judged: no column is marked as spend (monetary) or "
            "purchase frequency in features.roles, so segments are ordered by size and no "
            "segment is called valuable."
        )
    separation = metrics.get("feature_separation") or {}
    share = separation.get("categorical_share")
    if share is not None and share > 0.5:
        per_feature = separation.get("share_per_feature") or {}
        numeric = set((metrics.get("preprocessing") or {}).get("transforms") or {})
        categories = [column_label(c, labels) for c in per_feature if c not in numeric][:3]
        warnings.append(
            f"Categories ({', '.join(categories)}) make up {share:.0%} of what sets the "
            "segments apart: the segments mostly follow those categories."
        )
    return warnings


def _notes(metrics: dict, labels: dict) -> list[str]:
    """How the data was read, in plain words: skewed columns compared on a
    log scale and extreme values held at the edge of the normal range."""
    preprocessing = metrics.get("preprocessing") or {}
    notes = []
    transformed = {
        column: chosen["transform"]
        for column, chosen in (preprocessing.get("transforms") or {}).items()
        if chosen["transform"] != "none"
    }
    if transformed:
        notes.append(
            "Skewed columns were compared on a log-like scale, so that a customer spending "
            "ten times more counts as far away, not a thousand times: "
            + ", ".join(column_label(c, labels) for c in transformed)
            + "."
        )
    outliers = preprocessing.get("outliers") or {}
    if outliers:
        parts = []
        for column, sides in outliers.items():
            for side, detail in sides.items():
                parts.append(
                    f"{detail['customers']:,} with {column_label(column, labels)} {side} "
                    f"{_format(detail['bound'])}"
                )
        shown = "; ".join(parts[:6]) + (
            f"; and {len(parts) - 6} more (model_selection_metrics.preprocessing.outliers)"
            if len(parts) > 6
            else ""
        )
        notes.append(
            "Extreme values were held at the edge of the normal range so that a few "
            f"unusual customers cannot form a segment of their own: {shown}."
        )
    choice = metrics.get("k_choice") or {}
    if choice.get("ineligible_k"):
        notes.append(
            "Splits into "
            + ", ".join(str(k) for k in choice["ineligible_k"])
            + f" segments were not considered: one of their segments would hold fewer than "
            f"{_share(choice['min_segment_share'])} of the customers."
        )
    return notes


_CRITERIA = {
    "elbow": "where adding another segment stops paying off",
    "silhouette": "it keeps customers closest to their own segment",
    "calinski_harabasz": "its segments are the most separated for their spread",
    "davies_bouldin": "its segments are the least alike",
    "stability": "its segments come back most consistently on resampled customers",
    "gmm_bic": "a mixture of that many groups fits the customers best",
}


def _why(metrics: dict, total: int) -> str:
    """Why this many segments, in one plain sentence: the rule that actually
    decided, fallbacks included."""
    k = metrics["selected_k"]
    choice = metrics.get("k_choice") or {"rule": metrics.get("criterion")}
    rule = choice.get("rule")
    if rule == "stable_best_silhouette":
        return (
            f"The {total:,} customers are split into {k} segments because, of the splits "
            "that come back the same when the analysis is repeated on resampled customers, "
            "this one keeps customers closest to their own segment and furthest from the others."
        )
    if rule == "best_silhouette_none_stable":
        return (
            f"No split came back the same when the analysis was repeated on resampled "
            f"customers, so the {total:,} customers are split into the {k} segments that are "
            "most distinct; treat the boundaries with caution."
        )
    if rule == "largest_smallest_segment":
        return (
            f"Every split left a segment with very few customers, so the {total:,} customers "
            f"are split into the {k} segments whose smallest segment is largest."
        )
    if rule == "best_silhouette_no_elbow":
        return (
            f"The curve of within-segment spread has no elbow, so the {total:,} customers are "
            f"split into the {k} segments that are most distinct."
        )
    return (
        f"The {total:,} customers are split into {k} segments because {_CRITERIA.get(rule, rule)} "
        f"(the '{rule}' criterion set in model_selection.criterion)."
    )


def _details(metrics: dict) -> str:
    """What every criterion would choose, for analysts."""
    choices = metrics.get("choice_per_criterion") or {}
    agreeing = sorted(c for c, k in choices.items() if k == metrics["selected_k"])
    text = f"Selected k = {metrics['selected_k']}"
    if agreeing:
        verb = "points" if len(agreeing) == 1 else "point"
        text += f"; {', '.join(agreeing)} also {verb} to it"
    others = {c: k for c, k in choices.items() if k not in (None, metrics["selected_k"])}
    if others:
        text += "; " + ", ".join(f"{c} prefers k = {k}" for c, k in sorted(others.items()))
    return text + "."


def _mix(shares: pd.Series) -> str:
    """A categorical column's mix in a segment: "mostly X" only for a majority."""
    top = shares.astype(float).idxmax()
    value = top.split("=", 1)[1]
    word = "mostly" if shares[top] > 0.5 else "largest group"
    return f"{word} {value} ({shares[top]:.0%})"


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
    """One self-contained HTML page a marketer can open from an email: any
    warning and how the data was read, in plain words; why this many segments
    in one sentence (the metrics below it, for analysts); a card per segment
    in segment order, the numbers the pictures use (name, priority, size,
    action, reason, and its profile against the whole base: the five features
    it differs most on, with z-scores on the clustering's scale, the three
    most different profile-only columns and every ``highlight_columns``
    column; the whole base's means come from ``segmented_customers``, the
    sample of ``sample_segmented_customers``); and the four pictures, the PNG
    files the catalog saved, embedded. Customer counts come from the profiles,
    which count every customer."""
    spec = FeatureSpec.parse(features)
    numeric, categorical = spec.described_numeric, spec.described_categorical
    labels = labels or {}
    overall = segmented_customers[numeric].mean()
    total = int(segment_profiles["customers"].sum())
    profile_only = set(spec.profile_numeric) - set(spec.numeric)
    highlighted = [c for c in highlight_columns if c in numeric]
    cards = []
    profiles = segment_profiles.set_index("segment")
    for recommendation in segment_recommendations.sort_values("segment").itertuples():
        row = profiles.loc[recommendation.segment]
        by_size = sorted(numeric, key=lambda c: -abs(row[f"{c}_z"]))
        shown = [c for c in by_size if c not in profile_only][:5]
        shown += [c for c in by_size if c in profile_only and c not in highlighted][:3]
        shown += [c for c in highlighted if c not in shown]
        mix = []
        for column in categorical:
            shares = row[[c for c in profiles.columns if c.startswith(f"{column}=")]]
            mix.append(f"{column_label(column, labels)}: {_mix(shares)}")
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
        total=total,
        k=model_selection_metrics["selected_k"],
        warnings=_warnings(model_selection_metrics, segment_recommendations, labels),
        notes=_notes(model_selection_metrics, labels),
        why=_why(model_selection_metrics, total),
        details=_details(model_selection_metrics),
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
