"""Outcome columns of a customer table, for ``kedro configure-data``
(``features.outcomes``): two-valued columns named like churn (churn, exited,
attrition, cancelled, closed, complain, default) or a response (response,
accepted, AcceptedCmpN, converted, subscribed, ``y``; or a purchase:
purchase, purchased, bought, buy, ordered, booked, enrolled, redeemed as a
word of the name, as in Caravan's ``Purchase``), with the value that means
"it happened": 1 for 0/1, a text that reads as yes, else the rarer value.
An outcome is profiled per segment, never clustered on.

A yes/no flag (yes/no, true/false, 0/1) that no name marks as an outcome
(``yes_no_flag``) is profiled too, and the printout names it
(``outcome_lines``): it may be the answer a campaign wants, which only the
user can say.

Values numbered like the answers of a survey form ("1. Yes"/"2. No", as in
ISLP's tables; "2) No", "01 - Yes") are read without that number when every
value of the column has one (``unprefixed``); the values themselves stay as
the file has them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from customer_segmentation.own_names import joined_name, name_words
from customer_segmentation.own_quoting import printable
from customer_segmentation.own_units import as_numbers

if TYPE_CHECKING:
    from customer_segmentation.own_columns import Column

CHURN_WORDS = {
    *("churn", "churned", "churner", "exited", "exit", "attrition", "attrited", "cancel"),
    *("cancelled", "canceled", "cancellation", "closed", "complain", "complained"),
    *("complaint", "complaints", "default", "defaulted", "lapsed"),
}
RESPONSE_WORDS = {
    *("response", "responded", "accepted", "accept", "converted", "conversion", "subscribed"),
}
# A purchase as a response, in a word of the name ("Purchase", "has_bought");
# never the plural ("number_of_purchases", "PURCHASES_TRX": counts and
# amounts). Only a two-valued column is an outcome (``outcome_of``): a
# "last_purchase" amount never is, and a name of many values is no outcome.
PURCHASE_WORDS = {
    *("purchase", "purchased", "bought", "buy", "ordered", "booked", "enrolled", "redeemed"),
}
_OTHER_OUTCOMES = {"target", "label", "outcome", "class"}
_HAPPENED = {"yes", "y", "true", "t", "1", "positive", "left", "won"}
# What the printout adds to a yes/no flag that no name marks as an outcome.
FLAG_HINT = (
    "if it is an outcome (the answer a campaign wants, or what it should prevent), "
    "list it under features.outcomes"
)
_YES = {"yes", "y", "true", "t", "1"}
_NO = {"no", "n", "false", "f", "0"}
_NEGATION = {"not", "no", "non", "never", "without", "false", "n"}
# An answer's number before its text: "1. ", "2) ", "01 - ", "3: ".
_ORDINAL = re.compile(r"^\s*\d{1,3}\s*[.):-]\s*(?=[^\d\s])")


def unprefixed(values: pd.Series) -> pd.Series:
    """A column's values as read to tell what they say: without the number
    that numbers a form's answers ("1. Yes" -> "Yes") when every text value
    has one, else as they are (a lone "1) Yes" among plain values is data)."""
    texts = values.dropna()
    texts = texts[texts.map(lambda value: isinstance(value, str))]
    if texts.empty or not texts.str.match(_ORDINAL).all():
        return values
    return values.map(lambda value: _ORDINAL.sub("", value) if isinstance(value, str) else value)


def outcome_kind(name: str) -> str | None:
    """churn (an outcome to prevent) or response (one to repeat), by name,
    whatever the values: what ``is_outcome_named`` profiles."""
    words = set(name_words(name))
    if words & CHURN_WORDS:
        return "churn"
    if words & RESPONSE_WORDS or re.search(r"cmp\d", joined_name(name)) or joined_name(name) == "y":
        return "response"
    return None


def is_outcome_named(name: str) -> bool:
    """Named like an outcome of any kind (churn, response, target, label, ...)."""
    return outcome_kind(name) is not None or bool(set(name_words(name)) & _OTHER_OUTCOMES)


def _two_valued_kind(name: str) -> str | None:
    """The outcome kind of a two-valued column, by name: ``outcome_kind``,
    or a response when a word of the name is a purchase (``PURCHASE_WORDS``)."""
    kind = outcome_kind(name)
    if kind is None and set(name_words(name)) & PURCHASE_WORDS:
        return "response"
    return kind


def positive_value(values: pd.Series) -> tuple[Any, str]:
    """Of a two-valued column, the value that means "it happened", and why."""
    counts = values.dropna().value_counts()
    read = dict(zip(counts.index, unprefixed(counts.index.to_series()), strict=True))
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
            words & (CHURN_WORDS | RESPONSE_WORDS | PURCHASE_WORDS | {"attrited"})
            and not words & _NEGATION
        )

    readers = [value for value in counts.index if happened(read[value])]
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
    kind = _two_valued_kind(name)
    if kind is None or values.dropna().nunique() != 2:
        return None
    positive, why = positive_value(values)
    return kind, positive, why


def _yes_no_key(value: Any) -> str:
    """A value as a yes/no flag reads it: True, "TRUE", 1 and 1.0 alike."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) and float(value).is_integer():
        return str(int(value))
    return str(value).strip().lower()


def yes_no_flag(values: pd.Series) -> tuple[Any, float] | None:
    """Of a column holding two values, one of which reads as yes and the
    other as no (yes/no, y/n, true/false, t/f, 1/0), the yes value and its
    share of the known values, as the column holds it ("1. Yes": ``unprefixed``
    reads it); None for any other column."""
    present = values.dropna()
    distinct = list(present.unique())
    if len(distinct) != 2:  # noqa: PLR2004 - a flag has two values
        return None
    read = dict(zip(distinct, unprefixed(pd.Series(distinct, dtype=object)), strict=True))
    yes = [v for v in distinct if _yes_no_key(read[v]) in _YES]
    no = [v for v in distinct if _yes_no_key(read[v]) in _NO]
    if len(yes) != 1 or len(no) != 1:
        return None
    value = yes[0]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value, float((present == yes[0]).mean())


def _percent(share: float) -> str:
    """A share as a percentage: one decimal below 9.5%, none above."""
    return f"{share:.1%}" if share < 0.095 else f"{share:.0%}"  # noqa: PLR2004 - 9.5% rounds to 10%


def flag_text(flag: tuple[Any, float]) -> str:
    """A yes/no flag as the printout shows it: "Yes 6.0%", "1 in 20%"."""
    value, share = flag
    return f"{printable(str(value))} in {_percent(share)}"


def outcome_lines(columns: list[Column]) -> list[str]:
    """The printout's outcomes section, always there: each outcome with its
    kind and positive value; or that none was found, naming the yes/no flags
    that may be one (profiled, as no name says they are outcomes), so that
    an answer such as "bought the policy" is never taken for a plain
    attribute without the user being told."""
    outcomes = [c for c in columns if c.outcome]
    if outcomes:
        return [
            "Outcomes (features.outcomes):",
            *(
                f"  {printable(c.name)}: {c.outcome[0]}, positive {c.outcome[1]!r}"
                for c in outcomes
            ),
        ]
    line = (
        "Outcomes (features.outcomes): none found (no two-valued column is named like churn, "
        "a response or a purchase)."
    )
    flags = [c for c in columns if c.flag]
    if flags:
        shown = ", ".join(f"{printable(c.name)} ({flag_text(c.flag)})" for c in flags[:5])
        more = f" and {len(flags) - 5} more" if len(flags) > 5 else ""  # noqa: PLR2004
        line += (
            f" Yes/no flags, profiled: {shown}{more}. If one is an outcome (the answer a "
            "campaign wants, or what it should prevent), list it under features.outcomes "
            "with its kind (response or churn) and positive value."
        )
    return [line]
