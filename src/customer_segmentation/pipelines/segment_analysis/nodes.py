"""Nodes of the segment_analysis pipeline: join every customer to the
segment the fit gave it, profile and name the segments, recommend an action
per segment and export the customers to target. Pictures are in
``plots.py``, drift against the previous run in ``drift.py`` and the HTML
report in ``report.py``."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import ROLES, VALUE_ROLES, FeatureSpec, key_column
from customer_segmentation.spark import is_spark

logger = logging.getLogger(__name__)


def segment_customers(
    validated_customers: pd.DataFrame, customer_segments: pd.DataFrame, id_column: str
) -> pd.DataFrame:
    """The validated customers with their ``segment`` column: the one table
    that profiles, pictures and drift read. Every customer must have a
    segment (the model and the customers come from the same run's lineage)."""
    id_column = key_column(id_column)
    if is_spark(validated_customers):
        from . import spark_nodes  # noqa: PLC0415

        return spark_nodes.segment_customers(validated_customers, customer_segments, id_column)
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


def sample_segmented_customers(
    segmented_customers: pd.DataFrame, sample_size: int, id_column: str, random_seed: int
) -> pd.DataFrame:
    """At most ``sample_size`` segmented customers (all of them below; beyond,
    a seeded random sample) for the pictures, drift and the report: what they
    show costs the same at ten thousand customers as at ten million, on one
    machine or on Spark. Counts and profiles always come from every customer."""
    if is_spark(segmented_customers):
        from customer_segmentation.spark import collect_sample  # noqa: PLC0415

        return collect_sample(segmented_customers, sample_size, random_seed, key_column(id_column))[
            0
        ]
    if len(segmented_customers) <= sample_size:
        return segmented_customers
    return segmented_customers.sample(sample_size, random_state=random_seed)


def column_label(column: str, labels: dict) -> str:
    """The words for a column: its ``naming.labels`` entry, or its name in
    lower-case words ("MntMeatProducts" and "mnt_meat_products" both read
    "mnt meat products"; acronyms such as "ID" stay as they are)."""
    if column in labels:
        return labels[column]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", column.replace("_", " ")).split()
    return " ".join(word if word.isupper() and len(word) > 1 else word.lower() for word in words)


def _category_terms(profiles: pd.DataFrame, columns: list[str], labels: dict) -> pd.DataFrame:
    """For each segment (a row) and category of the ``columns`` (a column
    ``column=value``), the z-score of the segment's share against the whole
    base's share p, ``(share - p) / sqrt(p (1 - p))`` (the z-score of the
    category's 0/1 indicator, comparable with numeric z-scores), kept only
    where the segment is mostly that category (share above one half).
    "other" and "missing" never name a segment."""
    weights = profiles["customers"] / profiles["customers"].sum()
    terms = {}
    for name in profiles.columns:
        column, _, value = name.partition("=")
        if column not in columns or value in (segmentation.OTHER, segmentation.MISSING):
            continue
        shares = profiles[name].astype(float)
        base = float((shares * weights).sum())
        if not 0 < base < 1:
            continue
        z = (shares - base) / np.sqrt(base * (1 - base))
        label = labels.get(name, f"{column_label(column, labels)} {value}")
        terms[label] = z.where(shares > 0.5)
    return pd.DataFrame(terms, index=profiles.index)


def name_segments(profiles: pd.DataFrame, naming: dict, features: dict) -> pd.Series:
    """Names each segment after the (at most ``max_terms``) naming features on
    which it differs most from the whole customer base, numeric and
    categorical alike, where that difference is at least ``threshold``
    standard deviations: "High income, low activity", "Marital status
    Single, low income". Numeric features compare on the scale the
    clustering used (their ``_z`` columns); a categorical feature names a
    segment by the category most of it has (``_category_terms``). A segment
    with no such feature is "Typical customers". Names are unique: clashing
    names take further terms, and finally the segment number."""
    spec = FeatureSpec.parse(features)
    columns = naming.get("features") or spec.model_columns
    labels = naming.get("labels") or {}
    profiles = profiles.set_index("segment")
    numeric = [c for c in columns if f"{c}_z" in profiles]
    numeric_z = profiles[[f"{c}_z" for c in numeric]].astype(float).set_axis(numeric, axis=1)
    categorical_z = _category_terms(profiles, columns, labels)
    names = {}
    for segment in profiles.index:
        candidates = {
            f"{'high' if z > 0 else 'low'} {column_label(c, labels)}": abs(z)
            for c, z in numeric_z.loc[segment].items()
        }
        candidates.update(categorical_z.loc[segment].dropna().to_dict())
        ranked = sorted(
            (term for term, z in candidates.items() if z >= naming["threshold"]),
            key=lambda term: -candidates[term],
        )
        names[segment] = ranked

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


def _category_counts(segments: np.ndarray, values: pd.Series) -> pd.DataFrame:
    """Customers of each segment (a row, in segment order) in each value of
    ``values`` (a column, in order of first appearance; missing values as
    "missing"). Counted with one ``bincount``, as a crosstab of a million
    text values is slow."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = [*map(str, uniques), segmentation.MISSING]
    codes = np.where(codes < 0, len(uniques), codes)
    k = int(segments.max()) + 1
    counts = np.bincount(segments * len(labels) + codes, minlength=k * len(labels))
    counts = pd.DataFrame(counts.reshape(k, len(labels)), columns=labels)
    return counts.loc[:, counts.sum() > 0]


def category_mix(counts: pd.DataFrame, fixed: list | None, max_categories: int) -> pd.DataFrame:
    """Share of each segment (a row) in each category, from ``counts``
    (``_category_counts``): the ``fixed`` categories of a feature (other
    values are in no column), or the ``max_categories`` most common values
    with the rest as "other"."""
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
    (under the column's own name) and median of every numeric feature and
    profile-only column in original units, and its z-score (``_z``: the
    difference of the segment's mean from the whole customer base's, in
    standard deviations). A feature's z-score is measured on the scale the
    clustering used (after its log or power transform and clipping), so a
    segment with six times the median spend reads as far from the base even
    when a few giants inflate the raw spread; profile-only columns use their
    original units. Then the mix of every categorical column (share of the
    segment in each category; profile-only columns keep their
    ``max_categories`` most common values, the rest is "other"), and the
    fingerprint of the model that made the segments."""
    spec = FeatureSpec.parse(features)
    if is_spark(segmented_customers):
        from . import spark_nodes  # noqa: PLC0415

        statistics = spark_nodes.segment_statistics(segmented_customers, segmentation_model, spec)
    else:
        statistics = segment_statistics(segmented_customers, segmentation_model, spec)
    return assemble_profiles(*statistics, segmentation_model, spec, features, naming)


def segment_statistics(
    segmented: pd.DataFrame, segmentation_model: Pipeline, spec: FeatureSpec
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """What profiles are made of, per segment (the index): customers; mean
    and median of every described numeric column; its z-score on the
    clustering's scale (``profile_segments``); the customers in each value
    of every described categorical column (``_category_counts``)."""
    numeric, categorical = spec.described_numeric, spec.described_categorical
    grouped = segmented.groupby("segment")
    customers = grouped.size()
    means = grouped[numeric].mean()
    medians = grouped[numeric].median()
    features_scaled = segmentation.scaled_numeric(segmentation_model, segmented[list(spec.numeric)])
    scale = segmented[numeric].assign(**{c: features_scaled[c] for c in spec.numeric})
    spread = scale.std(ddof=0).replace(0, float("nan"))
    z_scores = ((scale.groupby(segmented["segment"]).mean() - scale.mean()) / spread).fillna(0.0)
    counts = {
        column: _category_counts(segmented["segment"].to_numpy(), segmented[column])
        for column in categorical
    }
    return customers, means, medians, z_scores, counts


def assemble_profiles(  # noqa: PLR0913 - the statistics, the model and the settings
    customers: pd.Series,
    means: pd.DataFrame,
    medians: pd.DataFrame,
    z_scores: pd.DataFrame,
    category_counts: dict[str, pd.DataFrame],
    segmentation_model: Pipeline,
    spec: FeatureSpec,
    features: dict,
    naming: dict,
) -> pd.DataFrame:
    """The profile table from ``segment_statistics`` (whichever engine
    computed them), named by ``name_segments``."""
    profile = pd.DataFrame({"customers": customers})
    profile["share"] = profile["customers"] / profile["customers"].sum()
    profile = profile.join(means).join(medians.add_suffix("_median"))
    profile = profile.join(z_scores.add_suffix("_z"))
    for column in spec.described_categorical:
        fixed = list(spec.pinned[column]) if column in spec.pinned else None
        mix = category_mix(category_counts[column], fixed, naming["max_categories"])
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


# How a role reads in a recommendation's evidence.
ROLE_LABELS = {
    "monetary": "spend",
    "frequency": "purchase frequency",
    "recency": "days since last purchase",
    "tenure": "tenure",
    "demographic": "demographics",
}


def role_scores(profiles: pd.DataFrame, features: dict) -> pd.DataFrame:
    """Each segment's score on each role the data has: the mean z-score of
    the columns that play it (``features.roles``), and its ``value``: the
    mean of its monetary and frequency scores, NaN when the data has neither
    (demographic columns, tenure and recency never make a segment valuable)."""
    spec = FeatureSpec.parse(features)
    scores = pd.DataFrame(index=profiles.index)
    for role in ROLES:
        columns = [c for c in spec.with_role(role) if f"{c}_z" in profiles]
        if columns:
            scores[role] = profiles[[f"{c}_z" for c in columns]].astype(float).mean(axis=1)
    present = [role for role in VALUE_ROLES if role in scores]
    scores["value"] = scores[present].mean(axis=1) if present else np.nan
    return scores


def _matches(rule: dict, segment: pd.Series, scores: pd.Series, labels: dict) -> list[str] | None:
    """The evidence for each condition of ``rule`` if the segment meets them
    all, else None. A condition names ``value``, a role or a column, compared
    with a number of standard deviations; one on a role or column the data
    does not have, or on a value that cannot be judged, never holds."""
    evidence = []
    for key, text in (rule.get("when") or {}).items():
        symbol, threshold = _condition(text)
        score = (
            scores.get(key, np.nan)
            if key == "value" or key in ROLES
            else segment.get(f"{key}_z", np.nan)
        )
        if pd.isna(score) or not _OPERATORS[symbol](float(score), threshold):
            return None
        label = (
            "customer value"
            if key == "value"
            else ROLE_LABELS[key]
            if key in ROLES
            else column_label(key, labels)
        )
        evidence.append(f"{label} {float(score):+.1f} SD")
    return evidence


def recommend_actions(
    segment_profiles: pd.DataFrame, recommendations: dict, features: dict, naming: dict
) -> pd.DataFrame:
    """Gives each segment the action of the first rule it meets, with the
    reason in one sentence, and ranks the segments by customer value
    (``priority`` 1 = most valuable to act on; ``role_scores``). Rules speak
    in roles (``monetary: ">= 0.5"``, ``recency: "<= 0"``), ``value`` or
    column names. When the data has no monetary or frequency column, value
    cannot be judged: ``value`` is empty, the segments are ranked by size and
    the reason says so, rather than calling anyone a high spender."""
    labels = naming.get("labels") or {}
    profiles = segment_profiles.reset_index(drop=True)
    scores = role_scores(profiles, features)
    judged = scores["value"].notna().any()
    rows = []
    for position, segment in profiles.iterrows():
        facts = scores.loc[position]
        for rule in recommendations["rules"]:
            evidence = _matches(rule, segment, facts, labels)
            if evidence is not None:
                break
        else:
            raise ValueError(
                f"No segment_analysis.recommendations rule matches segment {segment['segment']}; "
                "end the rules with one that has no conditions (when: {})"
            )
        if not evidence and judged:
            evidence = [f"customer value {facts['value']:+.1f} SD"]
        detail = (
            f"{', '.join(evidence)} against all customers"
            if evidence
            else "customer value cannot be judged: no column has a monetary or frequency role"
        )
        rows.append(
            {
                "segment": int(segment["segment"]),
                "name": segment["name"],
                "customers": int(segment["customers"]),
                "share": float(segment["share"]),
                "value": float(facts["value"]) if judged else None,
                "action": rule["action"],
                "reason": f"{rule['why']} ({detail}).",
            }
        )
    table = pd.DataFrame(rows)
    rank_by = table["value"] if judged else table["customers"]
    table["priority"] = rank_by.rank(ascending=False, method="first").astype(int)
    if not judged:
        logger.warning(
            "features.roles names no monetary or frequency column: customer value cannot be "
            "judged, so segments are ranked by size"
        )
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
    if is_spark(customer_segments):
        from . import spark_nodes  # noqa: PLC0415

        return spark_nodes.select_target_customers(customer_segments, details, chosen, id_column)
    targets = customer_segments[customer_segments["segment"].isin(chosen)]
    targets = targets.join(details, on="segment").rename(columns={"name": "segment_name"})
    logger.info("target_customers: %d customers of segments %s", len(targets), sorted(chosen))
    return targets[[id_column, "segment", "segment_name", "action", "priority"]].reset_index(
        drop=True
    )
