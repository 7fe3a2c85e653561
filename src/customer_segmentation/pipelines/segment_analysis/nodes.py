"""Nodes of the segment_analysis pipeline: join every customer to the
segment the fit gave it, profile and name the segments, recommend an action
per segment and export the customers to target. Pictures are in
``plots.py``, drift against the previous run in ``drift.py`` and the HTML
report in ``report.py``."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec, key_column

logger = logging.getLogger(__name__)


def segment_customers(
    validated_customers: pd.DataFrame, customer_segments: pd.DataFrame, id_column: str
) -> pd.DataFrame:
    """The validated customers with their ``segment`` column: the one table
    that profiles, pictures and drift read. Every customer must have a
    segment (the model and the customers come from the same run's lineage)."""
    id_column = key_column(id_column)
    ids = validated_customers[id_column].reset_index(drop=True)
    if ids.equals(customer_segments[id_column].reset_index(drop=True)):
        # The usual case: both in the order of the validated table, so the
        # join by id is a column assignment.
        return validated_customers.assign(segment=customer_segments["segment"].to_numpy("int64"))
    segmented = validated_customers.merge(
        customer_segments[[id_column, "segment"]], on=id_column, how="left", validate="one_to_one"
    )
    unassigned = segmented["segment"].isna()
    if unassigned.any():
        raise ValueError(
            f"{int(unassigned.sum())} customers have no segment in customer_segments "
            f"(first {id_column}: {segmented.loc[unassigned, id_column].iloc[0]}); "
            "validated_customers and customer_segments come from different runs"
        )
    return segmented.astype({"segment": "int64"})


def column_label(column: str, labels: dict) -> str:
    return labels.get(column, column.replace("_", " "))


def name_segments(profiles: pd.DataFrame, naming: dict, features: dict) -> pd.Series:
    """Names each segment after the (at most ``max_terms``) naming features on
    which it differs most from the whole customer base, where that difference
    is at least ``threshold`` standard deviations: "High income, low activity".
    A segment with no such feature is "Typical customers". Names are unique:
    clashing names take further terms, and finally the segment number."""
    numeric = FeatureSpec.parse(features).numeric
    columns = [c for c in (naming.get("features") or numeric) if f"{c}_z" in profiles]
    labels = naming.get("labels") or {}
    names = {}
    for segment, row in profiles.set_index("segment").iterrows():
        z = row[[f"{c}_z" for c in columns]].astype(float)
        z.index = columns
        ranked = z[z.abs() >= naming["threshold"]].abs().sort_values(ascending=False).index
        terms = [f"{'high' if z[c] > 0 else 'low'} {column_label(c, labels)}" for c in ranked]
        names[segment] = terms

    def sentence(parts: list[str]) -> str:
        text = ", ".join(parts) or "typical customers"
        return text[0].upper() + text[1:]

    chosen: dict[int, str] = {}
    for segment, terms in names.items():
        count = naming["max_terms"]
        name = sentence(terms[:count])
        while name in chosen.values() and count < len(terms):
            count += 1
            name = sentence(terms[:count])
        if name in chosen.values():
            name = f"{name} (segment {segment})"
        chosen[segment] = name
    return pd.Series(chosen, name="name")


def _category_mix(
    segments: np.ndarray, values: pd.Series, fixed: list | None, max_categories: int
) -> pd.DataFrame:
    """Share of each segment (a row, in segment order) in each category of
    ``values`` (missing values count as "missing"): the ``fixed`` categories
    of a feature (other values are in no column), or the ``max_categories``
    most common values with the rest as "other". Counted with one
    ``bincount``, as a crosstab of a million text values is slow."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = [*map(str, uniques), segmentation.MISSING]
    codes = np.where(codes < 0, len(uniques), codes)
    k = int(segments.max()) + 1
    counts = np.bincount(segments * len(labels) + codes, minlength=k * len(labels))
    counts = pd.DataFrame(counts.reshape(k, len(labels)), columns=labels)
    counts = counts.loc[:, counts.sum() > 0]
    members = counts.sum(axis=1).replace(0, 1)
    if fixed is not None:
        counts = counts.reindex(columns=[str(c) for c in fixed], fill_value=0).set_axis(
            fixed, axis=1
        )
    else:
        common = counts.sum().sort_values(ascending=False, kind="stable").index[:max_categories]
        rest = counts.drop(columns=common).sum(axis=1)
        counts = counts[list(common)]
        if rest.any():
            counts[segmentation.OTHER] = rest
    return counts.div(members, axis=0)


def profile_segments(
    segmented_customers: pd.DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    naming: dict,
) -> pd.DataFrame:
    """Describes each segment: its name, size and share of customers; the mean
    (under the column's own name), median and z-score (difference of the mean
    from the whole customer base, in standard deviations) of every numeric
    feature and profile-only column in original units; and the mix of every
    categorical column (share of the segment in each category; profile-only
    columns keep their ``max_categories`` most common values, the rest is
    "other"), with the fingerprint of the model that made the segments."""
    spec = FeatureSpec.parse(features)
    numeric, categorical = spec.described_numeric, spec.described_categorical
    segmented = segmented_customers
    grouped = segmented.groupby("segment")
    profile = pd.DataFrame({"customers": grouped.size()})
    profile["share"] = profile["customers"] / len(segmented)
    means = grouped[numeric].mean()
    spread = segmented[numeric].std(ddof=0).replace(0, float("nan"))
    z_scores = ((means - segmented[numeric].mean()) / spread).fillna(0.0)
    profile = profile.join(means).join(grouped[numeric].median().add_suffix("_median"))
    profile = profile.join(z_scores.add_suffix("_z"))
    for column in categorical:
        fixed = list(spec.pinned[column]) if column in spec.pinned else None
        mix = _category_mix(
            segmented["segment"].to_numpy(), segmented[column], fixed, naming["max_categories"]
        )
        profile = profile.join(mix.set_axis(profile.index).add_prefix(f"{column}="))
    profile = profile.reset_index()
    profile.insert(1, "name", profile["segment"].map(name_segments(profile, naming, features)))
    profile["model_fingerprint"] = segmentation.fingerprint(segmentation_model)
    return profile


_OPERATORS = {">=": float.__ge__, "<=": float.__le__, ">": float.__gt__, "<": float.__lt__}


def _condition(text: str) -> tuple[str, float]:
    for symbol in (">=", "<=", ">", "<"):
        if str(text).strip().startswith(symbol):
            return symbol, float(str(text).strip()[len(symbol) :])
    raise ValueError(
        f"segment_analysis.recommendations rule condition '{text}' must be an operator "
        "(>=, <=, >, <) and a number of standard deviations, for example '>= 0.5'"
    )


def _value_scores(profiles: pd.DataFrame, weights: dict, features: dict) -> pd.Series:
    """Customer value of each segment: the weighted sum of its z-scores on the
    value columns present in the data (all numeric features, equally, when none is)."""
    present = {c: w for c, w in weights.items() if f"{c}_z" in profiles}
    if not present:
        logger.info(
            "segment_analysis.recommendations.value_weights names none of this data's "
            "columns; customer value is the mean z-score of all numeric features"
        )
        numeric = FeatureSpec.parse(features).numeric
        present = {c: 1.0 / len(numeric) for c in numeric}
    return sum(profiles[f"{c}_z"] * w for c, w in present.items())


def recommend_actions(
    segment_profiles: pd.DataFrame, recommendations: dict, features: dict, naming: dict
) -> pd.DataFrame:
    """Ranks segments by customer value (``priority`` 1 = most valuable to act
    on) and gives each the action of the first rule whose conditions it meets,
    with the reason in one sentence. Conditions compare the segment's z-score
    on a column, or its ``value``, with a number of standard deviations; a rule
    that names a column the data lacks never matches."""
    profiles = segment_profiles.copy()
    profiles["value"] = _value_scores(profiles, recommendations["value_weights"], features)
    labels = naming.get("labels") or {}
    rows = []
    for _, segment in profiles.iterrows():
        for rule in recommendations["rules"]:
            conditions = rule.get("when") or {}
            details, matched = [], True
            for column, text in conditions.items():
                symbol, threshold = _condition(text)
                key = "value" if column == "value" else f"{column}_z"
                if key not in segment or not _OPERATORS[symbol](float(segment[key]), threshold):
                    matched = False
                    break
                label = "customer value" if column == "value" else column_label(column, labels)
                details.append(f"{label} {float(segment[key]):+.1f} SD")
            if matched:
                break
        else:
            raise ValueError(
                f"No segment_analysis.recommendations rule matches segment {segment['segment']}; "
                "end the rules with one that has no conditions (when: {})"
            )
        evidence = ", ".join(details) or f"customer value {segment['value']:+.1f} SD"
        rows.append(
            {
                "segment": int(segment["segment"]),
                "name": segment["name"],
                "customers": int(segment["customers"]),
                "share": float(segment["share"]),
                "value": float(segment["value"]),
                "action": rule["action"],
                "reason": f"{rule['why']} ({evidence} against all customers).",
            }
        )
    table = pd.DataFrame(rows)
    table["priority"] = table["value"].rank(ascending=False, method="first").astype(int)
    columns = ["priority", "segment", "name", "customers", "share", "value", "action", "reason"]
    return table[columns].sort_values("priority").reset_index(drop=True)


def select_target_customers(
    customer_segments: pd.DataFrame,
    segment_recommendations: pd.DataFrame,
    id_column: str,
    targeting: dict,
) -> pd.DataFrame:
    """The customers of the segments chosen for a campaign, one row each, ready
    for a CRM upload: the segments listed in ``segments`` or, when that is
    empty, those with ``priority`` up to ``top_priorities``."""
    id_column = key_column(id_column)
    chosen = (
        targeting.get("segments")
        or segment_recommendations.loc[
            segment_recommendations["priority"] <= targeting["top_priorities"], "segment"
        ].tolist()
    )
    unknown = set(chosen) - set(segment_recommendations["segment"])
    if unknown:
        raise ValueError(
            f"segment_analysis.targeting.segments names {sorted(unknown)}, which are not "
            f"segments of this run (0 to {len(segment_recommendations) - 1})"
        )
    details = segment_recommendations.set_index("segment")[["name", "action", "priority"]]
    targets = customer_segments[customer_segments["segment"].isin(chosen)]
    targets = targets.join(details, on="segment").rename(columns={"name": "segment_name"})
    logger.info("target_customers: %d customers of segments %s", len(targets), sorted(chosen))
    return targets[[id_column, "segment", "segment_name", "action", "priority"]].reset_index(
        drop=True
    )
