"""Nodes of the segment_analysis pipeline: join every customer to the
segment the fit gave it, profile and name the segments, recommend an action
per segment and export the customers to target. Pictures are in
``plots.py``, drift against the previous run in ``drift.py`` and the HTML
report in ``report.py``."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.errors import UserError
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


class RecommendationError(UserError, ValueError):
    """A recommendation rule or a targeting setting that cannot be applied."""


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


def _outcome_table(profiles: pd.DataFrame, spec: FeatureSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    rates, known = _outcome_table(profiles, spec)
    return rates, _base_rates(rates, known)


def _base_rates(rates: pd.DataFrame, known: pd.DataFrame) -> pd.Series:
    """The whole base's rate per outcome column: the segments' rates weighted
    by their customers with a known outcome."""
    weights = known.where(rates.notna(), 0.0)
    return ((rates.fillna(0.0) * weights).sum() / weights.sum().replace(0, np.nan)).astype(float)


_OPERATORS = {">=": float.__ge__, "<=": float.__le__, ">": float.__gt__, "<": float.__lt__}
# A rule condition on an outcome kind of features.outcomes: "above" or "below".
OUTCOME_KINDS = ("churn", "response")
_MEDIAN = "_median"
# The action of every segment when nothing in the data can rank them: no
# monetary or frequency column and no outcome.
NO_ACTION = "no action ranked"


def _condition(text: str) -> tuple[str, float]:
    for symbol in (">=", "<=", ">", "<"):
        if str(text).strip().startswith(symbol):
            try:
                return symbol, float(str(text).strip()[len(symbol) :])
            except ValueError:
                break
    raise RecommendationError(
        f"segment_analysis.recommendations rule condition '{text}' must be an operator "
        "(>=, <=, >, <) and a number (of standard deviations, or in the column's units for "
        "a _median condition), for example '>= 0.5'"
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


def _percent(share: float) -> str:
    return f"{share:.1%}" if share < 0.095 else f"{share:.0%}"  # noqa: PLR2004 - 9.5% rounds to 10%


def _far_from_base(rate: float, base: float, known: float, total: float, outcomes: dict) -> int:
    """1 when a segment's outcome rate is far above the base rate, -1 far
    below, else 0: at least ``min_lift`` times the base (at most the base
    divided by it) and a one-sided two-proportion z-test of the segment's
    ``known`` customers against the other ``total - known`` with a p-value
    below ``max_p_value``, so that a small segment's noise never counts."""
    rest = total - known
    if pd.isna(rate) or not 0 < base < 1 or known <= 0 or rest <= 0:
        return 0
    rest_rate = (base * total - rate * known) / rest
    z = (rate - rest_rate) / math.sqrt(base * (1 - base) * (1 / known + 1 / rest))
    p_above = 0.5 * math.erfc(z / math.sqrt(2))
    if rate >= outcomes["min_lift"] * base and p_above < outcomes["max_p_value"]:
        return 1
    if rate <= base / outcomes["min_lift"] and 1 - p_above < outcomes["max_p_value"]:
        return -1
    return 0


def _outcome_signals(profiles: pd.DataFrame, spec: FeatureSpec, outcomes: dict) -> list[list]:
    """For each segment (a row of ``profiles``), every outcome column that is
    far from the base: (kind, direction 1 or -1, column, rate, base rate,
    excess customers = known customers x (rate - base rate))."""
    if not spec.outcomes:
        return [[] for _ in range(len(profiles))]
    indexed = profiles.set_index("segment")
    rates, known = _outcome_table(indexed, spec)
    base = _base_rates(rates, known)
    weights = known.where(rates.notna(), 0.0)
    totals = weights.sum()
    signals = []
    for segment in indexed.index:
        found = []
        for column, (kind, _) in spec.outcomes.items():
            rate, customers = rates.at[segment, column], weights.at[segment, column]
            direction = _far_from_base(rate, base[column], customers, totals[column], outcomes)
            if direction:
                excess = customers * (rate - base[column])
                found.append((kind, direction, column, rate, base[column], excess))
        signals.append(found)
    return signals


class _Evidence:
    """What made a rule hold for a segment: z-scores (read "against all
    customers"), outcome rates and medians, and the excess outcome
    customers of an outcome "above" condition (None without one)."""

    def __init__(self) -> None:
        self.scores: list[str] = []
        self.facts: list[str] = []
        self.excess: float | None = None

    def text(self) -> str:
        parts = [f"{', '.join(self.scores)} against all customers"] if self.scores else []
        return "; ".join([*parts, *self.facts])


def _value_evidence(scores: pd.Series) -> list[str]:
    """A segment's customer value in the words of the value roles the data has."""
    return [
        f"{ROLE_LABELS[role]} {float(scores[role]):+.1f} SD"
        for role in VALUE_ROLES
        if role in scores.index and pd.notna(scores[role])
    ]


def _matches(  # noqa: PLR0911, PLR0913 - one return per kind of condition
    rule: dict,
    segment: pd.Series,
    scores: pd.Series,
    signals: list,
    spec: FeatureSpec,
    labels: dict,
) -> _Evidence | None:
    """The evidence for the conditions of ``rule`` if the segment meets them
    all, else None. A condition names an outcome kind ("above"/"below"), a
    role's or column's median (``_median``, original units), ``value``, a
    role or a column (standard deviations); one on an outcome, role or
    column the data does not have, or on a value that cannot be judged,
    never holds."""
    evidence = _Evidence()
    for key, text in (rule.get("when") or {}).items():
        if key in OUTCOME_KINDS:
            wanted = {"above": 1, "below": -1}.get(str(text).strip())
            if wanted is None:
                raise RecommendationError(
                    f"segment_analysis.recommendations rule condition {key}: '{text}' must be "
                    "'above' or 'below' (the base rate of that kind of outcome)"
                )
            kind_signals = [signal for signal in signals if signal[0] == key]
            if wanted == -1 and any(signal[1] == 1 for signal in kind_signals):
                return None
            held = [signal for signal in kind_signals if signal[1] == wanted]
            if not held:
                return None
            _, _, column, rate, base, excess = max(held, key=lambda signal: abs(signal[5]))
            evidence.facts.append(
                f"{column_label(column, labels)} {_percent(rate)} against {_percent(base)} "
                "across all customers"
            )
            if wanted == 1:
                evidence.excess = max(evidence.excess or 0.0, float(excess))
            continue
        symbol, threshold = _condition(text)
        if key.endswith(_MEDIAN):
            subject = key[: -len(_MEDIAN)]
            columns = spec.with_role(subject) if subject in ROLES else [subject]
            medians = [
                (c, float(segment[f"{c}{_MEDIAN}"]))
                for c in columns
                if pd.notna(segment.get(f"{c}{_MEDIAN}", np.nan))
            ]
            held = [(c, m) for c, m in medians if _OPERATORS[symbol](m, threshold)]
            if not held:
                return None
            column, median = held[0]
            evidence.facts.append(f"median {column_label(column, labels)} {median:g}")
            continue
        if key == "value":
            score = scores.get("value", np.nan)
            if pd.isna(score) or not _OPERATORS[symbol](float(score), threshold):
                return None
            evidence.scores.extend(_value_evidence(scores))
            continue
        score = scores.get(key, np.nan) if key in ROLES else segment.get(f"{key}_z", np.nan)
        if pd.isna(score) or not _OPERATORS[symbol](float(score), threshold):
            return None
        label = ROLE_LABELS[key] if key in ROLES else column_label(key, labels)
        evidence.scores.append(f"{label} {float(score):+.1f} SD")
    return evidence


def _unranked(profiles: pd.DataFrame) -> pd.DataFrame:
    """Every segment with ``NO_ACTION``, by size: nothing in the data says
    what is worth doing (no monetary or frequency column, no outcome)."""
    logger.warning(
        "No action is ranked: features.roles names no monetary or frequency column and "
        "features.outcomes is empty, so nothing in the data says which segment is worth "
        "acting on; segments are listed by size and none is exported to target_customers"
    )
    return pd.DataFrame(
        {
            "segment": profiles["segment"].astype(int),
            "name": profiles["name"],
            "customers": profiles["customers"].astype(int),
            "share": profiles["share"].astype(float),
            "value": None,
            "action": NO_ACTION,
            "reason": "Customer value cannot be judged and no outcome is known (no column has "
            "a monetary or frequency role and features.outcomes is empty).",
            "evidence": False,
            "excess": np.nan,
        }
    )


def _target(table: pd.DataFrame, targeting: dict) -> tuple[list[bool], list[str]]:
    """Which segments of ``table`` (in priority order) are exported to
    ``target_customers``, and why or why not, in one sentence each: those
    listed in ``targeting.segments``, or else the first ``top_priorities``
    whose action rests on evidence; in both cases a segment that would take
    the export above ``max_share`` of all customers is skipped."""
    listed = [int(s) for s in targeting.get("segments") or []]
    unknown = sorted(set(listed) - set(table["segment"]))
    if unknown:
        raise RecommendationError(
            f"segment_analysis.targeting.segments names {unknown}, which are not segments of "
            f"this run (0 to {len(table) - 1})"
        )
    cap = float(targeting.get("max_share", 0.5))
    top = int(targeting["top_priorities"])
    exported, chosen, targeted, texts = 0.0, 0, [], []
    for row in table.itertuples():
        if listed and row.segment not in listed:
            targeted.append(False)
            texts.append("Not exported: not listed in targeting.segments.")
            continue
        if not listed and not row.evidence:
            targeted.append(False)
            texts.append("Not exported: its action rests on no evidence in the data.")
            continue
        if not listed and chosen >= top:
            targeted.append(False)
            texts.append(
                f"Not exported: the targeting.top_priorities ({top}) segments with evidence "
                "are already exported."
            )
            continue
        if exported + row.share > cap + 1e-9:
            targeted.append(False)
            texts.append(
                f"Not exported: its {_percent(row.share)} of customers would take the export "
                f"to {_percent(exported + row.share)}, above targeting.max_share "
                f"({_percent(cap)})."
            )
            continue
        exported += row.share
        chosen += 1
        targeted.append(True)
        texts.append(
            "Exported: listed in targeting.segments."
            if listed
            else f"Exported: priority {row.priority}, with evidence ({_percent(row.share)} of "
            "customers)."
        )
    return targeted, texts


def recommend_actions(  # noqa: PLR0913 - the profiles and four settings
    segment_profiles: pd.DataFrame,
    recommendations: dict,
    features: dict,
    naming: dict,
    targeting: dict,
) -> pd.DataFrame:
    """Gives each segment the action of the first rule it meets, with the
    reason in one sentence (the rule's ``why`` and the numbers that made it
    hold, in the words of the columns and roles the data has), whether it
    rests on ``evidence`` (an outcome far from the base, or a rule whose
    conditions held; never the catch-all rule), its ``priority`` and whether
    its customers are exported (``targeted``, ``targeting``: ``_target``).

    Priority 1 is acted on first: segments whose rule holds on an outcome
    far above the base (``churn: above``, ``response: above``), by excess
    outcome customers (customers x (rate - base rate)); then the others by
    customer value (``role_scores``); then by size. With no monetary or
    frequency column value cannot be judged and the reasons say so; with no
    outcome either, every segment gets ``NO_ACTION``, by size."""
    spec = FeatureSpec.parse(features)
    labels = naming.get("labels") or {}
    profiles = segment_profiles.reset_index(drop=True)
    scores = role_scores(profiles, features)
    judged = bool(scores["value"].notna().any())
    if not judged and not spec.outcomes:
        table = _unranked(profiles)
    else:
        signals = _outcome_signals(profiles, spec, recommendations["outcomes"])
        rows = []
        for position, segment in profiles.iterrows():
            facts = scores.loc[position]
            for rule in recommendations["rules"]:
                evidence = _matches(rule, segment, facts, signals[position], spec, labels)
                if evidence is not None:
                    break
            else:
                raise RecommendationError(
                    "No segment_analysis.recommendations rule matches segment "
                    f"{segment['segment']}; end the rules with one that has no conditions "
                    "(when: {})"
                )
            detail = evidence.text()
            if not rule.get("when"):
                detail = (
                    f"{', '.join(_value_evidence(facts))} against all customers"
                    if judged
                    else "customer value cannot be judged: no column has a monetary or "
                    "frequency role"
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
                    "evidence": bool(rule.get("when")),
                    "excess": evidence.excess if evidence.excess is not None else np.nan,
                }
            )
        table = pd.DataFrame(rows)
        if not judged:
            logger.warning(
                "features.roles names no monetary or frequency column: customer value cannot "
                "be judged, so segments without an outcome far from the base are ranked by size"
            )
    order = pd.DataFrame(
        {
            "outcome_first": table["excess"].isna(),
            "excess": -table["excess"].fillna(0.0),
            "value": -table["value"].astype(float).fillna(0.0),
            "size": -table["customers"],
            "segment": table["segment"],
        }
    ).sort_values(["outcome_first", "excess", "value", "size", "segment"])
    table = table.loc[order.index].reset_index(drop=True)
    table["priority"] = np.arange(1, len(table) + 1)
    table["targeted"], table["targeting"] = _target(table, targeting)
    columns = [
        "priority",
        "segment",
        "name",
        "customers",
        "share",
        "value",
        "action",
        "reason",
        "evidence",
        "targeted",
        "targeting",
    ]
    return table[columns]


def select_target_customers(
    customer_segments: pd.DataFrame, segment_recommendations: pd.DataFrame, id_column: str
) -> pd.DataFrame:
    """The customers of the segments ``recommend_actions`` marked
    ``targeted``, one row each, ready for a CRM upload (empty, with its
    columns, when no segment is worth a campaign)."""
    id_column = key_column(id_column)
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
    details = recommendations[["name", "action", "priority"]]
    if is_spark(customer_segments):
        from . import spark_nodes  # noqa: PLC0415

        return spark_nodes.select_target_customers(customer_segments, details, chosen, id_column)
    targets = customer_segments[customer_segments["segment"].isin(chosen)]
    targets = targets.join(details, on="segment").rename(columns={"name": "segment_name"})
    logger.info("target_customers: %d customers", len(targets))
    return targets[[id_column, "segment", "segment_name", "action", "priority"]].reset_index(
        drop=True
    )
