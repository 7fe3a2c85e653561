"""What both engines of the segment_analysis pipeline share: the profile
table assembled from per-segment statistics (whichever engine computed
them, named by ``names.name_segments``) and the outcome rates read from the
profiles. A leaf module: it imports neither engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.errors import UserError
from customer_segmentation.features import FeatureSpec

from .names import name_segments

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
    segment_stability: dict | None = None,
) -> pd.DataFrame:
    """The profile table from ``segment_statistics`` (whichever engine
    computed them), named by ``name_segments``, with each segment's
    ``stability`` from ``segment_stability`` (segment: bootstrap Jaccard, as
    ``model_selection_metrics`` keeps it; NaN where not measured)."""
    profile = pd.DataFrame({"customers": customers})
    profile["share"] = profile["customers"] / profile["customers"].sum()
    measured = {int(segment): value for segment, value in (segment_stability or {}).items()}
    profile["stability"] = profile.index.map(lambda s: measured.get(int(s))).astype(float)
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
