"""The segment_analysis nodes on one machine (pandas): join every customer to the
segment the fit gave it, profile and name the segments, recommend an action
per segment and export the customers to target. Pictures are in
``plots.py``, drift against the previous run in ``drift.py`` and the HTML
report in ``report.py``."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.errors import UserError
from customer_segmentation.features import ROLES, VALUE_ROLES, FeatureSpec, key_column

from .kernels import (
    assemble_profiles,
    base_rates,
    column_label,
    outcome_table,
    targeted_segments,
)

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


def sample_segmented_customers(
    segmented_customers: pd.DataFrame, sample_size: int, id_column: str, random_seed: int
) -> pd.DataFrame:
    """At most ``sample_size`` segmented customers (all of them below; beyond,
    a seeded random sample) for the pictures, drift and the report: what they
    show costs the same at ten thousand customers as at ten million, on one
    machine or on Spark. Counts and profiles always come from every customer."""
    if len(segmented_customers) <= sample_size:
        return segmented_customers
    return segmented_customers.sample(sample_size, random_state=random_seed)


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


class RecommendationError(UserError, ValueError):
    """A recommendation rule or a targeting setting that cannot be applied."""


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
    rates, known = outcome_table(indexed, spec)
    base = base_rates(rates, known)
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
    chosen, details = targeted_segments(segment_recommendations)
    targets = customer_segments[customer_segments["segment"].isin(chosen)]
    targets = targets.join(details, on="segment").rename(columns={"name": "segment_name"})
    logger.info("target_customers: %d customers", len(targets))
    return targets[[id_column, "segment", "segment_name", "action", "priority"]].reset_index(
        drop=True
    )
