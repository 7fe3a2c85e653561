"""Nodes of the customer_features pipeline: clean a transaction log by
explicit, counted rules, then aggregate it into one row of behavioural
features per customer, the table the segmentation pipelines read.

The log's columns are named in ``customer_features.columns`` (customer id,
timestamp, the line's amount or its quantity and unit price, and optionally
an order id, a product category and a channel; a log may have no amounts).
Everything is vectorised pandas and NumPy over integer codes, never a loop
over customers or lines, so that a log of millions of lines aggregates on
one machine (``benchmarks/transactions.py`` measures it).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from customer_segmentation.features import TRANSACTION_FEATURES as FEATURES
from customer_segmentation.sources import encode, fingerprint

from .contracts import (
    AMOUNT,
    CATEGORY,
    CHANNEL,
    CUSTOMER,
    NET_TOLERANCE,
    ORDER,
    RETURN,
    RULE_NUMBERS,
    RULES,
    TIMESTAMP,
    check_columns,
    features_to_compute,
    log_revenue,
    no_purchase_left,
    report_rules,
    rules_not_applied,
)
from .rules import CHECKS, Log
from .timestamps import parse_timestamps

logger = logging.getLogger(__name__)

_DAY = np.timedelta64(1, "D")


def _column(transactions: pd.DataFrame, columns: dict, role: str) -> pd.Series | None:
    name = columns[role]
    return None if name is None else transactions[name]


def _customer_codes(values: pd.Series, encoded: tuple) -> tuple[np.ndarray, pd.Index]:
    """Each line's customer as a code into the sorted distinct ids (-1: no
    id). Ids are text: whole numbers without ".0" (ids with gaps are read as
    floats, or exported as "17850.0"), text stripped, blank as missing. The cleaning is done on the
    distinct ids, not on every line."""
    codes, dictionary = encoded
    if dictionary is None:  # numbers: their distinct values, as text
        codes, numbers = pd.factorize(values, use_na_sentinel=True)
        if pd.api.types.is_float_dtype(numbers) and (numbers % 1 == 0).all():
            numbers = numbers.astype("int64")
        distinct = pd.Series(numbers.astype(str), dtype="string")
    else:
        distinct = pd.Series(dictionary.to_pandas(), dtype="string").str.strip()
        if distinct.str.fullmatch(r"\d+\.0").all():  # numbers exported as 17850.0
            distinct = distinct.str.removesuffix(".0")
    distinct = distinct.mask(distinct == "")
    ids, uniques = pd.factorize(distinct, sort=True, use_na_sentinel=True)
    remap = np.append(ids, -1)  # code -1 (no id) stays -1
    return remap[codes], pd.Index(uniques.astype(str))


def _numbers(values: pd.Series | None) -> pd.Series | None:
    return None if values is None else pd.to_numeric(values, errors="coerce")


def net_value(bought: np.ndarray, returned: np.ndarray) -> np.ndarray:
    """Bought value less returned value, floored at 0: more returned than
    bought (returns of purchases made before the log starts) is no spend,
    not a negative one. The one definition of net spend, for a customer's
    ``monetary_total``, for an order (kept or fully returned) and for the
    revenue that ``transactions_summary`` reconciles."""
    net = bought - returned
    return np.where(net > NET_TOLERANCE * np.abs(bought), net, 0.0)


def _revenue(
    customers: np.ndarray, value: np.ndarray, purchase: np.ndarray, is_return: np.ndarray
) -> dict:
    """The log's revenue: ``gross`` (purchase lines kept), ``returns`` (return
    and cancellation lines, positive), ``net`` = gross - returns, and
    ``unattributed_returns``: the returns no customer's spend absorbs (returns
    of customers with no purchase in the log, and the part of a customer's
    returns above what they bought), so that the customers' ``monetary_total``
    sums to net + unattributed_returns."""
    size = int(customers.max()) + 1 if len(customers) else 0
    bought = np.bincount(customers[purchase], weights=value[purchase], minlength=size)
    returned = np.bincount(customers[is_return], weights=value[is_return], minlength=size)
    gross, returns = float(bought.sum()), float(returned.sum())
    net = gross - returns
    return {
        "gross": gross,
        "returns": returns,
        "net": net,
        "unattributed_returns": float(net_value(bought, returned).sum()) - net,
    }


def _orders(transactions: pd.DataFrame, columns: dict, encoded: dict, prefix: str | None, stamps):
    """Each line's order key and whether it is a cancellation: the order id
    (a cancellation's is the order it cancels: its id without
    ``prefix``), or the timestamp in a log without order ids."""
    cancelled = np.zeros(len(transactions), bool)
    if not columns["order_id"]:
        return stamps.to_numpy("datetime64[ns]").view(np.int64), cancelled
    orders, dictionary = encoded[columns["order_id"]]
    if prefix and dictionary is not None:
        flags = pc.starts_with(dictionary, prefix).fill_null(False).to_numpy(False)
        cancelled = np.append(flags, False)[orders]
        if flags.any():
            base = pc.if_else(flags, pc.utf8_slice_codeunits(dictionary, len(prefix)), dictionary)
            base_codes = pd.factorize(base.to_numpy(zero_copy_only=False))[0]
            orders = np.append(base_codes, -1)[orders]
    return orders, cancelled


def _read_log(transactions: pd.DataFrame, customer_features: dict, today: str | None):
    """The log as the rules read it (``Log``), each line's order key, the
    sorted distinct customer ids, and what was read (rows, columns, hash)."""
    columns = customer_features["columns"]
    encoded = {
        columns[role]: encode(transactions[columns[role]])
        for role in ("customer_id", "order_id")
        if columns[role]
    }
    summary, line_hashes = fingerprint(transactions, encoded)
    customers, ids = _customer_codes(
        transactions[columns["customer_id"]], encoded[columns["customer_id"]]
    )
    stamps = parse_timestamps(
        _column(transactions, columns, "timestamp"),
        customer_features["date_format"],
        customer_features["dayfirst"],
    )
    quantity = _numbers(_column(transactions, columns, "quantity"))
    price = _numbers(_column(transactions, columns, "unit_price"))
    amount = _numbers(_column(transactions, columns, "amount"))
    if amount is None and quantity is not None and price is not None:
        amount = quantity * price
    prefix = customer_features["cancellation_prefix"]
    orders, cancelled = _orders(transactions, columns, encoded, prefix, stamps)
    log = Log(
        customers, stamps, amount, quantity, price, cancelled, line_hashes, customer_features, today
    )
    return log, orders, ids, summary


def _apply_rules(log: Log, skipped: dict[str, str]) -> tuple[np.ndarray, dict[str, int]]:
    """Each line's rule number (0: kept; else the number in ``RULES`` of the
    first rule it breaks), and the lines each applied rule touched."""
    reason = np.zeros(len(log.customers), dtype=np.int8)
    touched = {}
    for number, rule in enumerate(RULES, start=1):
        if rule in skipped:
            continue
        fresh = CHECKS[rule](log) & (reason == 0)
        reason[fresh] = number
        touched[rule] = int(fresh.sum())
    return reason, touched


def _clean_table(
    transactions: pd.DataFrame, columns: dict, log: Log, orders: np.ndarray, ids, kept, is_return
) -> pd.DataFrame:
    """The purchase and return lines in standard columns; ``amount`` only
    from a log with amounts."""
    clean = pd.DataFrame(
        {
            CUSTOMER: pd.Categorical.from_codes(log.customers[kept], categories=ids),
            TIMESTAMP: log.stamps.to_numpy("datetime64[ns]")[kept],
            ORDER: orders[kept],
        }
    )
    if log.amount is not None:
        clean[AMOUNT] = np.abs(log.amount.to_numpy(float)[kept])
    clean[RETURN] = is_return[kept]
    for role in (CATEGORY, CHANNEL):
        values = _column(transactions, columns, role)
        if values is not None:
            values = values[kept]
            if not isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype("string").fillna("missing").astype("category")
            clean[role] = values.reset_index(drop=True)
    return clean


def _rejects(
    transactions: pd.DataFrame, reason: np.ndarray, left_out: np.ndarray, first_line: int
) -> pd.DataFrame:
    """The lines left out as they were, with their line in the source and
    the description of the rule they broke."""
    names = list(RULES.values())
    rejects = transactions.iloc[left_out].copy()
    rejects.insert(0, "line", left_out + first_line)
    rejects.insert(1, "reason", [names[number - 1] for number in reason[left_out]])
    return rejects.reset_index(drop=True)


def clean_transactions(
    transactions: pd.DataFrame, customer_features: dict, today: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Splits the log into purchase and return lines in standard columns
    (``customer_id`` as a categorical of the text ids, ``timestamp``,
    ``order_id`` as an integer key, ``amount``, ``is_return``, optional
    ``category`` and ``channel``) and the lines left out, each with its line
    in the source (``first_line`` is the first data row's) and the reason
    (``RULES``, one function each in ``CHECKS``). Every rule logs how many
    lines it touched, zero included.

    A return or cancellation is a negative quantity or amount, or an order id
    starting with ``cancellation_prefix``; it is kept (as a positive amount,
    ``is_return``) to be netted from its customer's spend and also listed
    among the rejects, since it is not a purchase. A cancellation's
    ``order_id`` is the order it cancels (its id without the prefix). A line
    equal to an earlier one in every column (by a 64-bit hash of the line)
    is a duplicate, unless ``duplicates: keep`` (a log without order ids or
    times may hold two equal purchases on one day). ``today`` (ISO date;
    default: the run's date) bounds the dates when no ``snapshot_date`` is
    set.

    A log without amounts (only a customer id and a timestamp, say) has no
    ``amount`` column once clean: the rules that read a value are not
    applied (``contracts.rules_not_applied``, logged and listed in the
    summary) and its revenue is null.

    Also returns what was read (rows, columns, content hash), what the rules
    did (``contracts.report_rules``: the value of a line without one counts
    0) and the revenue (``_revenue``), for ``transactions_summary``; the
    revenue is logged."""
    columns = customer_features["columns"]
    check_columns(transactions, columns)
    log, orders, ids, summary = _read_log(transactions, customer_features, today)
    skipped = rules_not_applied(customer_features)
    reason, touched = _apply_rules(log, skipped)
    is_return = reason == RULE_NUMBERS["return"]
    purchase = reason == 0
    kept = purchase | is_return
    if not purchase.any():
        raise no_purchase_left(len(transactions), touched)
    clean = _clean_table(transactions, columns, log, orders, ids, kept, is_return)
    left_out = np.flatnonzero(~kept | is_return)
    rejects = _rejects(transactions, reason, left_out, customer_features["first_line"])
    values, revenue = None, None
    if log.amount is not None:
        value = np.nan_to_num(np.abs(log.amount.to_numpy(float)))  # no value: 0
        values = {rule: float(value[reason == RULE_NUMBERS[rule]].sum()) for rule in touched}
        revenue = _revenue(log.customers, value, purchase, is_return)
        log_revenue(revenue)
    summary.update(
        report_rules(touched, values, skipped, len(transactions)),
        purchase_lines=int(purchase.sum()),
        return_lines=int(is_return.sum()),
        revenue=revenue,
    )
    return clean, rejects, summary


def build_customer_features(
    clean_transactions: pd.DataFrame, customer_features: dict
) -> pd.DataFrame:
    """One row per customer with at least one purchase, id first, with the
    features named in ``compute`` (definitions in the README):

    ``recency_days`` (days from the last purchase to the snapshot date),
    ``frequency`` (the orders the customer kept something of: distinct order
    ids, or distinct timestamps of the customer without an order id; an order
    whose returns, the return lines with its id, are worth all of it does not
    count, and a customer whose returns are worth all they bought kept no
    order: 0), ``monetary_total`` (net spend: bought value less returned
    value, floored at 0, since a customer cannot spend less than nothing;
    see ``net_value``), ``average_order_value`` (net spend per order),
    ``tenure_days`` (days from the first purchase to the snapshot date),
    ``mean_days_between_orders`` (empty for one order), ``orders_per_week``
    (over the weeks from the first purchase to the snapshot, at least one),
    ``return_share`` (returned value over bought value, clipped to [0, 1]: a
    full return is 1), ``category_shares`` (``share_<category>``: the share
    of bought value, before returns, in each of the ``category_top_n``
    categories with the most, the rest as ``share_other``), ``top_category``
    and ``top_channel`` (by bought value).

    Recency and tenure date every purchase, returned or not: the last and
    first time the customer bought. Customers with only returns in the log
    are left out (``transactions_summary`` counts their returns as
    unattributed). The snapshot date is ``snapshot_date``, or the day after
    the last purchase."""
    compute = features_to_compute(customer_features)
    lines = clean_transactions
    codes = lines[CUSTOMER].cat.codes.to_numpy().astype(np.int64)
    ids = lines[CUSTOMER].cat.categories
    returns = lines[RETURN].to_numpy(bool)
    # Without amounts every line weighs one: orders net and categories rank by lines.
    weight = lines[AMOUNT].to_numpy(float) if AMOUNT in lines else np.ones(len(lines))
    totals = _customer_totals(codes, lines[ORDER].to_numpy(), weight, returns, len(ids))
    days = lines[TIMESTAMP].to_numpy("datetime64[ns]")[~returns]
    values = _feature_values(totals, codes[~returns], days, customer_features)
    table = {CUSTOMER: ids.to_numpy()}
    table.update({name: values[name] for name in FEATURES if name in compute and name in values})
    features = pd.DataFrame(table)
    mixes = _mix_features(lines, codes, weight, totals["spend"], compute, customer_features)
    features = pd.concat([features, *mixes], axis=1)
    features = features.loc[totals["buyers"]].reset_index(drop=True)
    logger.info("customer_features: %d customers, %d columns", len(features), features.shape[1] - 1)
    return features


def _customer_totals(
    codes: np.ndarray, orders: np.ndarray, weight: np.ndarray, returns: np.ndarray, size: int
) -> dict[str, np.ndarray]:
    """Per customer: bought and returned value (``spend``, ``returned``),
    ``net`` value, the orders kept (``frequency``: none when everything was
    returned) and whether they bought anything (``buyers``; customers with
    only returns are logged and left out)."""
    bought = ~returns
    spend = _per_customer(codes[bought], weight[bought], size)
    returned = _per_customer(codes[returns], weight[returns], size)
    net = net_value(spend, returned)
    buyers = np.bincount(codes[bought], minlength=size) > 0
    only_returns = (np.bincount(codes, minlength=size) > 0) & ~buyers
    if only_returns.any():
        logger.info("%d customers have only returns or cancellations: left out", only_returns.sum())
    frequency = _kept_orders(codes, orders, weight, returns, size)
    frequency[net == 0] = 0  # everything returned: no order kept
    return {
        "spend": spend,
        "returned": returned,
        "net": net,
        "frequency": frequency,
        "buyers": buyers,
    }


def _feature_values(
    totals: dict, purchase_codes: np.ndarray, days: np.ndarray, customer_features: dict
) -> dict[str, np.ndarray]:
    """Every per-customer feature of ``FEATURES`` but the mixes, from the
    totals and the purchase lines' customers and dates, as of the snapshot
    date (``snapshot_date``, or the day after the last purchase)."""
    size = len(totals["net"])
    by_customer = pd.Series(days.view(np.int64)).groupby(purchase_codes)
    first = by_customer.min().reindex(range(size)).to_numpy().astype("datetime64[ns]")
    last = by_customer.max().reindex(range(size)).to_numpy().astype("datetime64[ns]")
    snapshot = customer_features["snapshot_date"]
    snapshot = (
        np.datetime64(pd.Timestamp(snapshot), "ns")
        if snapshot
        else (days.max().astype("datetime64[D]") + 1).astype("datetime64[ns]")
    )
    logger.info("Customer features as of %s", str(snapshot)[:10])
    tenure = (snapshot - first) / _DAY
    frequency, net, spend = totals["frequency"], totals["net"], totals["spend"]
    return {
        "recency_days": (snapshot - last) / _DAY,
        "frequency": frequency,
        "monetary_total": net,
        "average_order_value": net / np.maximum(frequency, 1),
        "tenure_days": tenure,
        "mean_days_between_orders": np.where(
            frequency > 1, ((last - first) / _DAY) / np.maximum(frequency - 1, 1), np.nan
        ),
        "orders_per_week": frequency / np.maximum(tenure / 7, 1),
        "return_share": np.clip(
            np.divide(totals["returned"], spend, out=np.zeros(size), where=spend > 0), 0.0, 1.0
        ),
    }


def _mix_features(  # noqa: PLR0913 - the lines, their weights and the settings
    lines: pd.DataFrame,
    codes: np.ndarray,
    weight: np.ndarray,
    spend: np.ndarray,
    compute: list[str],
    customer_features: dict,
) -> list[pd.DataFrame]:
    """``share_<category>`` columns and ``top_category`` / ``top_channel``,
    as ``compute`` asks and the log has the columns; by bought value (by
    lines without amounts)."""
    bought = ~lines[RETURN].to_numpy(bool)
    size = len(spend)
    mixes = []
    for column, name, wanted in (
        (CATEGORY, "category", "category_shares" in compute or "top_category" in compute),
        (CHANNEL, "channel", "top_channel" in compute),
    ):
        if column not in lines or not wanted:
            continue
        mix = _spend_mix(
            codes[bought], lines[column][bought], weight[bought], size, customer_features
        )
        if name == "category" and "category_shares" in compute:
            shares = mix.div(np.where(spend > 0, spend, 1), axis=0)
            mixes.append(shares.add_prefix("share_"))
        if f"top_{name}" in compute:
            top = mix.idxmax(axis=1).where(mix.sum(axis=1) > 0)
            mixes.append(top.rename(f"top_{name}").to_frame())
    return mixes


def _per_customer(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=size)


def _kept_orders(
    codes: np.ndarray, orders: np.ndarray, amount: np.ndarray, returns: np.ndarray, size: int
) -> np.ndarray:
    """Per customer, the orders with net value left (``net_value`` of the
    order's purchase lines and its return lines, those with its order id)."""
    order_codes = pd.factorize(orders)[0].astype(np.int64)
    width = int(order_codes.max()) + 1
    pairs, keys = pd.factorize(codes * width + order_codes)
    bought = np.bincount(pairs, weights=np.where(returns, 0.0, amount))
    returned = np.bincount(pairs, weights=np.where(returns, amount, 0.0))
    kept = net_value(bought, returned) > 0
    return np.bincount(keys[kept] // width, minlength=size)


def _spend_mix(
    codes: np.ndarray, values: pd.Series, amount: np.ndarray, size: int, settings: dict
) -> pd.DataFrame:
    """Spend per customer (a row) in each of the ``category_top_n`` values
    with the most spend (a column), the rest as "other"."""
    value_codes, labels = pd.factorize(values)
    totals = np.bincount(value_codes, weights=amount, minlength=len(labels))
    top_n = settings["category_top_n"]
    keep = np.argsort(-totals, kind="stable")[:top_n]
    mapping = np.full(len(labels), len(keep))
    mapping[keep] = np.arange(len(keep))
    names = [str(labels[i]) for i in keep] + (["other"] if len(labels) > len(keep) else [])
    counts = np.bincount(
        codes * (len(keep) + 1) + mapping[value_codes],
        weights=amount,
        minlength=size * (len(keep) + 1),
    ).reshape(size, len(keep) + 1)
    return pd.DataFrame(counts[:, : len(names)], columns=names)
