"""The cleaning rules of ``contracts.RULES`` on one machine (pandas): one
small function per rule, each saying which lines of the log break it,
applied in the order of ``RULES`` by ``nodes.clean_transactions``.
``spark_nodes`` has the same table for Spark."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Log:
    """A log as the cleaning rules read it: each line's customer code (-1:
    no id), timestamp, amount, quantity and unit price (None when the log
    has none), whether its order id marks a cancellation, its hash, and the
    settings."""

    customers: np.ndarray
    stamps: pd.Series
    amount: pd.Series | None
    quantity: pd.Series | None
    price: pd.Series | None
    cancelled: np.ndarray
    line_hashes: np.ndarray
    settings: dict
    today: str | None


def _no_customer_id(log: Log) -> np.ndarray:
    return log.customers < 0


def _bad_timestamp(log: Log) -> np.ndarray:
    return log.stamps.isna().to_numpy()


def _bad_amount(log: Log) -> np.ndarray:
    return log.amount.isna().to_numpy()


def _duplicate(log: Log) -> np.ndarray:
    if log.settings["duplicates"] == "keep":
        return np.zeros(len(log.customers), bool)
    return pd.Series(log.line_hashes).duplicated().to_numpy()


def _future(log: Log) -> np.ndarray:
    """Dated on or after the snapshot date, or after today without one."""
    snapshot = log.settings["snapshot_date"]
    limit = pd.Timestamp(snapshot or log.today or dt.date.today().isoformat())
    return (log.stamps >= limit + pd.Timedelta(days=0 if snapshot else 1)).to_numpy()


def _zero_or_negative_price(log: Log) -> np.ndarray:
    if log.price is not None:
        return (log.price <= 0).to_numpy()
    return (log.amount == 0).to_numpy()


def _return(log: Log) -> np.ndarray:
    """A negative amount or quantity, or a cancelled order id."""
    negative = np.zeros(len(log.customers), bool)
    for values in (log.amount, log.quantity):
        if values is not None:
            negative |= (values < 0).to_numpy()
    return negative | log.cancelled


# One function per rule of ``RULES`` (same names, applied in its order):
# which lines break it.
CHECKS = {
    "no_customer_id": _no_customer_id,
    "bad_timestamp": _bad_timestamp,
    "bad_amount": _bad_amount,
    "duplicate": _duplicate,
    "future": _future,
    "zero_or_negative_price": _zero_or_negative_price,
    "return": _return,
}
