"""The sections of the segment report, each as the data its part of the
template (``templates/segment_report.html.j2``) shows, in plain words: the
warnings a reader must not miss, which columns the segments were made on
and which were only described, how the data was read, why this many
segments, which algorithm drew them and how many customers sit on a
boundary, the outcome rates, the targets, a card per segment, the drift
against the previous run and where the numbers come from. ``report``
assembles them into the page; numbers are written by ``figures``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from customer_segmentation.features import VALUE_ROLES, FeatureSpec
from customer_segmentation.figures import (
    money_text,
    number_text,
    percent_text,
    rate_text,
    segment_colour,
    z_text,
)
from customer_segmentation.own_sensitive import sensitive_kind

from .kernels import base_rates, outcome_rates, outcome_table
from .names import column_label
from .recommendations import is_ranked
from .targets import stability_number

# A category is "mostly" a segment's only when its share, as shown (whole
# percents), is above this: 50.4% reads "50%", which is no majority.
MOSTLY = 0.55
# Hennig's reading of a segment's bootstrap Jaccard (its stability): under
# DISSOLVED it dissolves on resampled customers; from STABLE on it is stable.
DISSOLVED, STABLE = 0.5, 0.75


def flag_columns(customers: pd.DataFrame, columns: list[str]) -> set[str]:
    """The ``columns`` that are 0/1 flags in ``customers`` (booleans, or
    numbers whose every known value is 0 or 1): their means are shares of
    customers, shown as percents."""
    flags = set()
    for column in columns:
        values = customers[column].dropna() if column in customers else pd.Series([])
        if values.empty:
            continue
        if pd.api.types.is_bool_dtype(values) or (
            pd.api.types.is_numeric_dtype(values) and values.isin([0, 1]).all()
        ):
            flags.add(column)
    return flags


def stability_text(stability: float, unstable: bool) -> str | None:
    """A segment's stability on its card, in plain words: "Comes back on
    resampled customers: 0.91 (stable)"; for a segment flagged ``unstable``
    (under ``targeting.min_stability``) "...: 0.55: this segment may not
    hold up". None when it was not measured."""
    if pd.isna(stability):
        return None
    shown = f"Comes back on resampled customers: {stability_number(stability)}"
    if unstable:
        return f"{shown}: this segment may not hold up"
    if stability >= STABLE:
        return f"{shown} (stable)"
    if stability >= DISSOLVED:
        return f"{shown} (fairly stable)"
    return f"{shown} (dissolves on resampled customers)"


def segment_caution(metrics: dict | None) -> str | None:
    """Why the segments, and so their targets, need checking before a
    campaign (no clear structure, unstable segments), in words that follow
    "exported, but these segments are"; None when neither applies."""
    metrics = metrics or {}
    doubts = [
        word
        for key, word in (
            ("clear_structure", "clearly separate"),
            ("selected_k_stable", "a stable split as a whole"),
        )
        if metrics.get(key) is False
    ]
    if not doubts:
        return None
    return "not " + " or ".join(doubts) + ": check them before a campaign"


def varies_most(profiles: pd.DataFrame, spec: FeatureSpec) -> str | None:
    """The numeric feature on which the segments differ most (the largest
    size-weighted mean of the segments' squared z-scores), None without one."""
    columns = [c for c in spec.numeric if f"{c}_z" in profiles]
    if not columns:
        return None
    z = profiles[[f"{c}_z" for c in columns]].astype(float).set_axis(columns, axis=1)
    weights = profiles["customers"] / profiles["customers"].sum()
    return str(z.pow(2).mul(weights.to_numpy(), axis=0).sum().idxmax())


def _outcome_ranges(profiles: pd.DataFrame, spec: FeatureSpec, labels: dict) -> str:
    """Each outcome column's lowest and highest segment rate and the whole
    base's: "exited 14% to 18% across segments, all customers 16%"."""
    rates, known = outcome_table(profiles.set_index("segment"), spec)
    base = base_rates(rates, known)
    return "; ".join(
        f"{column_label(column, labels)} {rate_text(rates[column].min())} to "
        f"{rate_text(rates[column].max())} across segments, all customers "
        f"{rate_text(base[column])}"
        for column in rates.columns
    )


def _unranked(profiles: pd.DataFrame, spec: FeatureSpec, labels: dict) -> str:
    """Why no action rests on data, naming only what the data really lacks
    (or, for outcomes it has, how little the segments differ on them), and
    how to add it."""
    value_columns = [c for role in VALUE_ROLES for c in spec.with_role(role)]
    missing, fixes = [], []
    if spec.outcomes:
        missing.append(
            f"the outcome{'s were' if len(spec.outcomes) > 1 else ' was'} compared and no "
            "segment differs enough from all customers for a recommendation rule to hold "
            f"({_outcome_ranges(profiles, spec, labels)})"
        )
    if not value_columns:
        missing.append(
            "no column is marked as spend (monetary) or purchase frequency in features.roles"
        )
        fixes.append(
            "list spend and order-count columns under features.roles monetary and frequency"
        )
    if not spec.outcomes:
        missing.append("no outcome column (churn, campaign response) is named in features.outcomes")
        fixes.append(
            "name a 0/1 or yes/no outcome column in features.outcomes, for example "
            "{Response: {kind: response, positive: 1}}, and under features.profile_only"
        )
    elif value_columns:
        missing.append("no segment is far enough from all customers on spend or frequency either")
    text = "No action can be ranked: " + "; ".join(missing) + "."
    if fixes:
        text += " To rank the segments, " + "; or ".join(fixes) + "."
    return text + " Until then the segments are described, not acted on."


def warning_texts(
    metrics: dict,
    recommendations: pd.DataFrame,
    profiles: pd.DataFrame,
    spec: FeatureSpec,
    labels: dict,
) -> list[str]:
    """What a reader must not miss, in plain words: no clear structure,
    unstable segments, actions or value that cannot be judged, categories
    driving the segments. Every claim about the data names what it has."""
    warnings = []
    if metrics.get("clear_structure") is False:
        widest = varies_most(profiles, spec)
        example = f" (from low to high {column_label(widest, labels)}, say)" if widest else ""
        warnings.append(
            "These customers do not fall into clearly separate groups. The segments are "
            f"useful cuts of a continuum{example}, not distinct kinds "
            "of customer, and customers near a boundary may move between segments from "
            "one run to the next."
        )
    if metrics.get("selected_k_stable") is False:
        warnings.append(
            "Repeating the analysis on resampled customers gives a noticeably different "
            f"split as a whole{_split_agreement(metrics)}: treat the boundaries with caution; "
            "each segment's own stability is on its card."
        )
    unstable = recommendations.sort_values("segment").loc[lambda t: t["unstable"].astype(bool)]
    if len(unstable):
        listed = ", ".join(
            f"{row.segment} ({stability_number(row.stability)})" for row in unstable.itertuples()
        )
        many = len(unstable) > 1
        warnings.append(
            f"Segment{'s' if many else ''} {listed} may not hold up: repeating the analysis "
            f"on resampled customers brings {'them' if many else 'it'} back under "
            f"targeting.min_stability. {'They are' if many else 'It is'} ranked after every "
            "other segment and not exported by priority; treat "
            f"{'them' if many else 'it'} with caution."
        )
    if not is_ranked(recommendations):
        warnings.append(_unranked(profiles, spec, labels))
    elif recommendations["value"].isna().all():
        warnings.append(
            "Customer value cannot be judged: no column is marked as spend (monetary) or "
            "purchase frequency in features.roles, so no segment is called valuable."
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


def _split_agreement(metrics: dict) -> str:
    """The bootstrap agreement of the selected split as a whole and the
    ``min_stability`` it fell under, as " (agreement 0.62, under 0.8)":
    the measure behind ``selected_k_stable``, which is not the per-segment
    stability of the cards. Empty when the metrics lack the agreement."""
    selected = [
        row
        for row in metrics.get("scores") or []
        if row.get("k") == metrics.get("selected_k") and row.get("stability_mean") is not None
    ]
    if not selected:
        return ""
    agreement = stability_number(float(selected[0]["stability_mean"]))
    threshold = ((metrics.get("algorithm") or {}).get("thresholds") or {}).get("min_stability")
    under = "" if threshold is None else f", under {float(threshold):g}"
    return f" (agreement {agreement}{under})"


def made_on_section(spec: FeatureSpec, customers: pd.DataFrame, labels: dict) -> dict:
    """Which columns the segments were made on and which were only
    described, by their labels: the features clustered on; the profile-only
    columns, those ``sensitive_kind`` reads as a sensitive personal
    attribute (by name, or by the values ``customers`` holds) apart, as
    they are never to make segments; and the outcomes, compared between
    segments, never used to make them. The features parameter does not say
    why a column is profile-only, so the others are "described only"."""
    outcomes = set(spec.outcomes)
    described = [c for c in [*spec.profile_numeric, *spec.profile_categorical] if c not in outcomes]
    empty = pd.Series([], dtype=object)
    sensitive = [
        c for c in described if sensitive_kind(c, customers[c] if c in customers else empty)
    ]
    return {
        "made_on": [column_label(c, labels) for c in spec.model_columns],
        "described": [column_label(c, labels) for c in described if c not in sensitive],
        "sensitive": [column_label(c, labels) for c in sensitive],
        "outcomes": [column_label(c, labels) for c in spec.outcomes],
    }


def _clip_points(clip_quantile: float | None) -> str:
    """Where each numeric column was clipped, in words: "the 0.5% and 99.5%
    points" for a ``clip_quantile`` of 0.005."""
    if clip_quantile is None:
        return "fixed extreme quantiles"
    return f"the {100 * clip_quantile:g}% and {100 * (1 - clip_quantile):g}% points"


def note_texts(metrics: dict, labels: dict) -> list[str]:
    """How the data was read, in plain words: skewed columns compared on a
    log scale and values beyond the clipping quantiles held at them."""
    preprocessing = metrics.get("preprocessing") or {}
    notes = []
    transformed = {
        column: chosen["transform"]
        for column, chosen in (preprocessing.get("transforms") or {}).items()
        if chosen["transform"] != "none"
    }
    if transformed:
        notes.append(
            "Skewed columns were compared on a log-like scale, so that ten times more "
            "counts as one step, not as ten: "
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
                    f"{number_text(detail['bound'])}"
                )
        shown = "; ".join(parts[:6]) + (
            f"; and {len(parts) - 6} more (model_selection_metrics.preprocessing.outliers)"
            if len(parts) > 6
            else ""
        )
        notes.append(
            f"Values beyond {_clip_points(preprocessing.get('clip_quantile'))} of each column "
            "were held at those points, so that a few extreme values cannot form a segment "
            f"of their own: {shown}."
        )
    choice = metrics.get("k_choice") or {}
    if choice.get("ineligible_k"):
        notes.append(
            "Splits into "
            + ", ".join(str(k) for k in choice["ineligible_k"])
            + f" segments were not considered: one of their segments would hold fewer than "
            f"{percent_text(choice['min_segment_share'])} of the customers."
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


def why_k(metrics: dict, total: int) -> str:
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


# Under this confidence (membership probability of its own segment) a
# customer sits on a boundary: nearly as likely to belong to another segment.
BOUNDARY_CONFIDENCE = 0.6

# The shape of the segments a mixture's covariance type lets it draw.
_COVARIANCES = {
    "full": "full covariances (segments of any shape and tilt)",
    "diag": "diagonal covariances (segments stretched along the features)",
    "tied": "one shared covariance (segments of one common tilted shape)",
    "spherical": "round components of their own widths",
}


def algorithm_text(metrics: dict) -> str | None:
    """Which algorithm drew the segments and why, in one plain sentence,
    from ``model_selection_metrics["algorithm"]`` (``choose_algorithm``):
    the Gaussian mixture with the evidence that it fits these customers
    better than round segments and comes back on resampled customers, or
    KMeans with the test the mixture failed. None for metrics without the
    choice (an older run)."""
    choice = metrics.get("algorithm")
    if not choice:
        return None
    mixture = choice.get("gaussian_mixture") or {}
    shape = _COVARIANCES.get(mixture.get("covariance_type"), "its own covariances")
    thresholds = choice.get("thresholds") or {}
    reason = choice.get("reason")
    if reason == "forced":
        if choice["chosen"] == "gaussian_mixture":
            return (
                f"The segments come from a Gaussian mixture with {shape}, as set in "
                "model_selection.algorithm."
            )
        return (
            "The segments come from KMeans (round segments), as set in model_selection.algorithm."
        )
    if choice["chosen"] == "gaussian_mixture":
        return (
            f"The segments come from a Gaussian mixture with {shape}: it fits these customers "
            "clearly better than round segments (BIC better by "
            f"{mixture['bic_gain_over_spherical_per_1000']:,.0f} per 1,000 customers) and comes "
            f"back on resampled customers ({mixture['stability']:.2f}); KMeans would draw round "
            "segments."
        )
    kept = {
        "round": (
            "a Gaussian mixture fits these customers hardly better than round segments "
            f"(BIC better by {mixture.get('bic_gain_over_spherical_per_1000', 0):,.1f} per 1,000 "
            f"customers, under {thresholds.get('min_bic_gain_per_1000', 0):,.0f}), and KMeans is "
            "the simpler model to explain"
        ),
        "not_reproducible": (
            f"a Gaussian mixture with {shape} fits these customers better than round segments "
            "but does not come back on resampled customers "
            f"({mixture.get('stability', float('nan')):.2f}, under "
            f"{thresholds.get('min_stability', 0):.2f})"
        ),
        "small_component": (
            f"a Gaussian mixture with {shape} fits these customers better than round segments "
            f"but one of its segments would hold only "
            f"{percent_text(mixture.get('smallest_share', 0))} of them (under "
            f"{percent_text(thresholds.get('min_segment_share', 0))})"
        ),
        "less_separated": (
            f"a Gaussian mixture with {shape} fits these customers better than round segments "
            "but its segments are less distinct than KMeans's (silhouette "
            f"{mixture.get('silhouette', float('nan')):.2f} against "
            f"{(choice.get('kmeans') or {}).get('silhouette', float('nan')):.2f})"
        ),
    }
    why = kept.get(reason, choice.get("rule") or "KMeans was kept")
    return f"The segments come from KMeans (round segments): {why}."


def _confidence_filter(min_confidence: float) -> str:
    """What ``target_customers`` does with customers of low confidence."""
    if min_confidence > 0:
        return (
            "target_customers leaves out those under "
            f"segment_analysis.targeting.min_confidence ({min_confidence:g})."
        )
    return (
        "target_customers includes them, as segment_analysis.targeting.min_confidence is 0: "
        f"set it (to {BOUNDARY_CONFIDENCE}, say) to leave such customers out."
    )


def boundary_text(
    segmented_customers: pd.DataFrame, metrics: dict, total: int, min_confidence: float = 0.0
) -> str | None:
    """How many customers sit on a boundary between segments (confidence
    under ``BOUNDARY_CONFIDENCE``), with their share, what confidence
    means for the deployed algorithm and whether ``target_customers`` leaves
    them out (``targeting.min_confidence``), from the report's sample of
    segmented customers (``segmented_customers``: every customer up to the
    sample size). None without confidences (a model saved before them)."""
    if "confidence" not in segmented_customers.columns:
        return None
    confidence = segmented_customers["confidence"].dropna()
    if confidence.empty:
        return None
    boundary = int((confidence < BOUNDARY_CONFIDENCE).sum())
    share = percent_text(boundary / len(confidence))
    mixture = (metrics.get("algorithm") or {}).get("chosen") == "gaussian_mixture"
    meaning = (
        "the mixture's probability that the customer belongs to its segment"
        if mixture
        else "how much nearer the customer is to its segment's centre than to the others', "
        "as a probability (0.5: half-way between two segments)"
    )
    counted = (
        f"{boundary:,} of the {total:,} customers ({share})"
        if len(confidence) == total
        else f"About {share} of the customers ({boundary:,} of a sample of {len(confidence):,})"
    )
    verb = "sits" if boundary == 1 and len(confidence) == total else "sit"
    return (
        f"{counted[:1].upper()}{counted[1:]} {verb} on a boundary between segments: their "
        f"confidence, {meaning}, is under {BOUNDARY_CONFIDENCE}; "
        + _confidence_filter(min_confidence)
    )


def criteria_details(metrics: dict) -> str:
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
    """A categorical column's mix in a segment: "mostly X" only for a clear
    majority as shown (above ``MOSTLY``), else its largest group."""
    top = shares.astype(float).idxmax()
    value = top.split("=", 1)[1]
    word = "mostly" if round(float(shares[top]), 2) > MOSTLY else "largest group"
    return f"{word} {value} ({shares[top]:.0%})"


def outcome_columns(
    segment_profiles: pd.DataFrame, features: dict, spec: FeatureSpec, labels: dict
) -> tuple[pd.DataFrame, list[dict]]:
    """Each segment's outcome rates (``outcome_rates``) and, per outcome
    column, its words and the whole base's rate."""
    if not spec.outcomes:
        return pd.DataFrame(index=segment_profiles["segment"]), []
    rates, base = outcome_rates(segment_profiles, features)
    columns = [
        {"column": column, "label": column_label(column, labels), "base": rate_text(base[column])}
        for column in rates.columns
    ]
    return rates, columns


def targets_section(recommendations: pd.DataFrame, total: int, metrics: dict) -> dict:
    """How many customers were exported to target_customers, their share of
    all customers, the caution when the segments themselves are doubtful
    (``segment_caution``), and why each segment was or was not."""
    ordered = recommendations.sort_values("segment")
    exported = int(ordered.loc[ordered["targeted"], "customers"].sum())
    return {
        "customers": exported,
        "share": percent_text(exported / total) if total else "0%",
        "caution": segment_caution(metrics),
        "segments": ordered.loc[ordered["targeted"], "segment"].tolist(),
        "reasons": [
            {"segment": row.segment, "name": row.name, "targeting": row.targeting}
            for row in ordered.itertuples()
        ],
    }


def drift_section(drift_report: dict) -> dict | None:
    """The drift against the previous run (``measure_drift``) as the report
    shows it: one row per measure with its threshold, and a plain verdict;
    None on a first run; when the previous run clustered on other features,
    what changed instead (``_incomparable_drift``)."""
    if "psi" not in drift_report:
        return None
    if drift_report.get("comparable") is False:
        return _incomparable_drift(drift_report)
    thresholds = drift_report["thresholds"]
    moved = max(drift_report["segments"], key=lambda s: s["centre_shift_sd"], default=None)
    where = f" (segment {moved['segment']}, was {moved['previous_segment']})" if moved else ""
    ari = drift_report["ari"]
    rows = [
        {
            "measure": "Shift of segment shares (PSI)",
            "value": f"{drift_report['psi']:.3f}",
            "limit": f"at most {thresholds['max_psi']}",
            "ok": drift_report["psi"] <= thresholds["max_psi"],
        },
        {
            "measure": "Largest move of a segment centre",
            "value": f"{drift_report['max_centre_shift_sd']:.2f} SD{where}",
            "limit": f"at most {thresholds['max_centre_shift_sd']} SD",
            "ok": drift_report["max_centre_shift_sd"] <= thresholds["max_centre_shift_sd"],
        },
        {
            "measure": "Agreement of the old and new model on today's customers (ARI)",
            "value": (
                f"{ari:.2f}"
                if ari is not None
                else drift_report.get("ari_note") or "cannot be measured: the features changed"
            ),
            "limit": f"at least {thresholds['min_ari']}",
            "ok": ari is not None and ari >= thresholds["min_ari"],
        },
    ]
    if drift_report["drifted"]:
        verdict = (
            "Changed since the previous run: "
            + "; ".join(drift_report["breaches"])
            + ". Check the segments before reusing last run's campaigns or target lists."
        )
    else:
        measured = f"PSI {drift_report['psi']:.3f}" + ("" if ari is None else f", ARI {ari:.2f}")
        verdict = f"Stable: the segments are much as in the previous run ({measured})."
    return {
        "previous": drift_report["previous_version"],
        "before": drift_report["segments_before"],
        "now": drift_report["segments_now"],
        "rows": rows,
        "verdict": verdict,
    }


def _incomparable_drift(drift_report: dict) -> dict:
    """The drift section when the previous run clustered on other features:
    one row naming the features added and removed, beyond what can be
    compared, and a verdict that says the runs are not compared (the shares
    and centres of segments made from other columns are no drift), with the
    measures for the curious."""
    changes = "; ".join(
        f"{label} {', '.join(columns)}"
        for label, columns in (
            ("added", drift_report.get("features_added") or []),
            ("removed", drift_report.get("features_removed") or []),
        )
        if columns
    )
    ari = drift_report["ari"]
    measured = f"PSI {drift_report['psi']:.3f}" + ("" if ari is None else f", ARI {ari:.2f}")
    return {
        "previous": drift_report["previous_version"],
        "before": drift_report["segments_before"],
        "now": drift_report["segments_now"],
        "rows": [
            {
                "measure": "Features clustered on",
                "value": changes[:1].upper() + changes[1:],  # column names keep their case
                "limit": "the same as in the previous run",
                "ok": False,
            }
        ],
        "verdict": (
            f"Not comparable with the previous run: it clustered on other features ({changes}), so"
            " these are new segments, not drifted ones, and no threshold was "
            f"checked ({measured} compare different segmentations). The next run with "
            "the same features is compared again."
        ),
    }


def source_section(source_summary: dict) -> dict:
    """Where the numbers come from: for a transaction log (its summary has
    ``revenue``), the lines read, the lines and value each cleaning rule
    removed and the revenue kept; for a customer table, the rows read."""
    digest = source_summary.get("sha256") or source_summary.get("xxhash64_sum") or ""
    source = {"rows": f"{source_summary['rows']:,}", "hash": digest[:12]}
    if "revenue" not in source_summary:
        return source
    # A log without amounts: lines only, no value (revenue null).
    revenue = source_summary["revenue"] or dict.fromkeys(("gross", "returns", "net"))
    return {
        **source,
        "purchase_lines": f"{source_summary.get('purchase_lines', 0):,}",
        "rules": [
            {
                "description": rule["description"][0].upper() + rule["description"][1:],
                "lines": f"{rule['lines']:,}",
                "value": money_text(rule["value"]),
            }
            for rule in source_summary["rules"]
            if rule["lines"]
        ],
        "gross": money_text(revenue["gross"]),
        "returns": ("\u2212" if revenue["returns"] else "") + money_text(revenue["returns"]),
        "net": money_text(revenue["net"]),
    }


def _shown_columns(
    row: pd.Series, numeric: list[str], profile_only: set[str], highlighted: list[str]
) -> list[str]:
    """The columns a segment's card shows: the five features it differs most
    on, the three most different profile-only columns and every highlighted
    column (a missing z-score, of a column no customer of the segment has,
    sorts last)."""
    by_size = sorted(numeric, key=lambda c: -abs(np.nan_to_num(float(row[f"{c}_z"]))))
    shown = [c for c in by_size if c not in profile_only][:5]
    shown += [c for c in by_size if c in profile_only and c not in highlighted][:3]
    return shown + [c for c in highlighted if c not in shown]


def _profile(  # noqa: PLR0913 - the row, its columns and how to show them
    row: pd.Series,
    columns: list[str],
    overall: pd.Series,
    flags: set[str],
    profile_only: set[str],
    labels: dict,
) -> list[dict]:
    """A card's profile rows: each column's label, the segment's mean, the
    whole base's mean, the segment's z-score, and whether the column was
    only described (profile-only: its z-score is on its own spread in
    original units, not on the scale the segments were made on)."""
    return [
        {
            "label": column_label(c, labels),
            "mean": number_text(row[c], c, c in flags),
            "overall": number_text(overall[c], c, c in flags),
            "z": z_text(row[f"{c}_z"]),
            "described": c in profile_only,
        }
        for c in columns
    ]


def cards(  # noqa: PLR0913 - the tables and settings a card reads
    segment_profiles: pd.DataFrame,
    segment_recommendations: pd.DataFrame,
    segmented_customers: pd.DataFrame,
    spec: FeatureSpec,
    rates: pd.DataFrame,
    outcomes: list[dict],
    labels: dict,
    highlight_columns: list[str],
) -> list[dict]:
    """A card per segment, in segment order: name, priority, size, its
    stability (``stability_text``, flagged when unstable), outcome rates,
    action and reason, and its profile against the whole base (whose
    means come from ``segmented_customers``, which also tells the 0/1 flags,
    shown as percents) and the mix of each categorical column, those of
    the features apart from those of columns only described (profile-only),
    whose profile rows are marked as such."""
    outcome_names = set(spec.outcomes)
    numeric = [c for c in spec.described_numeric if c not in outcome_names]
    categorical = [c for c in spec.described_categorical if c not in outcome_names]
    overall = segmented_customers[numeric].mean()
    flags = flag_columns(segmented_customers, numeric)
    profile_only = set(spec.described_numeric + spec.described_categorical) - set(
        spec.model_columns
    )
    highlighted = [c for c in highlight_columns if c in numeric]
    profiles = segment_profiles.set_index("segment")
    result = []
    for recommendation in segment_recommendations.sort_values("segment").itertuples():
        row = profiles.loc[recommendation.segment]
        segment_rates = [
            rate_text(rates.loc[recommendation.segment, o["column"]]) for o in outcomes
        ]
        mix = {
            column: f"{column_label(column, labels)}: "
            + _mix(row[[c for c in profiles.columns if c.startswith(f"{column}=")]])
            for column in categorical
        }
        result.append(
            {
                "priority": recommendation.priority,
                "segment": recommendation.segment,
                "name": recommendation.name,
                "customers": recommendation.customers,
                "share": f"{recommendation.share:.0%}",
                "outcomes": "; ".join(
                    f"{o['label']} {rate} (all customers {o['base']})"
                    for o, rate in zip(outcomes, segment_rates, strict=True)
                ),
                "rates": segment_rates,
                "action": recommendation.action[0].upper() + recommendation.action[1:],
                "reason": recommendation.reason,
                "targeted": bool(recommendation.targeted),
                "unstable": bool(recommendation.unstable),
                "stability": stability_text(recommendation.stability, recommendation.unstable),
                "colour": to_hex(segment_colour(recommendation.segment)),
                "profile": _profile(
                    row,
                    _shown_columns(row, numeric, profile_only, highlighted),
                    overall,
                    flags,
                    profile_only,
                    labels,
                ),
                "mix": "; ".join(v for c, v in mix.items() if c not in profile_only),
                "described_mix": "; ".join(v for c, v in mix.items() if c in profile_only),
            }
        )
    return result


def rules_section(segment_rules: dict | None) -> dict | None:
    """The segments as rules (``fit_segment_rules``) as the report shows
    them: the overall fidelity and on whom it was measured, and per segment
    (by number) its rules, one line per rule, with their fidelity; None
    without rules."""
    if not segment_rules or segment_rules.get("fidelity") is None:
        return None
    return {
        "fidelity": percent_text(segment_rules["fidelity"]),
        "measured_on": segment_rules["measured_on"],
        "customers": f"{segment_rules['customers_measured']:,}",
        "segments": {
            int(segment["segment"]): {
                "lines": segment["rules"],
                "fidelity": rate_text(segment["fidelity"]),
            }
            for segment in segment_rules["segments"]
        },
    }
