"""The unit and the role of a numeric column, for ``kedro configure-data``.

The **unit** (``unit_of``) comes from the name and the values: money, count,
frequency (per period, or a 0-1 how-often score), share or percentage, score,
age, year or plain number. From unit and name comes the **role**
(``role_of``, ``features.roles``): a share is never monetary, income is
demographic, a purchase count or frequency is frequency, cash advances and
balances are no value; expenditure, expenses and ``exp`` (``AVGEXP``,
``monthly_exp``; never experience) are spend. Roles drive the default
recommendation rules, so a column whose name the rules cannot place is left
without one and named to the user (``unnamed_spend``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from customer_segmentation.own_names import name_words

if TYPE_CHECKING:
    from customer_segmentation.own_columns import Column

_SHARE = {"pct", "prc", "perc", "percent", "percentage", "share", "ratio", "rate", "proportion"}
_SHARE |= {"frac", "fraction"}
_SCORE = {"score", "rating", "rank", "ranking", "grade", "index", "nps", "satisfaction"}
_FREQUENCY = {"frequency", "freq"}
_COUNT = {"num", "number", "count", "cnt", "trx", "qty", "quantity", "items", "products", "times"}
_COUNT |= {"visits", "orders", "transactions", "n"}
_COUNTED = {"num", "number", "count", "cnt", "trx", "qty", "quantity"}  # even beside money words
_SPEND = {
    *("spend", "spent", "spending", "amount", "amt", "revenue", "sales", "monetary", "mnt"),
    *("paid", "payment", "payments", "charge", "charges", "billed", "billing", "fee", "fees"),
    *("basket", "aov", "ltv", "clv", "value", "purchases", "purchase", "ordervalue"),
    *("expenditure", "expenditures", "expense", "expenses", "exp"),
}
# AVGEXP, TOTEXP, MonthlyExpenses: spend words written as one with a qualifier
# (never "experience").
_JOINED_SPEND = re.compile(
    r"(avg|average|tot|total|mean|monthly|annual|yearly)(exp|expenses?|expenditures?)"
)
_OTHER_MONEY = {"balance", "limit", "credit", "cash", "advance", "price", "cost", "income"}
_OTHER_MONEY |= {"salary", "wage", "wages", "earnings", "profit", "margin", "dollars", "usd"}
_PURCHASE_ACTS = {"purchase", "purchases", "order", "orders", "visit", "visits", "transaction"}
_PURCHASE_ACTS |= {"transactions", "trx", "session", "sessions", "trip", "trips", "buy", "buys"}
_NOT_PURCHASES = {"cash", "advance", "balance", "withdrawal", "withdrawals", "transfer"}
_NOT_PURCHASES |= {"transfers", "payment", "payments", "credit", "call", "calls", "complaint"}
_NOT_PURCHASES |= {"complaints", "service", "login", "logins", "return", "returns", "refund"}
# Visits and sessions of a website or an app are browsing, not buying
# (NumWebVisitsMonth); a purchase word with them still counts (NumWebPurchases).
_VISITS = {"visit", "visits", "session", "sessions"}
_BROWSING = {"web", "website", "site", "online", "app", "page", "pages", "portal", "email"}
_NOT_SPEND = {"balance", "limit", "credit", "cash", "advance", "price", "cost", "income", "salary"}
_NOT_SPEND |= {"wage", "wages", "earnings"}
ROLE_NAMES = {
    "recency": re.compile(
        r"recen|days?[_\s]*since|since[_\s]*last|last[_\s]*(purchase|order)", re.I
    ),
    "tenure": re.compile(
        r"tenure|seniority|years?[_\s]*with|months?[_\s]*with|customer[_\s]*for", re.I
    ),
    "demographic": re.compile(
        r"(^|_|\s)age($|_|\s)|birth|income|salary|(^|_|\s)wages?($|_|\s)|earnings|kid|child"
        r"|teen|household|family|dependent",
        re.I,
    ),
}


def _unit_words(name: str) -> set[str]:
    """The name's words, with a spend word written into a qualifier split
    off (``AVGEXP`` -> avgexp, exp)."""
    words = set(name_words(name))
    return words | {"exp" for word in words if _JOINED_SPEND.fullmatch(word)}


def as_numbers(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """The column as numbers, and the distinct texts that are not numbers.
    Infinite numbers are missing, as training reads them
    (``features.infinite_as_missing``), so no range, skewness or unit is
    judged from them."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers, texts = values.astype(float), []
    else:
        text = values.dropna().astype(str)
        numbers = pd.to_numeric(text.str.strip(), errors="coerce").reindex(values.index)
        texts = sorted(text[numbers.isna()].unique().tolist())
    return numbers.mask(np.isinf(numbers)), texts


def _number(value: float) -> str:
    """A value as a label shows it: 0.4, 12.5, 100, 49,040."""
    return f"{value:,.0f}" if abs(value) >= 99.95 else f"{value:.3g}"


def _describe(numbers: pd.Series) -> tuple[str, bool, bool, bool]:
    """The values in a few words that say no unit (``unit_of`` says money);
    whether all are whole numbers, all lie in [0, 1], and most have at most
    two decimals (cents)."""
    low, high = float(numbers.min()), float(numbers.max())
    integers = bool((numbers % 1 == 0).all())
    in_unit = low >= 0 and high <= 1
    cents = bool(((numbers * 100).round(6) % 1 == 0).mean() > 0.9)
    kind = "whole numbers" if integers else "decimals from"
    return f"{kind} {_number(low)} to {_number(high)}", integers, in_unit, cents


def unit_of(name: str, numbers: pd.Series) -> tuple[str, str]:  # noqa: PLR0911, PLR0912 - one return per unit
    """The unit of a numeric column (money, count, frequency, frequency score,
    share, percentage, score, age, year, number) and the phrase that says why."""
    present = numbers.dropna()
    words = _unit_words(name)
    values, integers, in_unit, cents = _describe(present)
    low, high = float(present.min()), float(present.max())
    amounts = f"decimal amounts up to {_number(high)}" if not integers and high >= 100 else values

    def says(found: set[str]) -> str:
        return "name says " + ", ".join(sorted(found)) if found else ""

    shares = words & _SHARE or ({"%"} if "%" in str(name) else set())
    if shares and in_unit:
        return "share", f"share 0-1 ({values}; {says(shares)})"
    if shares and low >= 0 and high <= 100:
        return "percentage", f"percentage 0-100 ({values}; {says(shares)})"
    if words & _FREQUENCY:
        if in_unit:
            return "frequency score", f"how-often score 0-1 ({values}; {says(words & _FREQUENCY)})"
        return "frequency", f"frequency per period ({values}; {says(words & _FREQUENCY)})"
    if words & _SCORE:
        return "score", f"score ({values}; {says(words & _SCORE)})"
    if ROLE_NAMES["demographic"].search(name) and "age" in words:
        return "age", f"an age ({values})"
    if words & {"year", "birth"} and integers and low >= 1800 and high <= 2100:
        return "year", f"a year ({low:.0f} to {high:.0f})"
    money = words & (_SPEND | _OTHER_MONEY)
    counted = words & _COUNT
    purchases_only = money <= {"purchase", "purchases"}
    if money and not in_unit and not (counted & _COUNTED and integers):
        if not (purchases_only and integers and high < 1000):
            return "money", f"money ({amounts}; {says(money)})"
    if integers and low >= 0 and (counted or high < 1000):
        return "count", f"count ({values}" + (f"; {says(counted)})" if counted else ")")
    if in_unit:
        return "score", f"share or score 0-1 ({values})"
    if integers and low >= 0:
        return "number", f"number ({values}: an amount or a count, the name does not say)"
    if cents and high >= 100:
        return "money", f"money ({amounts})"
    return "number", f"number ({values})"


def role_of(name: str, unit: str) -> str | None:
    """The ``features.roles`` role of a numeric column of this unit, or None."""
    if unit in ("share", "percentage", "score"):
        return None
    for role, pattern in ROLE_NAMES.items():
        if pattern.search(name):
            return role
    words = _unit_words(name)
    acts = words & _PURCHASE_ACTS
    browsing = acts <= _VISITS and words & _BROWSING
    purchase_acts = acts and not words & _NOT_PURCHASES and not browsing
    if unit in ("count", "frequency", "frequency score") and purchase_acts:
        return "frequency"
    if unit == "frequency" and words <= _FREQUENCY:
        return "frequency"  # a column named just Frequency (RFM tables)
    if unit == "money" and words & _SPEND and not words & _NOT_SPEND:
        return "monetary"
    return None


def unnamed_spend(column: Column) -> bool:
    """A numeric feature read as money with no role whose name says neither
    spend nor another kind of money (balance, income, price, ...): it may be
    what customers spend, which only the user can say."""
    return (
        column.role == "numeric"
        and column.unit == "money"
        and column.meaning is None
        and not _unit_words(column.name) & (_SPEND | _OTHER_MONEY)
    )
