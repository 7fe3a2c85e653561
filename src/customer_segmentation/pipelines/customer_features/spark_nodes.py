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
import re

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
    RULES,
    TIMESTAMP,
    InvalidTransactionsError,
    check_columns,
    features_to_compute,
    log_revenue,
)

logger = logging.getLogger(__name__)

_MICROS_PER_DAY = 86_400_000_000
# strftime directives and the Spark datetime patterns that read them.
_STRFTIME = {
    "%Y": "yyyy",
    "%y": "yy",
    "%m": "MM",
    "%d": "dd",
    "%H": "HH",
    "%I": "hh",
    "%p": "a",
    "%M": "mm",
    "%S": "ss",
    "%f": "SSSSSS",
    "%b": "MMM",
    "%B": "MMMM",
    "%j": "DDD",
    "%z": "Z",
    "%%": "%",
}


def spark_pattern(date_format: str) -> str:
    """A strftime format as a Spark datetime pattern (literal text quoted)."""
    parts = re.split(r"(%.)", date_format)
    pattern = []
    for part in parts:
        if part in _STRFTIME:
            pattern.append(_STRFTIME[part])
        elif part.startswith("%"):
            raise InvalidTransactionsError(
                f"customer_features.date_format {date_format!r}: {part} has no Spark equivalent"
            )
        elif part:
            pattern.append(re.sub(r"([A-Za-z]+)", r"'\1'", part))
    return "".join(pattern)


def _text_forms(dayfirst: bool) -> list[str]:
    """The text forms a timestamp may take without ``date_format``."""
    first, second = ("d", "M") if dayfirst else ("M", "d")
    forms = ["yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]", "yyyy-M-d[ H:mm[:ss][.SSSSSS]]"]
    for separator in ("/", "-", "."):
        forms.append(f"{first}{separator}{second}{separator}yyyy[ H:mm[:ss]]")
    return forms


def _timestamps(lines: DataFrame, column: str, settings: dict) -> Column:
    """The timestamp of every line (null when it is not a date)."""
    kind = dict(lines.dtypes)[column]
    value = col(column)
    if date_format := settings.get("date_format"):
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
        *[F.try_to_timestamp(text, F.lit(form)) for form in _text_forms(settings.get("dayfirst"))]
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


def clean_transactions(
    transactions: DataFrame, customer_features: dict, today: str | None = None
) -> tuple[DataFrame, DataFrame, dict]:
    """``nodes.clean_transactions`` on Spark: the same rules in the same
    order, each line rejected for the first one it breaks, the lines each
    rule touched, and the value it removed, counted in one aggregation. A
    duplicate is a line equal to another in every column; one of each set of
    equal lines is kept."""
    columns = customer_features["columns"]
    check_columns(transactions, columns)
    summary = describe_table(transactions)
    original = [col(c) for c in transactions.columns]
    quantity = _number(transactions, columns.get("quantity"))
    price = _number(transactions, columns.get("unit_price"))
    amount = _number(transactions, columns.get("amount"))
    if amount is None:
        amount = quantity * price
    lines = transactions.select(
        *original,
        _customer_ids(transactions, columns["customer_id"]).alias("_customer"),
        _timestamps(transactions, columns["timestamp"], customer_features).alias("_timestamp"),
        amount.alias("_amount"),
        (quantity if quantity is not None else F.lit(None).cast("double")).alias("_quantity"),
        (price if price is not None else F.lit(None).cast("double")).alias("_price"),
    )
    order = (
        col(columns["order_id"]).cast("string")
        if columns.get("order_id")
        else F.col("_timestamp").cast("string")
    )
    prefix = customer_features.get("cancellation_prefix")
    cancelled = (
        F.coalesce(F.trim(col(columns["order_id"]).cast("string")).startswith(prefix), F.lit(False))
        if prefix and columns.get("order_id")
        else F.lit(False)
    )
    if prefix and columns.get("order_id"):  # a cancellation is of the order its id names
        order = F.when(
            col(columns["order_id"]).cast("string").startswith(prefix),
            F.substring(order, len(prefix) + 1, 2**31 - 1),
        ).otherwise(order)
    negative = F.coalesce(F.col("_amount") < 0, F.lit(False)) | F.coalesce(
        F.col("_quantity") < 0, F.lit(False)
    )
    snapshot = customer_features.get("snapshot_date")
    limit = dt.datetime.fromisoformat(str(snapshot or today or dt.date.today().isoformat()))
    limit += dt.timedelta(days=0 if snapshot else 1)
    duplicate = (
        F.row_number().over(Window.partitionBy(*original).orderBy(F.lit(1))) > 1
        if customer_features.get("duplicates", "drop") == "drop"
        else F.lit(False)
    )
    checks = {
        "no_customer_id": F.col("_customer").isNull(),
        "bad_timestamp": F.col("_timestamp").isNull(),
        "bad_amount": F.col("_amount").isNull(),
        "duplicate": duplicate,
        "future": F.col("_timestamp") >= F.lit(limit),
        "zero_or_negative_price": (
            F.col("_price") <= 0 if price is not None else F.col("_amount") == 0
        ),
        "return": negative | cancelled,
    }
    reason = F.lit(0)
    for rule_number, broken in reversed(list(enumerate(checks.values(), start=1))):
        reason = F.when(F.coalesce(broken, F.lit(False)), F.lit(rule_number)).otherwise(reason)
    ruled = lines.select("*", order.alias("_order"), reason.alias("_rule")).persist()
    line_value = F.coalesce(F.nanvl(F.abs("_amount"), F.lit(0.0)), F.lit(0.0))
    counted = (
        ruled.groupBy("_rule").agg(F.count("*").alias("count"), F.sum(line_value).alias("value"))
    ).collect()
    per_rule = {int(row["_rule"]): int(row["count"]) for row in counted}
    value_per_rule = {int(row["_rule"]): float(row["value"] or 0.0) for row in counted}
    touched = {
        rule: per_rule.get(rule_number, 0) for rule_number, rule in enumerate(checks, start=1)
    }
    removed = [
        {
            "rule": rule,
            "description": RULES[rule],
            "lines": touched[rule],
            "value": value_per_rule.get(rule_number, 0.0),
        }
        for rule_number, rule in enumerate(checks, start=1)
    ]
    rows = summary["rows"]
    for rule, count in touched.items():
        logger.info("transactions rule '%s': %d of %d lines (%s)", rule, count, rows, RULES[rule])
    if not per_rule.get(0):
        raise InvalidTransactionsError(
            f"no purchase is left in transactions after the rules ({rows:,} lines; lines per "
            f"rule: {touched})"
        )
    is_return = F.col("_rule") == len(checks)
    kept = ruled.where((F.col("_rule") == 0) | is_return)
    clean = kept.select(
        F.col("_customer").alias(CUSTOMER),
        F.col("_timestamp").alias(TIMESTAMP),
        F.col("_order").alias(ORDER),
        F.abs("_amount").alias(AMOUNT),
        is_return.alias(RETURN),
        *[
            F.coalesce(col(columns[role]).cast("string"), F.lit("missing")).alias(role)
            for role in (CATEGORY, CHANNEL)
            if columns.get(role)
        ],
    )
    names = F.array(*[F.lit(text) for text in RULES.values()])
    rejects = ruled.where(F.col("_rule") > 0).select(
        F.element_at(names, F.col("_rule")).alias("reason"), *original
    )
    revenue = _revenue(ruled, len(checks))
    log_revenue(revenue)
    summary.update(
        lines_per_rule=touched,
        purchase_lines=per_rule.get(0, 0),
        return_lines=touched["return"],
        revenue=revenue,
        rules=removed,
    )
    return clean, rejects, summary


def build_customer_features(clean_transactions: DataFrame, customer_features: dict) -> DataFrame:
    """``nodes.build_customer_features`` on Spark: one grouped aggregation
    per order and one per customer, plus one for the spend mix of categories
    and channels."""
    compute = features_to_compute(customer_features)
    lines = clean_transactions
    bought = ~F.col(RETURN)
    spend = F.coalesce(F.sum(F.when(bought, F.col(AMOUNT))), F.lit(0.0))
    returned = F.coalesce(F.sum(F.when(F.col(RETURN), F.col(AMOUNT))), F.lit(0.0))
    per_order = lines.groupBy(CUSTOMER, ORDER).agg(
        spend.alias("_spend"),
        returned.alias("_returned"),
        F.max(bought.cast("int")).alias("_buyer"),
        F.min(F.when(bought, F.unix_micros(TIMESTAMP))).alias("_first"),
        F.max(F.when(bought, F.unix_micros(TIMESTAMP))).alias("_last"),
    )
    kept_order = _net_value(F.col("_spend"), F.col("_returned")) > 0
    per_customer = (
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
    only_returns = per_customer.where(F.col("_buyer") == 0).count()
    if only_returns:
        logger.info("%d customers have only returns or cancellations: left out", only_returns)
    snapshot_date = customer_features.get("snapshot_date")
    if snapshot_date:
        snapshot = dt.datetime.fromisoformat(str(snapshot_date))
    else:
        last = lines.where(bought).agg(F.max(TIMESTAMP)).first()[0]
        snapshot = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())
    logger.info("Customer features as of %s", snapshot.date().isoformat())
    snapshot_micros = F.unix_micros(F.lit(snapshot).cast("timestamp"))
    frequency = F.col("_frequency").cast("bigint")
    tenure = (snapshot_micros - F.col("_first")) / _MICROS_PER_DAY
    span = (F.col("_last") - F.col("_first")) / _MICROS_PER_DAY
    values = {
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
    features = per_customer.where(F.col("_buyer") == 1).select(
        CUSTOMER,
        "_spend",
        *[values[n].alias(n) for n in FEATURES if n in compute and n in values],
    )
    for column, name, wanted in (
        (CATEGORY, "category", "category_shares" in compute or "top_category" in compute),
        (CHANNEL, "channel", "top_channel" in compute),
    ):
        if column not in lines.columns or not wanted:
            continue
        mix, labels = _spend_mix(lines.where(bought), column, customer_features)
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
    return features.drop("_spend")


def _spend_mix(bought: DataFrame, column: str, settings: dict) -> tuple[DataFrame, list[str]]:
    """Spend per customer in each of the ``category_top_n`` values with the
    most spend (a column each, in that order), the rest as "other"."""
    totals = (
        bought.groupBy(column)
        .agg(F.sum(AMOUNT).alias("_total"))
        .orderBy(F.desc("_total"), column)
        .collect()
    )
    top_n = settings.get("category_top_n", 8)
    keep = [str(row[column]) for row in totals[:top_n]]
    labels = keep + (["other"] if len(totals) > len(keep) else [])
    label = F.when(col(column).isin(keep), col(column)).otherwise(F.lit("other"))
    mix = (
        bought.select(CUSTOMER, label.alias("_label"), AMOUNT)
        .groupBy(CUSTOMER)
        .pivot("_label", labels)
        .agg(F.sum(AMOUNT))
    )
    return mix, labels
