"""Outcome columns of a customer table, for ``kedro configure-data``
(``features.outcomes``): two-valued columns named like churn (churn, exited,
attrition, cancelled, closed, complain, default) or a response (response,
accepted, AcceptedCmpN, converted, subscribed, ``y``), with the value that
means "it happened": 1 for 0/1, a text that reads as yes, else the rarer
value. An outcome is profiled per segment, never clustered on."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from customer_segmentation.own_names import joined_name, name_words
from customer_segmentation.own_units import as_numbers

CHURN_WORDS = {
    *("churn", "churned", "churner", "exited", "exit", "attrition", "attrited", "cancel"),
    *("cancelled", "canceled", "cancellation", "closed", "complain", "complained"),
    *("complaint", "complaints", "default", "defaulted", "lapsed"),
}
RESPONSE_WORDS = {
    *("response", "responded", "accepted", "accept", "converted", "conversion", "subscribed"),
}
_OTHER_OUTCOMES = {"target", "label", "outcome", "class"}
_HAPPENED = {"yes", "y", "true", "t", "1", "positive", "left", "won"}
_NEGATION = {"not", "no", "non", "never", "without", "false", "n"}


def outcome_kind(name: str) -> str | None:
    """churn (an outcome to prevent) or response (one to repeat), by name."""
    words = set(name_words(name))
    if words & CHURN_WORDS:
        return "churn"
    if words & RESPONSE_WORDS or re.search(r"cmp\d", joined_name(name)) or joined_name(name) == "y":
        return "response"
    return None


def is_outcome_named(name: str) -> bool:
    """Named like an outcome of any kind (churn, response, target, label, ...)."""
    return outcome_kind(name) is not None or bool(set(name_words(name)) & _OTHER_OUTCOMES)


def positive_value(values: pd.Series) -> tuple[Any, str]:
    """Of a two-valued column, the value that means "it happened", and why."""
    counts = values.dropna().value_counts()
    numbers, texts = as_numbers(counts.index.to_series())
    if not texts:
        if set(numbers) == {0.0, 1.0}:
            return 1, "0/1: 1 means it happened"
        rarer = numbers.iloc[-1]
        return (int(rarer) if rarer % 1 == 0 else float(rarer)), "the rarer value"

    def happened(value: Any) -> bool:
        text = str(value).strip().lower()
        words = set(name_words(str(value)))
        return text in _HAPPENED or bool(
            words & (CHURN_WORDS | RESPONSE_WORDS | {"attrited"}) and not words & _NEGATION
        )

    readers = [value for value in counts.index if happened(value)]
    if len(readers) == 1:
        value, why = readers[0], "reads as it happened"
    else:
        value, why = counts.index[-1], "the rarer value: neither reads as yes"
    if {str(v) for v in counts.index} <= {"True", "TRUE", "true", "False", "FALSE", "false"}:
        value = str(value).lower() == "true"  # pandas reads these as booleans
    return value, why


def outcome_of(name: str, values: pd.Series) -> tuple[str, Any, str] | None:
    """Of a two-valued column named like an outcome, its kind, its positive
    value and why that value; None for any other column."""
    kind = outcome_kind(name)
    if kind is None or values.dropna().nunique() != 2:
        return None
    positive, why = positive_value(values)
    return kind, positive, why
