"""What both engines of the segment_analysis pipeline share: the profile
table assembled from per-segment statistics (whichever engine computed
them), the names of the segments, the outcome rates read from the profiles,
and the choice of the segments whose customers are exported. A leaf module:
it imports neither engine.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.errors import UserError
from customer_segmentation.features import FeatureSpec

logger = logging.getLogger(__name__)


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


# Category values longer than this are cut (with "…") where they become
# column names of segment_profiles (``column=value``), so that a stray long
# text cell never lands in the profile CSV or the report.
MAX_CATEGORY_LABEL = 60


def category_label(value: str) -> str:
    """A category value as a profile column name shows it: at most
    ``MAX_CATEGORY_LABEL`` characters, the rest cut and marked with "…"."""
    text = str(value)
    return text if len(text) <= MAX_CATEGORY_LABEL else text[: MAX_CATEGORY_LABEL - 1] + "…"


def category_mix(
    counts: pd.DataFrame, fixed: list | None, max_categories: int, keep: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Share of each segment (a row) in each category, from ``counts``
    (``_category_counts``): the ``fixed`` categories of a feature (other
    values are in no column), or the ``max_categories`` most common values
    (and the values in ``keep``, an outcome's positive value, however rare)
    with the rest as "other". Long values are cut (``category_label``);
    values that read the same once cut are counted together."""
    members = counts.sum(axis=1).replace(0, 1)
    if fixed is not None:
        counts = counts.reindex(columns=[str(c) for c in fixed], fill_value=0).set_axis(
            fixed, axis=1
        )
    else:
        counts = counts.T.groupby([category_label(c) for c in counts.columns], sort=False).sum().T
        common = counts.sum().sort_values(ascending=False, kind="stable").index[:max_categories]
        kept = [category_label(c) for c in keep]
        common = [*common, *(c for c in kept if c in counts.columns and c not in common)]
        rest = counts.drop(columns=common).sum(axis=1)
        counts = counts[common]
        if rest.any():
            counts[segmentation.OTHER] = rest
    return counts.div(members, axis=0)


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
        counts = category_counts[column]
        keep = (
            (
                *_positive_labels(spec.outcomes[column][1], list(counts.columns)),
                segmentation.MISSING,
            )
            if column in spec.outcomes
            else ()
        )
        mix = category_mix(counts, fixed, naming["max_categories"], keep)
        profile = profile.join(mix.set_axis(profile.index).add_prefix(f"{column}="))
    profile = profile.reset_index()
    profile.insert(1, "name", profile["segment"].map(name_segments(profile, naming, features)))
    if spec.outcomes:
        rates, _ = outcome_rates(profile, features)
        profile = profile.join(rates.add_suffix("_rate"), on="segment")
    profile["model_fingerprint"] = segmentation.fingerprint(segmentation_model)
    return profile


class OutcomeError(UserError, ValueError):
    """A ``features.outcomes`` entry that does not fit its column's values."""


def _outcome_key(value: object) -> str:
    """A value as an outcome's ``positive`` is compared with the data: True,
    "true", 1, 1.0 and "1" read alike (and so do False, 0 and "0"); text
    ignores case and surrounding spaces."""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    text = str(value).strip()
    if text.casefold() in ("true", "false"):
        return "1" if text.casefold() == "true" else "0"
    try:
        number = float(text)
    except ValueError:
        return text.casefold()
    if not np.isfinite(number):
        return text.casefold()
    return str(int(number)) if number.is_integer() else repr(number)


def _positive_labels(positive: object, values: list[str]) -> list[str]:
    """The ``values`` of a categorical outcome that mean it happened."""
    key = _outcome_key(positive)
    return [value for value in values if _outcome_key(value) == key]


def outcome_table(profiles: pd.DataFrame, spec: FeatureSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per segment (a row of ``profiles``, indexed by segment) and outcome
    column: the rate among the customers whose outcome is known, and how
    many they are. A 0/1 numeric outcome's rate is its mean (or one minus
    it when ``positive`` is 0), over the whole segment; a categorical
    outcome's is the share of its positive value(s) over the share that is
    not "missing"."""
    rates, known = {}, {}
    customers = profiles["customers"].astype(float)
    for column, (_, positive) in spec.outcomes.items():
        prefix = f"{column}="
        if column in spec.profile_numeric:
            key = _outcome_key(positive)
            if key not in ("0", "1"):
                raise OutcomeError(
                    f"features.outcomes.{column}.positive is {positive!r}, but {column} is a "
                    "0/1 number column (profile_only.numeric): give positive: 1 (or 0), or "
                    f"list {column} under profile_only.categorical"
                )
            means = profiles[column].astype(float)
            if ((means < 0) | (means > 1)).any():
                raise OutcomeError(
                    f"features.outcomes names {column}, but {column} is not a 0/1 column: "
                    f"its segment means range from {means.min():g} to {means.max():g}. "
                    "An outcome column holds 0 and 1 (or text, under profile_only.categorical)"
                )
            rates[column] = means if key == "1" else 1 - means
            known[column] = customers.where(means.notna(), 0.0)
            continue
        values = [c[len(prefix) :] for c in profiles.columns if c.startswith(prefix)]
        matched = _positive_labels(positive, values)
        if not matched:
            shown = ", ".join(repr(v) for v in values if v != segmentation.MISSING)
            raise OutcomeError(
                f"features.outcomes.{column}.positive is {positive!r}, which no customer has "
                f"in {column} (its values: {shown or 'none'})"
            )
        share = profiles[[prefix + value for value in matched]].astype(float).sum(axis=1)
        missing = profiles.get(prefix + segmentation.MISSING)
        known_share = 1 - (missing.astype(float) if missing is not None else 0.0 * share)
        rates[column] = (share / known_share).where(known_share > 0)
        known[column] = customers * known_share
    return pd.DataFrame(rates, index=profiles.index), pd.DataFrame(known, index=profiles.index)


def outcome_rates(segment_profiles: pd.DataFrame, features: dict) -> tuple[pd.DataFrame, pd.Series]:
    """Per segment (the index: segment number) and ``features.outcomes``
    column: the share of the segment's customers with a known outcome for
    whom it happened (0..1); and the whole base's rate per column (the
    segments' rates weighted by their customers with a known outcome).
    Read from the profile columns: a 0/1 column's mean, a text column's
    ``column=value`` share without its ``column=missing`` share."""
    spec = FeatureSpec.parse(features)
    profiles = segment_profiles.set_index("segment")
    rates, known = outcome_table(profiles, spec)
    return rates, base_rates(rates, known)


def base_rates(rates: pd.DataFrame, known: pd.DataFrame) -> pd.Series:
    """The whole base's rate per outcome column: the segments' rates weighted
    by their customers with a known outcome."""
    weights = known.where(rates.notna(), 0.0)
    return ((rates.fillna(0.0) * weights).sum() / weights.sum().replace(0, np.nan)).astype(float)


def targeted_segments(segment_recommendations: pd.DataFrame) -> tuple[list, pd.DataFrame]:
    """The segments ``recommend_actions`` marked ``targeted``, and every
    segment's name, action and priority (indexed by segment); logs why each
    segment is, or is not, exported."""
    recommendations = segment_recommendations.set_index("segment")
    chosen = recommendations.index[recommendations["targeted"].astype(bool)].tolist()
    why = "; ".join(
        f"segment {segment}: {str(text).rstrip('.')}"
        for segment, text in recommendations["targeting"].items()
    )
    if chosen:
        logger.info("target_customers: the customers of segments %s (%s)", chosen, why)
    else:
        logger.warning("target_customers is empty: no segment is exported (%s)", why)
    return chosen, recommendations[["name", "action", "priority"]]
