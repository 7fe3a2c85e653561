"""What to do with each segment: the action of the first rule it meets
(``segment_analysis.recommendations``), the reason in one sentence, whether
it rests on evidence, its priority (empty when nothing is ranked) and
whether its customers are exported. Runs on the profiles, whichever engine
made them."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from customer_segmentation.features import ROLES, VALUE_ROLES, FeatureSpec

from .kernels import base_rates, outcome_table
from .names import column_label, percent
from .targets import RecommendationError, choose_targets

logger = logging.getLogger(__name__)

_OPERATORS = {">=": float.__ge__, "<=": float.__le__, ">": float.__gt__, "<": float.__lt__}
# A rule condition on an outcome kind of features.outcomes: "above" or "below".
OUTCOME_KINDS = ("churn", "response")
_MEDIAN = "_median"
# The action of every segment when nothing in the data can rank them: no
# monetary or frequency column and no outcome.
NO_ACTION = "no action ranked"
# Decimals of a z-score in a reason: two, and more where two would round it
# across the threshold its rule compared it with (0.495 against ">= 0.5").
_DECIMALS, _MAX_DECIMALS = 2, 6
COLUMNS = [
    "priority",
    "segment",
    "name",
    "customers",
    "share",
    "value",
    "action",
    "reason",
    "evidence",
    "stability",
    "unstable",
    "targeted",
    "targeting",
]

# How a role reads in a recommendation's evidence.
ROLE_LABELS = {
    "monetary": "spend",
    "frequency": "purchase frequency",
    "recency": "days since last purchase",
    "tenure": "tenure",
    "demographic": "demographics",
}


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


def standard_deviations(score: float, condition: tuple[str, float] | None = None) -> str:
    """A z-score as a reason shows it: "+0.45 SD", two decimals; where a
    rule's ``condition`` (operator, threshold) held on it, as many more as it
    takes for the number shown to meet the condition too, so that a reason
    never contradicts its own number."""
    text = f"{score:+.{_DECIMALS}f}"
    for decimals in range(_DECIMALS, _MAX_DECIMALS + 1):
        text = f"{score:+.{decimals}f}"
        if condition is None or _OPERATORS[condition[0]](float(text), condition[1]):
            break
    return f"{text} SD"


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


def _far_from_base(rate: float, base: float, known: float, total: float, outcomes: dict) -> int:
    """1 when a segment's outcome rate is far above the base rate, -1 far
    below, else 0. Far means both large and significant: at least
    ``min_lift`` times the base (at most the base divided by it) OR at least
    ``min_excess`` (percentage points, as a share) away from it, because a
    lift is unreachable when the base rate is already high (27% churn x 1.5);
    and a one-sided two-proportion z-test of the segment's ``known``
    customers against the other ``total - known`` with a p-value below
    ``max_p_value``, so that a small segment's noise never counts."""
    rest = total - known
    if pd.isna(rate) or not 0 < base < 1 or known <= 0 or rest <= 0:
        return 0
    rest_rate = (base * total - rate * known) / rest
    z = (rate - rest_rate) / math.sqrt(base * (1 - base) * (1 / known + 1 / rest))
    p_above = 0.5 * math.erfc(z / math.sqrt(2))
    lift, excess = outcomes["min_lift"], outcomes["min_excess"]
    if (rate >= lift * base or rate - base >= excess) and p_above < outcomes["max_p_value"]:
        return 1
    if (rate <= base / lift or base - rate >= excess) and 1 - p_above < outcomes["max_p_value"]:
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
        f"{ROLE_LABELS[role]} {standard_deviations(float(scores[role]))}"
        for role in VALUE_ROLES
        if role in scores.index and pd.notna(scores[role])
    ]


class _Segment:
    """What a rule's conditions are tested on: one segment's profile row,
    its role scores and outcome signals, and the words of the columns."""

    def __init__(  # noqa: PLR0913 - the four views of one segment
        self, profile: pd.Series, scores: pd.Series, signals: list, spec: FeatureSpec, labels: dict
    ) -> None:
        self.profile, self.scores, self.signals = profile, scores, signals
        self.spec, self.labels = spec, labels


def _outcome_holds(key: str, text: str, segment: _Segment, evidence: _Evidence) -> bool:
    """``churn: above`` (or ``below``, with none above) on the segment's
    outcome signals; the evidence names the column farthest from the base."""
    wanted = {"above": 1, "below": -1}.get(str(text).strip())
    if wanted is None:
        raise RecommendationError(
            f"segment_analysis.recommendations rule condition {key}: '{text}' must be "
            "'above' or 'below' (the base rate of that kind of outcome)"
        )
    kind_signals = [signal for signal in segment.signals if signal[0] == key]
    held = [signal for signal in kind_signals if signal[1] == wanted]
    if not held or (wanted == -1 and any(signal[1] == 1 for signal in kind_signals)):
        return False
    _, _, column, rate, base, excess = max(held, key=lambda signal: abs(signal[5]))
    evidence.facts.append(
        f"{column_label(column, segment.labels)} {percent(rate)} against {percent(base)} "
        "across all customers"
    )
    if wanted == 1:
        evidence.excess = max(evidence.excess or 0.0, float(excess))
    return True


def _median_holds(key: str, text: str, segment: _Segment, evidence: _Evidence) -> bool:
    """A role's or column's median (``frequency_median: ">= 2"``), in
    original units: held when the median of any of its columns meets it."""
    symbol, threshold = _condition(text)
    subject = key[: -len(_MEDIAN)]
    columns = segment.spec.with_role(subject) if subject in ROLES else [subject]
    medians = [
        (c, float(segment.profile[f"{c}{_MEDIAN}"]))
        for c in columns
        if pd.notna(segment.profile.get(f"{c}{_MEDIAN}", np.nan))
    ]
    held = [(c, m) for c, m in medians if _OPERATORS[symbol](m, threshold)]
    if held:
        column, median = held[0]
        evidence.facts.append(f"median {column_label(column, segment.labels)} {median:g}")
    return bool(held)


def _score_holds(key: str, text: str, segment: _Segment, evidence: _Evidence) -> bool:
    """``value``, a role or a column against a number of standard
    deviations; a value the data cannot judge never holds."""
    condition = _condition(text)
    if key == "value":
        score = segment.scores.get("value", np.nan)
    elif key in ROLES:
        score = segment.scores.get(key, np.nan)
    else:
        score = segment.profile.get(f"{key}_z", np.nan)
    if pd.isna(score) or not _OPERATORS[condition[0]](float(score), condition[1]):
        return False
    if key == "value":
        evidence.scores.extend(_value_evidence(segment.scores))
    else:
        label = ROLE_LABELS[key] if key in ROLES else column_label(key, segment.labels)
        evidence.scores.append(f"{label} {standard_deviations(float(score), condition)}")
    return True


def _matches(rule: dict, segment: _Segment) -> _Evidence | None:
    """The evidence for the conditions of ``rule`` if the segment meets them
    all, else None. A condition names an outcome kind ("above"/"below"), a
    role's or column's median (``_median``, original units), ``value``, a
    role or a column (standard deviations); one on an outcome, role or
    column the data does not have, or on a value that cannot be judged,
    never holds."""
    evidence = _Evidence()
    for key, text in rule["when"].items():
        if key in OUTCOME_KINDS:
            test = _outcome_holds
        elif key.endswith(_MEDIAN):
            test = _median_holds
        else:
            test = _score_holds
        if not test(key, text, segment, evidence):
            return None
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


def _first_rule(rules: list[dict], segment: _Segment) -> tuple[dict, _Evidence]:
    """The first rule the segment meets, and the evidence that it does."""
    for rule in rules:
        evidence = _matches(rule, segment)
        if evidence is not None:
            return rule, evidence
    raise RecommendationError(
        "No segment_analysis.recommendations rule matches segment "
        f"{segment.profile['segment']}; end the rules with one that has no conditions "
        "(when: {})"
    )


def _reason(rule: dict, evidence: _Evidence, judged: bool) -> str:
    """The rule's ``why`` and the numbers that made it hold. The catch-all
    rule compared nothing, so its reason quotes no number (one near a
    threshold would read as if it met it); without a monetary or frequency
    column it says that value cannot be judged."""
    if rule["when"]:
        return f"{rule['why']} ({evidence.text()})."
    if judged:
        return f"{rule['why']}."
    return (
        f"{rule['why']} (customer value cannot be judged: no column has a monetary or "
        "frequency role)."
    )


def _ruled(
    profiles: pd.DataFrame,
    scores: pd.DataFrame,
    recommendations: dict,
    spec: FeatureSpec,
    labels: dict,
) -> pd.DataFrame:
    """One row per segment: its action by the first rule it meets, the
    reason, whether it rests on evidence and its excess outcome customers."""
    judged = bool(scores["value"].notna().any())
    signals = _outcome_signals(profiles, spec, recommendations["outcomes"])
    rows = []
    for position, profile in profiles.iterrows():
        segment = _Segment(profile, scores.loc[position], signals[position], spec, labels)
        rule, evidence = _first_rule(recommendations["rules"], segment)
        rows.append(
            {
                "segment": int(profile["segment"]),
                "name": profile["name"],
                "customers": int(profile["customers"]),
                "share": float(profile["share"]),
                "value": float(segment.scores["value"]) if judged else None,
                "action": rule["action"],
                "reason": _reason(rule, evidence, judged),
                "evidence": bool(rule["when"]),
                "excess": evidence.excess if evidence.excess is not None else np.nan,
            }
        )
    if not judged:
        logger.warning(
            "features.roles names no monetary or frequency column: customer value cannot "
            "be judged, so segments without an outcome far from the base are ranked by size"
        )
    return pd.DataFrame(rows)


def _stability(table: pd.DataFrame, profiles: pd.DataFrame, min_stability: float) -> pd.DataFrame:
    """``table`` with each segment's ``stability`` (bootstrap Jaccard on
    resampled customers, from the profiles; NaN where not measured) and
    whether it is ``unstable``: measured under ``min_stability``."""
    measured = profiles.set_index("segment").get("stability")
    stability = (
        table["segment"].map(measured).astype(float)
        if measured is not None
        else pd.Series(np.nan, index=table.index)
    )
    return table.assign(stability=stability, unstable=stability < min_stability)


def is_ranked(table: pd.DataFrame) -> bool:
    """Whether the segments of a recommendations ``table`` are ranked: only
    when some segment's action rests on evidence. Otherwise (``NO_ACTION``
    everywhere, or only the catch-all rule held) nothing says which segment
    to act on first, so no segment has a priority and the report and the
    run's summary show none."""
    return bool(table["evidence"].astype(bool).any())


def priorities(table: pd.DataFrame) -> pd.Series:
    """The ``priority`` of each segment of ``table`` (in priority order): 1
    to k, 1 acted on first, when the segments are ranked (``is_ranked``);
    else empty (NA) for every segment, since a priority on a segment with
    no ranked action would read as "do this first". Nullable integers, so
    the CSV writes a number or nothing."""
    ranks = np.arange(1, len(table) + 1) if is_ranked(table) else [pd.NA] * len(table)
    return pd.Series(ranks, index=table.index, dtype="Int64")


def in_priority_order(table: pd.DataFrame) -> pd.DataFrame:
    """The segments in the order to act on them: unstable segments (under
    ``targeting.min_stability``) after every other, so that a segment that
    may not hold up is never acted on first; then, within each, those whose
    action rests on evidence before those without; among them, those whose
    rule holds on an outcome far above the base first, by excess outcome
    customers; then by customer value, then by size (then by segment number)."""
    order = pd.DataFrame(
        {
            "unstable": table["unstable"].astype(bool),
            "no_evidence": ~table["evidence"].astype(bool),
            "no_outcome": table["excess"].isna(),
            "excess": -table["excess"].fillna(0.0),
            "value": -table["value"].astype(float).fillna(0.0),
            "size": -table["customers"],
            "segment": table["segment"],
        }
    ).sort_values(["unstable", "no_evidence", "no_outcome", "excess", "value", "size", "segment"])
    return table.loc[order.index].reset_index(drop=True)


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
    conditions held; never the catch-all rule), its ``stability`` on
    resampled customers and whether that is under ``targeting.min_stability``
    (``unstable``), its ``priority`` (``priorities``, in the order of
    ``in_priority_order``: 1 is acted on first, never an unstable segment
    while another is not; empty for every segment when no action rests on
    evidence) and whether its customers are exported (``targeted``,
    ``targeting``: ``targets.choose_targets``).

    With no monetary or frequency column value cannot be judged and the
    reasons say so; with no outcome either, every segment gets
    ``NO_ACTION``, listed by size, without a priority."""
    spec = FeatureSpec.parse(features)
    profiles = segment_profiles.reset_index(drop=True)
    scores = role_scores(profiles, features)
    if scores["value"].isna().all() and not spec.outcomes:
        table = _unranked(profiles)
    else:
        table = _ruled(profiles, scores, recommendations, spec, naming["labels"])
    table = in_priority_order(_stability(table, profiles, targeting["min_stability"]))
    table["priority"] = priorities(table)
    table["targeted"], table["targeting"] = choose_targets(table, targeting)
    return table[COLUMNS]
