"""The customer_features nodes on Spark (``conf/spark``): the same cleaning
rules, in the same order, and the same features as ``nodes.py``, as Spark
column expressions and grouped aggregations, so that a log of billions of
lines never has to fit on one machine. The pipeline runs these, through
``engines.by_engine``, when its input is a Spark DataFrame; what both engines
share is in ``contracts.py``.

What differs, and why: a Spark source has no line numbers, so rejects carry
the line's own columns and reason only; timestamps in text are read with a
fixed list of common forms (ISO, YYYYMMDD, day or month first with ``/``,
``-`` or ``.``) or with ``date_format``, where pandas infers any form."""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from customer_segmentation.features import TRANSACTION_FEATURES as FEATURES
from customer_segmentation.sources import describe_table
from customer_segmentation.spark import col, id_text, number

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
    has_amount,
    log_revenue,
    no_purchase_left,
    report_rules,
    rules_not_applied,
)
from .timestamps import spark_pattern, text_forms

logger = logging.getLogger(__name__)

_MICROS_PER_DAY = 86_400_000_000


def _timestamps(lines: DataFrame, column: str, settings: dict) -> Column:
    """The timestamp of every line (null when it is not a date)."""
    kind = dict(lines.dtypes)[column]
    value = col(column)
    if date_format := settings["date_format"]:
        return F.try_to_timestamp(value.cast("string"), F.lit(spark_pattern(date_format)))
    if kind in ("timestamp", "timestamp_ntz", "date"):
        return value.cast("timestamp")
    if kind in ("int", "bigint", "smallint", "double", "float") or kind.startswith("decimal"):
        return F.try_to_timestamp(value.cast("bigint").cast("string"), F.lit("yyyyMMdd"))
    text = F.trim(value.cast("string"))
    not_eight_digits = lines.where(text.isNotNull() & ~text.rlike(r"^\d{8}$")).limit(1).count()
    if not not_eight_digits:
        return F.try_to_timestamp(text, F.lit("yyyyMMdd"))
    return F.coalesce(
        *[F.try_to_timestamp(text, F.lit(form)) for form in text_forms(settings["dayfirst"])]
    )


def _customer_ids(lines: DataFrame, column: str) -> Column:
    """Ids as text, as ``nodes._customer_codes`` cleans them: whole numbers
    without ".0", text stripped (all ids "17850.0": the ".0" removed), blank
    as missing."""
    if dict(lines.dtypes)[column] in ("double", "float"):
        text = id_text(lines, column)
    else:
        text = F.trim(col(column).cast("string"))
        exported_floats = lines.where(text.isNotNull() & (text != "")).where(
            ~text.rlike(r"^\d+\.0$")
        )
        if not exported_floats.limit(1).count() and lines.where(text != "").limit(1).count():
            text = F.regexp_replace(text, r"\.0$", "")
    return F.when(text != "", text)


def _number(lines: DataFrame, column: str | None) -> Column | None:
    return None if column is None else number(lines, column)


def _net_value(bought: Column, returned: Column) -> Column:
    """``nodes.net_value``: bought less returned value, floored at 0."""
    net = bought - returned
    return F.when(net > F.lit(NET_TOLERANCE) * F.abs(bought), net).otherwise(F.lit(0.0))


def _revenue(ruled: DataFrame, return_rule: int) -> dict:
    """``nodes._revenue`` in one grouped aggregation per customer and one sum."""
    value = F.coalesce(F.nanvl(F.abs("_amount"), F.lit(0.0)), F.lit(0.0))
    per_customer = (
        ruled.where((F.col("_rule") == 0) | (F.col("_rule") == return_rule))
        .groupBy("_customer")
        .agg(
            F.sum(F.when(F.col("_rule") == 0, value).otherwise(0.0)).alias("_bought"),
            F.sum(F.when(F.col("_rule") == return_rule, value).otherwise(0.0)).alias("_returned"),
        )
    )
    totals = per_customer.agg(
        F.sum("_bought").alias("gross"),
        F.sum("_returned").alias("returns"),
        F.sum(_net_value(F.col("_bought"), F.col("_returned"))).alias("attributed"),
    ).first()
    gross, returns = float(totals["gross"] or 0.0), float(totals["returns"] or 0.0)
    net = gross - returns
    return {
        "gross": gross,
        "returns": returns,
        "net": net,
        "unattributed_returns": float(totals["attributed"] or 0.0) - net,
    }


# The columns ``_read_lines`` adds to the log's own, for the rules.
_DERIVED = ("_customer", "_timestamp", "_amount", "_quantity", "_price", "_order", "_cancelled")


def _no_customer_id(lines: DataFrame, settings: dict, today: str | None) -> Column:
    return F.col("_customer").isNull()


def _bad_timestamp(lines: DataFrame, settings: dict, today: str | None) -> Column:
    return F.col("_timestamp").isNull()


def _bad_amount(lines: DataFrame, settings: dict, today: str | None) -> Column:
    return F.col("_amount").isNull()


def _duplicate(lines: DataFrame, settings: dict, today: str | None) -> Column:
    """Equal to another line in every column: all but one of each set."""
    if settings["duplicates"] == "keep":
        return F.lit(False)
    original = [col(c) for c in lines.columns if c not in _DERIVED]
    return F.row_number().over(Window.partitionBy(*original).orderBy(F.lit(1))) > 1


def _future(lines: DataFrame, settings: dict, today: str | None) -> Column:
    snapshot = settings["snapshot_date"]
    limit = dt.datetime.fromisoformat(str(snapshot or today or dt.date.today().isoformat()))
    limit += dt.timedelta(days=0 if snapshot else 1)
    return F.col("_timestamp") >= F.lit(limit)


def _zero_or_negative_price(lines: DataFrame, settings: dict, today: str | None) -> Column:
    if settings["columns"]["unit_price"]:
        return F.col("_price") <= 0
    return F.col("_amount") == 0


def _return(lines: DataFrame, settings: dict, today: str | None) -> Column:
    """A negative amount or quantity, or a cancelled order id."""
    negative = F.coalesce(F.col("_amount") < 0, F.lit(False)) | F.coalesce(
        F.col("_quantity") < 0, F.lit(False)
    )
    return negative | F.col("_cancelled")


# One function per rule of ``RULES`` (same names, applied in its order): the
# column that is true on the lines that break it.
CHECKS = {
    "no_customer_id": _no_customer_id,
    "bad_timestamp": _bad_timestamp,
    "bad_amount": _bad_amount,
    "duplicate": _duplicate,
    "future": _future,
    "zero_or_negative_price": _zero_or_negative_price,
    "return": _return,
}


def _order_columns(columns: dict, prefix: str | None) -> tuple[Column, Column]:
    """Each line's order key (a cancellation's is the order it cancels: its
    id without ``prefix``; the timestamp without order ids) and whether it
    is a cancellation."""
    if not columns["order_id"]:
        return F.col("_timestamp").cast("string"), F.lit(False)
    order = col(columns["order_id"]).cast("string")
    if not prefix:
        return order, F.lit(False)
    cancelled = F.coalesce(F.trim(order).startswith(prefix), F.lit(False))
    order = F.when(
        order.startswith(prefix), F.substring(order, len(prefix) + 1, 2**31 - 1)
    ).otherwise(order)
    return order, cancelled


def _read_lines(transactions: DataFrame, customer_features: dict) -> DataFrame:
    """The log's own columns and what the rules read: ``_customer``,
    ``_timestamp``, ``_amount``, ``_quantity``, ``_price`` (null when the log
    has none), ``_order`` and ``_cancelled``."""
    columns = customer_features["columns"]
    quantity = _number(transactions, columns["quantity"])
    price = _number(transactions, columns["unit_price"])
    amount = _number(transactions, columns["amount"])
    if amount is None and quantity is not None and price is not None:
        amount = quantity * price
    nothing = F.lit(None).cast("double")
    lines = transactions.select(
        *[col(c) for c in transactions.columns],
        _customer_ids(transactions, columns["customer_id"]).alias("_customer"),
        _timestamps(transactions, columns["timestamp"], customer_features).alias("_timestamp"),
        (amount if amount is not None else nothing).alias("_amount"),
        (quantity if quantity is not None else nothing).alias("_quantity"),
        (price if price is not None else nothing).alias("_price"),
    )
    order, cancelled = _order_columns(columns, customer_features["cancellation_prefix"])
    return lines.select("*", order.alias("_order"), cancelled.alias("_cancelled"))


def _rule_column(lines: DataFrame, settings: dict, today: str | None, skipped: dict) -> Column:
    """Each line's rule number: 0 when kept, else the number in ``RULES`` of
    the first applied rule it breaks."""
    reason = F.lit(0)
    for rule in reversed(RULES):
        if rule not in skipped:
            broken = F.coalesce(CHECKS[rule](lines, settings, today), F.lit(False))
            reason = F.when(broken, F.lit(RULE_NUMBERS[rule])).otherwise(reason)
    return reason


def _count_rules(ruled: DataFrame, skipped: dict) -> tuple[dict, dict[str, int], dict]:
    """Per rule number, the lines; per applied rule, the lines it touched and
    the summed absolute value of those lines; in one aggregation."""
    line_value = F.coalesce(F.nanvl(F.abs("_amount"), F.lit(0.0)), F.lit(0.0))
    counted = (
        ruled.groupBy("_rule").agg(F.count("*").alias("count"), F.sum(line_value).alias("value"))
    ).collect()
    per_rule = {int(row["_rule"]): int(row["count"]) for row in counted}
    value_per_rule = {int(row["_rule"]): float(row["value"] or 0.0) for row in counted}
    applied = [rule for rule in RULES if rule not in skipped]
    touched = {rule: per_rule.get(RULE_NUMBERS[rule], 0) for rule in applied}
    values = {rule: value_per_rule.get(RULE_NUMBERS[rule], 0.0) for rule in applied}
    return per_rule, touched, values


def clean_transactions(
    transactions: DataFrame, customer_features: dict, today: str | None = None
) -> tuple[DataFrame, DataFrame, dict]:
    """``nodes.clean_transactions`` on Spark: the same rules in the same
    order (one function each in ``CHECKS``), each line rejected for the
    first one it breaks, the lines each rule touched, and the value it
    removed, counted in one aggregation. A duplicate is a line equal to
    another in every column; one of each set of equal lines is kept. A log
    without amounts has no ``amount`` column once clean and no revenue."""
    columns = customer_features["columns"]
    check_columns(transactions, columns)
    summary = describe_table(transactions)
    skipped = rules_not_applied(customer_features)
    lines = _read_lines(transactions, customer_features)
    reason = _rule_column(lines, customer_features, today, skipped)
    ruled = lines.select("*", reason.alias("_rule")).persist()
    per_rule, touched, values = _count_rules(ruled, skipped)
    if not per_rule.get(0):
        raise no_purchase_left(summary["rows"], touched)
    with_amount = has_amount(columns)
    is_return = F.col("_rule") == RULE_NUMBERS["return"]
    clean = ruled.where((F.col("_rule") == 0) | is_return).select(
        F.col("_customer").alias(CUSTOMER),
        F.col("_timestamp").alias(TIMESTAMP),
        F.col("_order").alias(ORDER),
        *([F.abs("_amount").alias(AMOUNT)] if with_amount else []),
        is_return.alias(RETURN),
        *[
            F.coalesce(col(columns[role]).cast("string"), F.lit("missing")).alias(role)
            for role in (CATEGORY, CHANNEL)
            if columns[role]
        ],
    )
    names = F.array(*[F.lit(text) for text in RULES.values()])
    rejects = ruled.where(F.col("_rule") > 0).select(
        F.element_at(names, F.col("_rule")).alias("reason"),
        *[col(c) for c in transactions.columns],
    )
    revenue = _revenue(ruled, RULE_NUMBERS["return"]) if with_amount else None
    if revenue is not None:
        log_revenue(revenue)
    summary.update(
        report_rules(touched, values if with_amount else None, skipped, summary["rows"]),
        purchase_lines=per_rule.get(0, 0),
        return_lines=per_rule.get(RULE_NUMBERS["return"], 0),
        revenue=revenue,
    )
    return clean, rejects, summary


def _customer_totals(lines: DataFrame, weight: Column) -> DataFrame:
    """Per customer, from one aggregation per order and one per customer:
    bought and returned value (``_spend``, ``_returned``), whether they
    bought (``_buyer``), first and last purchase (``_first``, ``_last``, in
    microseconds), ``_net`` value and ``_frequency``, the orders kept."""
    bought = ~F.col(RETURN)
    spend = F.coalesce(F.sum(F.when(bought, weight)), F.lit(0.0))
    returned = F.coalesce(F.sum(F.when(F.col(RETURN), weight)), F.lit(0.0))
    per_order = lines.groupBy(CUSTOMER, ORDER).agg(
        spend.alias("_spend"),
        returned.alias("_returned"),
        F.max(bought.cast("int")).alias("_buyer"),
        F.min(F.when(bought, F.unix_micros(TIMESTAMP))).alias("_first"),
        F.max(F.when(bought, F.unix_micros(TIMESTAMP))).alias("_last"),
    )
    kept_order = _net_value(F.col("_spend"), F.col("_returned")) > 0
    return (
        per_order.groupBy(CUSTOMER)
        .agg(
            F.sum("_spend").alias("_spend"),
            F.sum("_returned").alias("_returned"),
            F.max("_buyer").alias("_buyer"),
            F.count(F.when(kept_order, 1)).alias("_kept_orders"),
            F.min("_first").alias("_first"),
            F.max("_last").alias("_last"),
        )
        .withColumn("_net", _net_value(F.col("_spend"), F.col("_returned")))
        .withColumn(  # everything returned: no order kept
            "_frequency", F.when(F.col("_net") == 0, 0).otherwise(F.col("_kept_orders"))
        )
    )


def _snapshot(lines: DataFrame, customer_features: dict) -> dt.datetime:
    """``snapshot_date``, or the day after the last purchase."""
    snapshot_date = customer_features["snapshot_date"]
    if snapshot_date:
        return dt.datetime.fromisoformat(str(snapshot_date))
    last = lines.where(~F.col(RETURN)).agg(F.max(TIMESTAMP)).first()[0]
    return dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())


def _feature_values(snapshot: dt.datetime) -> dict[str, Column]:
    """Every per-customer feature of ``FEATURES`` but the mixes, as a column
    over ``_customer_totals``."""
    snapshot_micros = F.unix_micros(F.lit(snapshot).cast("timestamp"))
    frequency = F.col("_frequency").cast("bigint")
    tenure = (snapshot_micros - F.col("_first")) / _MICROS_PER_DAY
    span = (F.col("_last") - F.col("_first")) / _MICROS_PER_DAY
    return {
        "recency_days": (snapshot_micros - F.col("_last")) / _MICROS_PER_DAY,
        "frequency": frequency,
        "monetary_total": F.col("_net"),
        "average_order_value": F.col("_net") / F.greatest(frequency, F.lit(1)),
        "tenure_days": tenure,
        "mean_days_between_orders": F.when(
            frequency > 1, span / F.greatest(frequency - 1, F.lit(1))
        ),
        "orders_per_week": frequency / F.greatest(tenure / 7, F.lit(1.0)),
        "return_share": F.when(
            F.col("_spend") > 0, F.least(F.col("_returned") / F.col("_spend"), F.lit(1.0))
        ).otherwise(0.0),
    }


def _with_mixes(
    features: DataFrame, lines: DataFrame, weight: Column, compute: list[str], settings: dict
) -> DataFrame:
    """``share_<category>`` columns and ``top_category`` / ``top_channel``,
    as ``compute`` asks and the log has the columns; by bought value (by
    lines without amounts)."""
    for column, name, wanted in (
        (CATEGORY, "category", "category_shares" in compute or "top_category" in compute),
        (CHANNEL, "channel", "top_channel" in compute),
    ):
        if column not in lines.columns or not wanted:
            continue
        mix, labels = _spend_mix(lines.where(~F.col(RETURN)), column, weight, settings)
        features = features.join(mix, on=CUSTOMER, how="left").fillna(0.0, subset=labels)
        spent = [col(label) for label in labels]
        extra = []
        if name == "category" and "category_shares" in compute:
            divisor = F.when(F.col("_spend") > 0, F.col("_spend")).otherwise(1.0)
            extra += [(c / divisor).alias(f"share_{label}") for c, label in zip(spent, labels)]
        if f"top_{name}" in compute:
            top = F.element_at(
                F.array(*[F.lit(label) for label in labels]),
                F.array_position(F.array(*spent), F.greatest(*spent)).cast("int"),
            )
            extra.append(F.when(sum(spent) > 0, top).alias(f"top_{name}"))
        kept = [c for c in features.columns if c not in labels]
        features = features.select(*[col(c) for c in kept], *extra)
    return features


def build_customer_features(clean_transactions: DataFrame, customer_features: dict) -> DataFrame:
    """``nodes.build_customer_features`` on Spark: one grouped aggregation
    per order and one per customer, plus one for the spend mix of categories
    and channels. Without amounts every line weighs one."""
    compute = features_to_compute(customer_features)
    lines = clean_transactions
    weight = F.col(AMOUNT) if AMOUNT in lines.columns else F.lit(1.0)
    per_customer = _customer_totals(lines, weight)
    only_returns = per_customer.where(F.col("_buyer") == 0).count()
    if only_returns:
        logger.info("%d customers have only returns or cancellations: left out", only_returns)
    snapshot = _snapshot(lines, customer_features)
    logger.info("Customer features as of %s", snapshot.date().isoformat())
    values = _feature_values(snapshot)
    features = per_customer.where(F.col("_buyer") == 1).select(
        CUSTOMER,
        "_spend",
        *[values[n].alias(n) for n in FEATURES if n in compute and n in values],
    )
    features = _with_mixes(features, lines, weight, compute, customer_features)
    return features.drop("_spend")


def _spend_mix(
    bought: DataFrame, column: str, weight: Column, settings: dict
) -> tuple[DataFrame, list[str]]:
    """Spend (``weight``) per customer in each of the ``category_top_n``
    values with the most spend (a column each, in that order), the rest as
    "other"."""
    totals = (
        bought.groupBy(column)
        .agg(F.sum(weight).alias("_total"))
        .orderBy(F.desc("_total"), column)
        .collect()
    )
    top_n = settings["category_top_n"]
    keep = [str(row[column]) for row in totals[:top_n]]
    labels = keep + (["other"] if len(totals) > len(keep) else [])
    label = F.when(col(column).isin(keep), col(column)).otherwise(F.lit("other"))
    mix = (
        bought.select(CUSTOMER, label.alias("_label"), weight.alias("_weight"))
        .groupBy(CUSTOMER)
        .pivot("_label", labels)
        .agg(F.sum("_weight"))
    )
    return mix, labels
