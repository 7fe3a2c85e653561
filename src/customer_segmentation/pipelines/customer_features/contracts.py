"""What both engines of the customer_features pipeline share: the standard
columns of a cleaned log, the cleaning rules in the order they are checked
(each engine has one small function per rule), the check of
``customer_features.columns`` and ``compute``, what each rule did, for the
log and ``transactions_summary``, and the revenue log line. A leaf module:
it imports neither engine.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from customer_segmentation.errors import UserError
from customer_segmentation.features import TRANSACTION_FEATURES as FEATURES

if TYPE_CHECKING:
    from customer_segmentation.engines import Table

logger = logging.getLogger(__name__)


# The columns of a cleaned log, whatever the source calls them.
CUSTOMER, TIMESTAMP, ORDER, AMOUNT, CATEGORY, CHANNEL = (
    "customer_id",
    "timestamp",
    "order_id",
    "amount",
    "category",
    "channel",
)


RETURN = "is_return"


# The rules that leave a line out, in the order they are checked: a line is
# rejected for the first one it breaks. Each engine applies them through a
# table of one function per rule, keyed by these names.
RULES = {
    "no_customer_id": "no customer id",
    "bad_timestamp": "timestamp missing or not a date",
    "bad_amount": "amount, quantity or unit price missing or not a number",
    "duplicate": "duplicate of an earlier line",
    "future": "dated after the snapshot date (or today, without one)",
    "zero_or_negative_price": "zero or negative price",
    "return": "return or cancellation: netted from its customer's spend",
}
# Each rule's number, as a line's reason code holds it (0: kept).
RULE_NUMBERS = {rule: number for number, rule in enumerate(RULES, start=1)}


# The rules that read a line's value: not applied to a log without amounts
# (no amount, quantity or unit price); without amounts, a return is only a
# cancellation (an order id starting with cancellation_prefix).
AMOUNT_RULES = ("bad_amount", "zero_or_negative_price")
# The features made of a line's value, computed only from a log with amounts.
AMOUNT_FEATURES = ("monetary_total", "average_order_value", "return_share", "category_shares")
NO_AMOUNT = "the log has no amount (customer_features.columns: amount, or quantity and unit_price)"


# Net values within this share of the bought value are zero: a full return
# nets to exactly 0, whatever the float rounding of the sums.
NET_TOLERANCE = 1e-9


class InvalidTransactionsError(UserError, ValueError):
    """A transaction log that does not match ``customer_features.columns``."""


def has_amount(columns: dict) -> bool:
    """Whether the log says what each line is worth: an amount, or a
    quantity and a unit price."""
    return bool(columns["amount"] or (columns["quantity"] and columns["unit_price"]))


def check_columns(transactions: Table, columns: dict) -> None:
    """The roles that must be given, and the named columns that must exist.
    A log may have no value at all (no amount, quantity or unit price), but
    not half of one (a quantity without a unit price, or the reverse)."""
    problems = []
    for role in ("customer_id", "timestamp"):
        if not columns[role]:
            problems.append(f"customer_features.columns.{role} is not set")
    if not has_amount(columns) and (columns["quantity"] or columns["unit_price"]):
        problems.append(
            "customer_features.columns needs amount (the line's value), or quantity and "
            "unit_price (multiplied), or none of the three for a log without values"
        )
    missing = [
        f"'{name}' ({role})"
        for role, name in columns.items()
        if name is not None and name not in transactions.columns
    ]
    if missing:
        problems.append(
            f"columns {', '.join(missing)} are not in transactions, which has "
            f"{list(transactions.columns)[:12]}"
        )
    if problems:
        raise InvalidTransactionsError(
            "transactions does not match customer_features.columns:\n  - " + "\n  - ".join(problems)
        )


def rules_not_applied(customer_features: dict) -> dict[str, str]:
    """The rules that cannot be applied to this log, and why: without
    amounts, those that read a line's value, and the return rule too when
    cancellations cannot be told either (no order id or no
    ``cancellation_prefix``)."""
    columns = customer_features["columns"]
    if has_amount(columns):
        return {}
    skipped = dict.fromkeys(AMOUNT_RULES, NO_AMOUNT)
    if not (columns["order_id"] and customer_features["cancellation_prefix"]):
        skipped["return"] = (
            f"{NO_AMOUNT}, and no cancellations are marked (order_id and cancellation_prefix)"
        )
    return skipped


def report_rules(
    touched: dict[str, int], values: dict[str, float] | None, skipped: dict[str, str], rows: int
) -> dict:
    """What the rules did, for ``transactions_summary``: the lines each
    applied rule touched (``lines_per_rule``), and per rule the lines and
    the summed absolute value of those lines (``rules``; ``value`` null
    without amounts); the rules not applied and why (``rules_not_applied``).
    Each rule logs one line, zero lines included; a rule not applied says so."""
    for rule, why in skipped.items():
        logger.info("transactions rule '%s' not applied: %s", rule, why)
    for rule, count in touched.items():
        logger.info("transactions rule '%s': %d of %d lines (%s)", rule, count, rows, RULES[rule])
    return {
        "lines_per_rule": touched,
        "rules": [
            {
                "rule": rule,
                "description": RULES[rule],
                "lines": count,
                "value": None if values is None else values[rule],
            }
            for rule, count in touched.items()
        ],
        "rules_not_applied": [
            {"rule": rule, "description": RULES[rule], "why": why} for rule, why in skipped.items()
        ],
    }


def no_purchase_left(rows: int, touched: dict[str, int]) -> InvalidTransactionsError:
    """The error of a log the rules leave no purchase in."""
    return InvalidTransactionsError(
        f"no purchase is left in transactions after the rules ({rows:,} lines; lines per "
        f"rule: {touched})"
    )


def log_revenue(revenue: dict) -> None:
    """One INFO line: the revenue the features are built from."""
    logger.info(
        "transactions revenue: gross %.2f, returns %.2f, net %.2f (returns no customer's "
        "spend absorbs: %.2f)",
        revenue["gross"],
        revenue["returns"],
        revenue["net"],
        revenue["unattributed_returns"],
    )


def features_to_compute(customer_features: dict) -> list[str]:
    """The features ``customer_features.compute`` names, each one known (by
    default all; from a log without amounts, all but ``AMOUNT_FEATURES``).
    Asking for a feature made of amounts from a log without them is an error."""
    has_value = has_amount(customer_features["columns"])
    requested = customer_features["compute"]
    compute = list(requested or FEATURES)
    unknown = sorted(set(compute) - set(FEATURES))
    if unknown:
        raise InvalidTransactionsError(
            f"customer_features.compute names {unknown}; known features: {list(FEATURES)}"
        )
    if has_value:
        return compute
    valued = [name for name in compute if name in AMOUNT_FEATURES]
    if requested and valued:
        raise InvalidTransactionsError(
            f"customer_features.compute names {valued}, made of what each line is worth, but "
            f"{NO_AMOUNT}: remove them from compute, or name the amount column"
        )
    return [name for name in compute if name not in AMOUNT_FEATURES]
