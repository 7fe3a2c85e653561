"""What both engines of the customer_features pipeline share: the standard
columns of a cleaned log, the cleaning rules in the order they are checked,
the check of ``customer_features.columns`` and ``compute``, and the revenue
log line. A leaf module: it imports neither engine.
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
# rejected for the first one it breaks.
RULES = {
    "no_customer_id": "no customer id",
    "bad_timestamp": "timestamp missing or not a date",
    "bad_amount": "amount, quantity or unit price missing or not a number",
    "duplicate": "duplicate of an earlier line",
    "future": "dated after the snapshot date (or today, without one)",
    "zero_or_negative_price": "zero or negative price",
    "return": "return or cancellation: netted from its customer's spend",
}


# Net values within this share of the bought value are zero: a full return
# nets to exactly 0, whatever the float rounding of the sums.
NET_TOLERANCE = 1e-9


class InvalidTransactionsError(UserError, ValueError):
    """A transaction log that does not match ``customer_features.columns``."""


def check_columns(transactions: Table, columns: dict) -> None:
    """The roles that must be given, and the named columns that must exist."""
    problems = []
    for role in ("customer_id", "timestamp"):
        if not columns.get(role):
            problems.append(f"customer_features.columns.{role} is not set")
    if not columns.get("amount") and not (columns.get("quantity") and columns.get("unit_price")):
        problems.append(
            "customer_features.columns needs amount (the line's value), or quantity and "
            "unit_price (multiplied)"
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
    """The features ``customer_features.compute`` names (all by default),
    each one known."""
    compute = list(customer_features.get("compute") or FEATURES)
    unknown = sorted(set(compute) - set(FEATURES))
    if unknown:
        raise InvalidTransactionsError(
            f"customer_features.compute names {unknown}; known features: {list(FEATURES)}"
        )
    return compute
