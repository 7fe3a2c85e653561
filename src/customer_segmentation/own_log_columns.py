"""What each column of a transaction log is, for ``kedro configure-data
--transactions``: inferred from names (``COLUMN_NAMES``) and values.

- the **customer id**: a column named like a customer, client, user or member
  id, else one named plain ``id`` (``ID``, ``uid``) whatever its values (in a
  log ids repeat), read as text;
- the **timestamp**: a column named like a date or time whose values parse as
  dates (day first when a value such as 13/01/2011 says so);
- the **amount**, or a **quantity** and a **unit price** to multiply; or
  neither (lifetimes' ``date,id`` example): spend is then unknown, the
  features that need it (``MONEY_FEATURES``) are not computed and customer
  value rests on frequency;
- an **order id** (invoice, order, transaction, receipt); when some of its
  values start with a letter the others lack (UCI Online Retail's "C" on
  cancelled invoices), that letter is the **cancellation prefix**;
- a **category** and a **channel**, when named so.
"""

from __future__ import annotations

import re

import pandas as pd

from customer_segmentation.own_names import is_customer_id_named, is_plain_id_named
from customer_segmentation.own_quoting import printable
from customer_segmentation.own_reading import SourceError

COLUMN_NAMES = {
    "customer_id": re.compile(
        r"^(customer|client|user|member|account|buyer|shopper|cust)[\s_.-]*(id|no|number|key|code|ref)?$",
        re.I,
    ),
    "order_id": re.compile(
        r"^(invoice|order|transaction|receipt|basket|ticket|bill)[\s_.-]*(id|no|number|key|code|ref)?$",
        re.I,
    ),
    "timestamp": re.compile(r"date|time|timestamp|datetime|created|purchased|ordered|^day$", re.I),
    "quantity": re.compile(r"^(quantity|qty|units|number[\s_]*of[\s_]*\w+|items|count)$", re.I),
    "unit_price": re.compile(r"price|unit[\s_]*cost|rate", re.I),
    "amount": re.compile(
        r"amount|value|total|revenue|sales|spend|dollar|euro|pound|sum|paid|net|gross", re.I
    ),
    "category": re.compile(r"category|department|genre|product[\s_]*(type|group|line)", re.I),
    "channel": re.compile(r"channel|platform|source|store[\s_]*type|medium", re.I),
}


# The features that need the value of a line: spend, or spend-weighted mixes.
MONEY_FEATURES = (
    "monetary_total",
    "average_order_value",
    "return_share",
    "category_shares",
    "top_category",
    "top_channel",
)


def _first(columns: list[str], role: str, taken: set[str]) -> str | None:
    """The first column not ``taken`` whose name reads as ``role``."""
    return next(
        (c for c in columns if c not in taken and COLUMN_NAMES[role].search(c.strip())), None
    )


def _parses_as_dates(values: pd.Series) -> tuple[bool, bool]:
    """Whether the values are dates, and whether they are written day first."""
    present = values.dropna().astype(str).str.strip().head(2000)
    if present.empty:
        return False, False
    if present.str.fullmatch(r"(19|20)\d{6}").mean() > 0.9:
        return True, False
    parsed = pd.to_datetime(present, errors="coerce", format="mixed")
    day_first = bool(present.str.match(r"^(1[3-9]|2\d|3[01])[/.-]\d{1,2}[/.-]").any())
    if day_first:
        parsed = pd.to_datetime(present, errors="coerce", format="mixed", dayfirst=True)
    return bool(parsed.notna().mean() > 0.9), day_first


def _cancellation_prefix(values: pd.Series) -> str | None:
    """A letter some order ids start with and most lack, as "C" in C536379."""
    text = values.dropna().astype(str).str.strip()
    letters = text.str.extract(r"^([A-Za-z])\d", expand=False).dropna()
    if letters.empty or len(letters) > 0.5 * len(text):
        return None
    return str(letters.value_counts().index[0])


def _customer_id(columns: list[str]) -> str | None:
    """The customer id of a log: named like one (``customer_id``, ``CUST_ID``,
    ``CLIENTNUM``), else named plain ``id``, ``ID`` or ``uid``."""
    return (
        _first(columns, "customer_id", set())
        or next((c for c in columns if is_customer_id_named(c)), None)
        or next((c for c in columns if is_plain_id_named(c)), None)
    )


def _timestamp(log: pd.DataFrame, columns: list[str], taken: set) -> tuple[str | None, bool]:
    """The first column not ``taken`` that is named like a date or time and
    whose values parse as dates, and whether they are written day first."""
    for column in columns:
        if column in taken or not COLUMN_NAMES["timestamp"].search(column):
            continue
        is_date, day_first = _parses_as_dates(log[column])
        if is_date:
            return column, day_first
    return None, False


def _roles(log: pd.DataFrame) -> tuple[dict[str, str | None], bool]:
    """The column of each role (None where none fits), each column used
    once, and whether the dates are written day first. A quantity and a unit
    price win over an amount; one without the other is not used."""
    columns = [str(c) for c in log.columns]
    roles: dict[str, str | None] = {"customer_id": _customer_id(columns)}
    taken: set[str | None] = {roles["customer_id"]}
    for role in ("order_id", "quantity", "unit_price"):
        roles[role] = _first(columns, role, taken)
        taken.add(roles[role])
    roles["timestamp"], day_first = _timestamp(log, columns, taken)
    taken.add(roles["timestamp"])
    has_price = roles["quantity"] and roles["unit_price"]
    roles["amount"] = None if has_price else _first(columns, "amount", taken)
    if not has_price:
        roles["quantity"] = roles["unit_price"] = None
    for role in ("category", "channel"):
        roles[role] = _first(columns, role, taken)
        taken.add(roles[role])
    missing = [role for role in ("customer_id", "timestamp") if not roles[role]]
    if missing:
        raise SourceError(
            f"could not tell which columns are the {' and '.join(missing)} among "
            f"{printable(str(columns))}: "
            "name them in customer_features.columns of an environment by hand "
            "(see conf/cdnow_example)"
        )
    return roles, day_first


def _dates_only(times: pd.Series) -> bool:
    """Whether every timestamp is a date without a time of day (a time of
    midnight on every line is no time of day)."""
    present = times.dropna().astype(str).str.strip().head(2000)
    return bool(
        present.str.fullmatch(
            r"((19|20)\d{6}|\d{4}-\d{2}-\d{2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})"
            r"([ T]00:00(:00(\.0+)?)?)?"
        ).all()
    )


def _no_money_note(roles: dict) -> str:
    """What a log without amounts loses: the money features it cannot compute."""
    skipped = [
        f
        for f in MONEY_FEATURES
        if not (f.endswith("category") or f == "category_shares") or roles["category"]
        if f != "top_channel" or roles["channel"]
    ]
    return (
        "no amount, quantity or unit price: spend is unknown, so customer value rests on "
        f"frequency (and recency); not computed: {', '.join(skipped)}"
    )


def infer_transaction_columns(log: pd.DataFrame) -> tuple[dict, dict, list[str]]:
    """The role of each column of a log, the date settings and notes."""
    roles, day_first = _roles(log)
    settings = {
        "dayfirst": day_first,
        # Without order ids or times of day, two equal lines are two equal
        # purchases on one day, not a duplicate export.
        "duplicates": "keep"
        if roles["order_id"] is None and _dates_only(log[roles["timestamp"]])
        else "drop",
        "cancellation_prefix": _cancellation_prefix(log[roles["order_id"]])
        if roles["order_id"]
        else None,
    }
    notes = [f"{role}: {name}" for role, name in roles.items() if name]
    if not has_money(roles):
        notes.append(_no_money_note(roles))
    return roles, settings, notes


def has_money(roles: dict) -> bool:
    """Whether the log says what each line is worth."""
    return bool(roles["amount"] or (roles["quantity"] and roles["unit_price"]))
