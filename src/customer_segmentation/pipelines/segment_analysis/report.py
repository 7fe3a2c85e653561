"""The self-contained HTML segment report (images embedded), for marketers.
Its layout is the Jinja template ``templates/segment_report.html.j2``; what
each part shows comes from ``report_sections``; the pictures are the PNG
files the catalog saved, read back, never redrawn."""

from __future__ import annotations

import base64

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from customer_segmentation.features import FeatureSpec

from .recommendations import is_ranked
from .report_sections import (
    algorithm_text,
    boundary_text,
    cards,
    criteria_details,
    drift_section,
    made_on_section,
    note_texts,
    outcome_columns,
    rules_section,
    source_section,
    targets_section,
    warning_texts,
    why_k,
)

# The scores of every k the analysts' table shows, those the metrics hold.
_SCORES = ("silhouette", "calinski_harabasz", "davies_bouldin", "stability_mean")


def _scores(metrics: dict) -> tuple[list[str], list[dict]]:
    """The scores the metrics hold, and one row per k with each of them."""
    keys = [key for key in _SCORES if key in metrics["scores"][0]]
    rows = [
        {"k": row["k"], **{key: f"{row[key]:,.2f}" for key in keys}} for row in metrics["scores"]
    ]
    return keys, rows


def _pictures(sizes: bytes, heatmap: bytes, segment_map: bytes, scatter: bytes) -> list[dict]:
    """The four pictures with their titles and captions, embedded as base64."""
    pictures = [
        ("Segment sizes", "Customers in each segment.", sizes),
        (
            "Segment profiles",
            "Red: above the whole customer base; blue: below; numbers are standard deviations.",
            heatmap,
        ),
        (
            "Map of the segments",
            "Customers on the two directions that spread them most; close segments are similar.",
            segment_map,
        ),
        (
            "Two features in original units",
            "Segments overlap here because they differ in all features at once.",
            scatter,
        ),
    ]
    return [
        {"title": title, "caption": caption, "data": base64.b64encode(png).decode("ascii")}
        for title, caption, png in pictures
    ]


def build_segment_report(  # noqa: PLR0913 - the tables, pictures and settings it shows
    segment_profiles: pd.DataFrame,
    segment_recommendations: pd.DataFrame,
    model_selection_metrics: dict,
    segmented_customers: pd.DataFrame,
    segment_sizes_plot: bytes,
    profile_heatmap_plot: bytes,
    segment_map_plot: bytes,
    segment_scatter_plot: bytes,
    drift_report: dict,
    source_summary: dict,
    features: dict,
    labels: dict,
    highlight_columns: list[str],
    segment_rules: dict | None = None,
    min_confidence: float = 0.0,
) -> str:
    """One self-contained HTML page a marketer can open from an email: any
    warning, which columns the segments were made on and which were only
    described (``made_on_section``: sensitive attributes and outcomes
    apart) and how the data was read, in plain words; with outcome columns
    (``features.outcomes``), a table of each segment's outcome rates against
    the whole base, its action and priority; how many customers were
    exported to ``target_customers`` and why, with the caution of
    ``segment_caution`` when the segments are unclear or unstable; why this
    many segments in one sentence, which algorithm drew them and why in
    another (``algorithm_text``), how many customers sit on a boundary
    between segments (``boundary_text``, from the confidences of
    ``segmented_customers``), and the metrics below, for analysts; a
    card per segment in segment order, the numbers the pictures use (name,
    priority, size, its outcome rates, action and reason, and its profile
    against the whole base: the five features it differs most on, with
    z-scores on the clustering's scale, the three most different
    profile-only columns, marked as only described, with z-scores on their
    own spread, and every ``highlight_columns`` column; the whole
    base's means come from ``segmented_customers``, the sample of
    ``sample_segmented_customers``, which also tells the 0/1 flags, shown
    as percents; a missing number is a dash). Priorities are shown only
    when the segments are ranked (``recommendations.is_ranked``: some
    segment's action rests on evidence); otherwise no segment has one;
    the segments as rules (``segment_rules``: on each card, with their
    fidelity, and where their SQL is); the drift against the previous run
    (``drift_report``); where the
    numbers come from (``source_summary``: the raw table's or the
    transaction log's summary); and the four pictures, the PNG files the
    catalog saved, embedded. Customer counts come from the profiles, which
    count every customer."""
    spec = FeatureSpec.parse(features)
    labels = labels or {}
    metrics = model_selection_metrics
    total = int(segment_profiles["customers"].sum())
    rates, outcomes = outcome_columns(segment_profiles, features, spec, labels)
    score_keys, scores = _scores(metrics)
    segment_cards = cards(
        segment_profiles,
        segment_recommendations,
        segmented_customers,
        spec,
        rates,
        outcomes,
        labels,
        highlight_columns,
    )
    environment = Environment(
        loader=PackageLoader(__package__, "templates"), autoescape=select_autoescape(default=True)
    )
    return environment.get_template("segment_report.html.j2").render(
        total=total,
        k=metrics["selected_k"],
        warnings=warning_texts(metrics, segment_recommendations, segment_profiles, spec, labels),
        made_on=made_on_section(spec, segmented_customers, labels),
        notes=note_texts(metrics, labels),
        outcomes=outcomes,
        # With no action resting on data anywhere, the report says so once at
        # the top instead of repeating the catch-all action on every card.
        ranked=is_ranked(segment_recommendations),
        targets=targets_section(segment_recommendations, total, metrics),
        why=why_k(metrics, total),
        algorithm=algorithm_text(metrics),
        boundary=boundary_text(segmented_customers, metrics, total, min_confidence),
        details=criteria_details(metrics),
        score_columns=[key.replace("_", " ") for key in score_keys],
        score_keys=score_keys,
        scores=scores,
        cards=segment_cards,
        # The footnote explains the mark of profile-only rows only where a card shows one.
        described_shown=any(
            item["described"] for card in segment_cards for item in card["profile"]
        ),
        drift=drift_section(drift_report),
        rules=rules_section(segment_rules),
        source=source_section(source_summary),
        pictures=_pictures(
            segment_sizes_plot, profile_heatmap_plot, segment_map_plot, segment_scatter_plot
        ),
    )
