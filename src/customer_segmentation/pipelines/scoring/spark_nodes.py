"""The scoring nodes on Spark (``conf/spark``): every row of the batch is
screened and scored by the one-machine code (``kernels.screen_rows`` and
``kernels.score_rows``) applied by Spark to each Arrow batch, with the fitted
model shipped once per task; a duplicate id is found across the whole batch
first. The pipeline runs these, through ``engines.by_engine``, when its
input is a Spark DataFrame."""

from __future__ import annotations

import logging
import operator
from functools import reduce

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import key_column
from customer_segmentation.spark import col, ddl, map_batches, require_id_column

from . import kernels
from .kernels import (
    FILLED,
    OUTSIDE_EXAMPLES,
    batch_spec,
    most_first,
    reason_kind,
    score_rows,
    screen_rows,
    screening_messages,
    segment_names_and_version,
)

logger = logging.getLogger(__name__)

_REPEATED, _REASON = "_repeated", "reason"


def screen_customers_to_score(
    customers_to_score: DataFrame, segmentation_model: Pipeline, features: dict, scoring: dict
) -> tuple[DataFrame, DataFrame]:
    """``nodes.screen_customers_to_score`` on Spark: the scorable rows and
    the rejects (id, reason and the row's feature values as read: a Spark
    source has no line numbers), both lazy Spark DataFrames over one
    persisted screening pass."""
    spec = batch_spec(list(customers_to_score.columns), segmentation_model, features)
    require_id_column(spec)
    id_column = spec.id_column
    raw_columns = customers_to_score.columns
    key = col(id_column)
    marked = customers_to_score.withColumn(
        _REPEATED, key.isNotNull() & (F.count(F.lit(1)).over(Window.partitionBy(key)) > 1)
    )
    numeric, categorical = list(spec.numeric), list(spec.categorical)

    def screen(batch: pd.DataFrame) -> pd.DataFrame:
        repeated = batch.pop(_REPEATED).to_numpy(bool)
        rows, values, first = screen_rows(batch, segmentation_model, spec, scoring, repeated)
        rows = rows.assign(**{c: values[c] for c in numeric})
        rows[_REASON] = first.reindex(rows.index).astype("string")
        for column in [id_column, FILLED]:  # categories are text already (screen_rows)
            rows[column] = rows[column].astype("string")
        return rows

    schema = ddl(
        {
            id_column: "string",
            **dict.fromkeys(numeric, "double"),
            **dict.fromkeys(categorical, "string"),
            FILLED: "string",
            _REASON: "string",
        }
    )
    screened = map_batches(
        marked.select(*[col(c) for c in raw_columns], F.col(_REPEATED)), screen, schema
    ).persist()
    scorable = screened.where(F.col(_REASON).isNull()).drop(_REASON)
    rejects = screened.where(F.col(_REASON).isNotNull()).select(
        key, F.col(_REASON), *[col(c) for c in [*numeric, *categorical]]
    )
    counts = screened.agg(
        F.count(F.lit(1)).alias("rows"), F.count(F.col(_REASON)).alias("rejected")
    ).first()
    rows, rejected = counts["rows"], counts["rejected"]
    reasons = _reason_counts(rejects) if rejected else pd.Series(dtype="int64")
    outside = _outside_categories(scorable, segmentation.fitted_categories(segmentation_model))
    for level, message in screening_messages(rows, rows - rejected, reasons, outside, spec):
        logger.log(level, message)
    return scorable, rejects


def _outside_categories(
    scorable: DataFrame, known: dict[str, list[str]]
) -> dict[str, tuple[int, list[str]]]:
    """``kernels.outside_categories`` on Spark, in one pass: the scorable
    categorical columns are already text as the model reads them
    (``screen_rows``), so only a missing value needs its name."""
    if not known:
        return {}
    pairs = F.explode(
        F.array(
            *[
                F.struct(
                    F.lit(c).alias("column"),
                    F.coalesce(col(c), F.lit(segmentation.MISSING)).alias("value"),
                )
                for c in known
            ]
        )
    )
    outside = reduce(
        operator.or_,
        [(F.col("column") == c) & ~F.col("value").isin(list(k)) for c, k in known.items()],
    )
    counted = (
        scorable.select(pairs.alias("pair"))
        .select("pair.*")
        .where(outside)
        .groupBy("column", "value")
        .count()
    )
    per_column = Window.partitionBy("column")
    in_order = per_column.orderBy(F.desc("count"), F.asc("value"))  # kernels.most_first
    top = (
        counted.withColumn("rows", F.sum("count").over(per_column))
        .withColumn("rank", F.row_number().over(in_order))
        .where(F.col("rank") <= OUTSIDE_EXAMPLES)
        .toPandas()
        .sort_values("rank")
    )
    return {
        column: (int(found["rows"].iloc[0]), found["value"].tolist())
        for column in known
        if len(found := top[top["column"] == column])
    }


def score_customers(
    scorable_customers: DataFrame,
    segmentation_model: Pipeline,
    segmentation_model_version: str | None,
    segment_profiles: pd.DataFrame,
    id_column: str,
) -> DataFrame:
    """``nodes.score_customers`` on Spark: ``kernels.score_rows`` applied by
    Spark to every batch of screened rows."""
    id_column = key_column(id_column)
    names, version = segment_names_and_version(
        segmentation_model, segmentation_model_version, segment_profiles
    )
    schema = ddl(
        {
            id_column: "string",
            "segment": "bigint",
            "confidence": "double",
            "segment_name": "string",
            "model_version": "string",
            FILLED: "string",
        }
    )
    logger.info("Scoring with segmentation_model %s on Spark", version)
    return map_batches(
        scorable_customers,
        lambda batch: score_rows(batch, segmentation_model, names, version, id_column).astype(
            {"segment": np.int64}
        ),
        schema,
    )


def _reason_counts(rejects: DataFrame) -> pd.Series:
    """``kernels.reason_counts`` on Spark: each reason's kind found by
    ``kernels.reason_kind`` on every Arrow batch, the kinds counted by Spark."""
    kinds = map_batches(
        rejects.select(F.col(_REASON)),
        lambda batch: pd.DataFrame({"kind": batch[_REASON].map(reason_kind)}),
        ddl({"kind": "string"}),
    )
    counts = kinds.groupBy("kind").count().toPandas()
    return most_first(counts.set_index("kind")["count"])


def filled_counts(scored_customers: DataFrame) -> dict[str, int]:
    """``nodes.filled_counts`` on Spark."""
    columns = F.explode(F.split(F.col(FILLED), ", ")).alias("column")
    rows = scored_customers.where(F.col(FILLED) != "").select(columns).groupBy("column")
    counts = rows.count().toPandas().set_index("column")["count"]
    counts = counts.sort_values(ascending=False, kind="stable")
    return {str(column): int(count) for column, count in counts.items()}


def check_reject_share(
    scored_customers: DataFrame, scoring_rejects: DataFrame, max_reject_share: float
) -> None:
    """``nodes.check_reject_share`` on Spark: the rows counted by Spark."""
    kernels.check_reject_share(
        scored_customers.count(),
        scoring_rejects.count(),
        max_reject_share,
        lambda: _reason_counts(scoring_rejects),
    )
