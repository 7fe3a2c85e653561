"""Nodes of the customer_features pipeline: clean a transaction log by
explicit, counted rules, then aggregate it into one row of behavioural
features per customer, the table the segmentation pipelines read.

The log's columns are named in ``customer_features.columns`` (customer id,
timestamp, the line's amount or its quantity and unit price, and optionally
an order id, a product category and a channel). Everything is vectorised
pandas and NumPy over integer codes: ten million lines for a million
customers aggregate in seconds on one machine (``benchmarks/transactions.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings

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
    RULES,
    TIMESTAMP,
    InvalidTransactionsError,
    check_columns,
    features_to_compute,
    log_revenue,
)

logger = logging.getLogger(__name__)

_DAY = np.timedelta64(1, "D")


def _column(transactions: pd.DataFrame, columns: dict, role: str) -> pd.Series | None:
    name = columns.get(role)
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


def _timestamps(values: pd.Series, date_format: str | None, dayfirst: bool) -> pd.Series:
    """Parses dates and times: ``date_format`` when given; else whole numbers
    as YYYYMMDD and text in ISO or the usual day/month forms; NaT when not a date."""
    if date_format:
        return pd.to_datetime(values, format=date_format, errors="coerce")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(None) if values.dt.tz is not None else values
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_datetime(
            values.astype("Int64").astype("string"), format="%Y%m%d", errors="coerce"
        )
    text = values.astype("string").str.strip()
    if text.dropna().str.fullmatch(r"\d{8}").all():
        return pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    # One format, inferred from the first value, parses a consistent log fast;
    # only the values it misses are parsed one by one (format="mixed" is 20
    # times slower: 14 s for UCI Online Retail's 540,000 lines).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
        stamps = pd.to_datetime(text, dayfirst=dayfirst, errors="coerce")
    missed = stamps.isna() & text.notna()
    if missed.any():
        stamps[missed] = pd.to_datetime(
            text[missed], format="mixed", dayfirst=dayfirst, errors="coerce"
        )
    return stamps


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


def clean_transactions(  # noqa: PLR0915 - the rules, one after another
    transactions: pd.DataFrame, customer_features: dict, today: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Splits the log into purchase and return lines in standard columns
    (``customer_id`` as a categorical of the text ids, ``timestamp``,
    ``order_id`` as an integer key, ``amount``, ``is_return``, optional
    ``category`` and ``channel``) and the lines left out, each with its line
    in the source (``first_line`` is the first data row's) and the reason
    (``RULES``). Every rule logs how many lines it touched, zero included.

    A return or cancellation is a negative quantity or amount, or an order id
    starting with ``cancellation_prefix``; it is kept (as a positive amount,
    ``is_return``) to be netted from its customer's spend and also listed
    among the rejects, since it is not a purchase. A cancellation's
    ``order_id`` is the order it cancels (its id without the prefix). A line equal to an earlier one in every column (by
    a 64-bit hash of the line) is a duplicate, unless ``duplicates: keep`` (a
    log without order ids or times may hold two equal purchases on one day).
    ``today`` (ISO date; default: the run's date) bounds the dates when no
    ``snapshot_date`` is set. Also returns what was read (rows, columns,
    content hash), the lines each rule touched (``lines_per_rule``), the
    value each rule removed (``rules``: the summed absolute value of its
    lines; a line without a value counts 0) and the revenue
    (``_revenue``), for ``transactions_summary``; the revenue is logged.
    """
    columns = customer_features["columns"]
    check_columns(transactions, columns)
    first_line = customer_features.get("first_line", 2)
    encoded = {
        columns[role]: encode(transactions[columns[role]])
        for role in ("customer_id", "order_id")
        if columns.get(role)
    }
    summary, line_hashes = fingerprint(transactions, encoded)
    customers, ids = _customer_codes(
        transactions[columns["customer_id"]], encoded[columns["customer_id"]]
    )
    stamps = _timestamps(
        _column(transactions, columns, "timestamp"),
        customer_features.get("date_format"),
        customer_features.get("dayfirst", False),
    )
    quantity = _numbers(_column(transactions, columns, "quantity"))
    price = _numbers(_column(transactions, columns, "unit_price"))
    amount = _numbers(_column(transactions, columns, "amount"))
    if amount is None:
        amount = quantity * price
    prefix = customer_features.get("cancellation_prefix")
    cancelled = np.zeros(len(transactions), bool)
    if columns.get("order_id"):
        orders, dictionary = encoded[columns["order_id"]]
        if prefix and dictionary is not None:
            flags = pc.starts_with(dictionary, prefix).fill_null(False).to_numpy(False)
            cancelled = np.append(flags, False)[orders]
            if flags.any():  # a cancellation is of the order its id names
                base = pc.if_else(
                    flags, pc.utf8_slice_codeunits(dictionary, len(prefix)), dictionary
                )
                base_codes = pd.factorize(base.to_numpy(zero_copy_only=False))[0]
                orders = np.append(base_codes, -1)[orders]
    else:
        orders = stamps.to_numpy("datetime64[ns]").view(np.int64)
    negative = (amount < 0).to_numpy() | (
        (quantity < 0).to_numpy() if quantity is not None else False
    )
    snapshot = customer_features.get("snapshot_date")
    limit = pd.Timestamp(snapshot or today or dt.date.today().isoformat())
    checks = {
        "no_customer_id": customers < 0,
        "bad_timestamp": stamps.isna().to_numpy(),
        "bad_amount": amount.isna().to_numpy(),
        "duplicate": (
            pd.Series(line_hashes).duplicated().to_numpy()
            if customer_features.get("duplicates", "drop") == "drop"
            else np.zeros(len(transactions), bool)
        ),
        "future": (stamps >= limit + pd.Timedelta(days=0 if snapshot else 1)).to_numpy(),
        "zero_or_negative_price": (
            (price <= 0).to_numpy() if price is not None else (amount == 0).to_numpy()
        ),
        "return": negative | cancelled,
    }
    value = np.nan_to_num(np.abs(amount.to_numpy(float)))  # no value: 0
    reason = np.zeros(len(transactions), dtype=np.int8)  # 0: kept, else the rule's number
    touched, removed = {}, []
    for number, (rule, broken) in enumerate(checks.items(), start=1):
        fresh = broken & (reason == 0)
        reason[fresh] = number
        touched[rule] = int(fresh.sum())
        removed.append(
            {
                "rule": rule,
                "description": RULES[rule],
                "lines": touched[rule],
                "value": float(value[fresh].sum()),
            }
        )
        logger.info(
            "transactions rule '%s': %d of %d lines (%s)",
            rule,
            touched[rule],
            len(transactions),
            RULES[rule],
        )
    is_return = reason == len(checks)
    kept = (reason == 0) | is_return
    if not (reason == 0).any():
        raise InvalidTransactionsError(
            f"no purchase is left in transactions after the rules ({len(transactions):,} "
            f"lines; lines per rule: {touched})"
        )
    clean = pd.DataFrame(
        {
            CUSTOMER: pd.Categorical.from_codes(customers[kept], categories=ids),
            TIMESTAMP: stamps.to_numpy("datetime64[ns]")[kept],
            ORDER: orders[kept],
            AMOUNT: np.abs(amount.to_numpy(float)[kept]),
            RETURN: is_return[kept],
        }
    )
    for role in (CATEGORY, CHANNEL):
        values = _column(transactions, columns, role)
        if values is not None:
            values = values[kept]
            if not isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype("string").fillna("missing").astype("category")
            clean[role] = values.reset_index(drop=True)
    names = list(RULES.values())
    rejects = transactions.loc[~kept | is_return].copy()
    left_out = np.flatnonzero(~kept | is_return)
    rejects.insert(0, "line", left_out + first_line)
    rejects.insert(1, "reason", [names[number - 1] for number in reason[left_out]])
    revenue = _revenue(customers, value, reason == 0, is_return)
    log_revenue(revenue)
    summary.update(
        lines_per_rule=touched,
        purchase_lines=int((reason == 0).sum()),
        return_lines=int(is_return.sum()),
        revenue=revenue,
        rules=removed,
    )
    return clean, rejects.reset_index(drop=True), summary


def _per_customer(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=size)


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
    size = len(ids)
    bought = ~returns
    amount = lines[AMOUNT].to_numpy(float)
    spend = _per_customer(codes[bought], amount[bought], size)
    returned = _per_customer(codes[returns], amount[returns], size)
    net = net_value(spend, returned)
    buyers = np.bincount(codes[bought], minlength=size) > 0
    only_returns = (np.bincount(codes, minlength=size) > 0) & ~buyers
    if only_returns.any():
        logger.info("%d customers have only returns or cancellations: left out", only_returns.sum())
    purchase_codes = codes[bought]
    frequency = _kept_orders(codes, lines[ORDER].to_numpy(), amount, returns, size)
    frequency[net == 0] = 0  # everything returned: no order kept
    days = lines[TIMESTAMP].to_numpy("datetime64[ns]")[bought]
    by_customer = pd.Series(days.view(np.int64)).groupby(purchase_codes)
    first = by_customer.min().reindex(range(size)).to_numpy().astype("datetime64[ns]")
    last = by_customer.max().reindex(range(size)).to_numpy().astype("datetime64[ns]")
    snapshot = customer_features.get("snapshot_date")
    snapshot = (
        np.datetime64(pd.Timestamp(snapshot), "ns")
        if snapshot
        else (days.max().astype("datetime64[D]") + 1).astype("datetime64[ns]")
    )
    logger.info("Customer features as of %s", str(snapshot)[:10])
    tenure = (snapshot - first) / _DAY
    table = {}
    values = {
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
            np.divide(returned, spend, out=np.zeros(size), where=spend > 0), 0.0, 1.0
        ),
    }
    table[CUSTOMER] = ids.to_numpy()
    for name in FEATURES:
        if name in compute and name in values:
            table[name] = values[name]
    features = pd.DataFrame(table)
    for column, name, wanted in (
        (CATEGORY, "category", "category_shares" in compute or "top_category" in compute),
        (CHANNEL, "channel", "top_channel" in compute),
    ):
        if column not in lines or not wanted:
            continue
        mix = _spend_mix(
            purchase_codes, lines[column][bought], amount[bought], size, customer_features
        )
        if name == "category" and "category_shares" in compute:
            shares = mix.div(np.where(spend > 0, spend, 1), axis=0)
            features = pd.concat([features, shares.add_prefix("share_")], axis=1)
        if f"top_{name}" in compute:
            features[f"top_{name}"] = mix.idxmax(axis=1).where(mix.sum(axis=1) > 0)
    features = features.loc[buyers].reset_index(drop=True)
    logger.info("customer_features: %d customers, %d columns", len(features), features.shape[1] - 1)
    return features


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
    top_n = settings.get("category_top_n", 8)
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
