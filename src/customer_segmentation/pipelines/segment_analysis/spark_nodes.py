"""The segment_analysis nodes that read every customer, on Spark
(``conf/spark``): the join of customers and segments, the per-segment
statistics profiles are made of (grouped aggregations) and the export of
target customers. Names, actions, pictures and the report use the
one-machine code on the profiles and a sample. The pipeline runs these,
through ``engines.by_engine``, when their input is a Spark DataFrame; what
both engines share is in ``kernels.py`` and ``targets.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, NumericType
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec, key_column
from customer_segmentation.spark import col, collect_sample, ddl, map_batches

from .kernels import assemble_profiles
from .rules import segment_rules
from .targets import target_columns, targeted_segments

_SCALED = "_scaled_"
# Up to this many customers, medians are exact (as pandas computes them);
# beyond, Spark's exact percentile would hold every distinct value of every
# column of a segment in memory, so they are approximate, within 0.001% of
# the rows of the median's rank (percentile_approx with accuracy 100,000).
EXACT_MEDIAN_MAX_ROWS = 1_000_000
_MEDIAN_ACCURACY = 100_000


def _approximate_median(column):
    return F.percentile_approx(column, 0.5, _MEDIAN_ACCURACY)


def segment_customers(
    validated_customers: DataFrame, customer_segments: DataFrame, id_column: str
) -> DataFrame:
    """``nodes.segment_customers`` on Spark: the join by id (segment and
    confidence), kept (memory, then disk) for the nodes that read it; a
    customer without a segment stops the run."""
    id_column = key_column(id_column)
    segmented = validated_customers.join(
        customer_segments.select(col(id_column), "segment", "confidence"), on=id_column, how="left"
    ).persist()  # profiles and the sample read it again: join once
    unassigned = segmented.where(F.col("segment").isNull())
    first = unassigned.select(col(id_column)).limit(1).collect()
    if first:
        raise ValueError(
            f"{unassigned.count()} customers have no segment in customer_segments (first "
            f"{id_column}: {first[0][0]}); validated_customers and customer_segments come "
            "from different runs"
        )
    return segmented


def sample_segmented_customers(
    segmented_customers: DataFrame, sample_size: int, id_column: str, random_seed: int
) -> pd.DataFrame:
    """``nodes.sample_segmented_customers`` on Spark: at most ``sample_size``
    customers, collected to the driver (``spark.collect_sample``)."""
    return collect_sample(segmented_customers, sample_size, random_seed, key_column(id_column))[0]


def profile_segments(
    segmented_customers: DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    naming: dict,
    model_selection_metrics: dict | None = None,
) -> pd.DataFrame:
    """``nodes.profile_segments`` on Spark: the statistics aggregated by
    Spark (``segment_statistics``), the profile table assembled from them."""
    spec = FeatureSpec.parse(features)
    statistics = segment_statistics(segmented_customers, segmentation_model, spec)
    stability = (model_selection_metrics or {}).get("segment_stability")
    return assemble_profiles(*statistics, segmentation_model, spec, features, naming, stability)


def segment_statistics(
    segmented: DataFrame, segmentation_model: Pipeline, spec: FeatureSpec
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """``nodes.segment_statistics`` by Spark, in two passes: one grouped
    aggregation for sizes, means, exact medians and the count, sum and sum
    of squares of every column on the clustering's scale (the model's numeric
    steps applied to every batch), from which the overall mean and spread
    follow; and one count of every categorical column's values."""
    numeric, categorical = spec.described_numeric, spec.described_categorical
    model_numeric = list(spec.numeric)

    def scaled(batch: pd.DataFrame) -> pd.DataFrame:
        values = segmentation.scaled_numeric(segmentation_model, batch[model_numeric])
        return batch.assign(**{f"{_SCALED}{c}": values[c].to_numpy() for c in model_numeric})

    schema = ddl(
        {
            "segment": "bigint",
            **dict.fromkeys(numeric, "double"),
            **{f"{_SCALED}{c}": "double" for c in model_numeric},
        }
    )
    rows = map_batches(
        segmented.select("segment", *[col(c).cast("double").alias(c) for c in numeric]),
        scaled,
        schema,
    )
    scale = {c: col(f"{_SCALED}{c}" if c in model_numeric else c) for c in numeric}
    median = F.median if segmented.count() <= EXACT_MEDIAN_MAX_ROWS else _approximate_median
    per_segment = (
        rows.groupBy("segment")
        .agg(
            F.count(F.lit(1)).alias("_customers"),
            *[F.avg(col(c)).alias(f"mean_{c}") for c in numeric],
            *[median(col(c)).alias(f"median_{c}") for c in numeric],
            *[F.count(scale[c]).alias(f"count_{c}") for c in numeric],
            *[F.sum(scale[c]).alias(f"sum_{c}") for c in numeric],
            *[F.sum(scale[c] * scale[c]).alias(f"squares_{c}") for c in numeric],
        )
        .toPandas()
        .set_index("segment")
        .sort_index()
    )
    per_segment.index = per_segment.index.astype("int64").rename("segment")

    def table(prefix: str) -> pd.DataFrame:
        columns = [f"{prefix}_{c}" for c in numeric]
        return per_segment[columns].set_axis(numeric, axis=1).astype(float)

    counts, sums, squares = table("count"), table("sum"), table("squares")
    centre = sums.sum() / counts.sum()
    spread = np.sqrt((squares.sum() / counts.sum() - centre**2).clip(lower=0))
    segment_means = sums / counts
    z_scores = ((segment_means - centre) / spread.replace(0, np.nan)).fillna(0.0)
    return (
        per_segment["_customers"].astype("int64"),
        table("mean"),
        table("median"),
        z_scores,
        _category_counts(segmented, categorical, per_segment.index),
    )


def _category_counts(
    segmented: DataFrame, columns: list[str], segments: pd.Index
) -> dict[str, pd.DataFrame]:
    """Customers of each segment in each category of every one of
    ``columns``, as ``nodes._category_counts`` counts them: Spark counts
    each value as it is, in one pass, and the few distinct values are then
    read as the model reads them (``_read_values``), so " Male" and "Male"
    are one category and a blank value is "missing" on both engines.
    Categories are in text order: equal counts tie-break by it (by first
    appearance on one machine, which a Spark table does not have)."""
    if not columns:
        return {}
    pairs = F.explode(
        F.array(
            *[
                F.struct(F.lit(c).alias("column"), col(c).cast("string").alias("value"))
                for c in columns
            ]
        )
    )
    counted = (
        segmented.select("segment", pairs.alias("pair"))
        .groupBy("segment", "pair.column", "pair.value")
        .count()
        .toPandas()
    )
    kinds = {field.name: field.dataType for field in segmented.schema.fields}
    tables = {}
    for column in columns:
        rows = counted[counted["column"] == column]
        rows = rows.assign(value=_read_values(rows["value"], kinds[column]))
        table = rows.pivot_table(
            index="segment", columns="value", values="count", aggfunc="sum", fill_value=0
        ).reindex(segments, fill_value=0)
        table.columns = [str(c) for c in table.columns]
        tables[column] = table.reset_index(drop=True).astype("int64")
    return tables


def _read_values(values: pd.Series, kind: DataType) -> pd.Series:
    """A column's distinct values, as Spark cast them to text, read as the
    model reads the column (``model.category_text``, missing as "missing"):
    a numeric or boolean column's values are numbers or booleans again
    first, so that codes 1.0 and 2.0 read "1" and "2" as on one machine."""
    if isinstance(kind, BooleanType):
        values = values.map({"true": True, "false": False})
    elif isinstance(kind, NumericType):
        values = pd.to_numeric(values)
    return segmentation.category_text(values).fillna(segmentation.MISSING)


def select_target_customers(
    customer_segments: DataFrame,
    segment_recommendations: pd.DataFrame,
    id_column: str,
    min_confidence: float = 0.0,
) -> DataFrame:
    """``nodes.select_target_customers`` on Spark: the customers of the
    targeted segments with their segment's name, action and priority."""
    id_column = key_column(id_column)
    chosen, details = targeted_segments(segment_recommendations)
    spark = customer_segments.sparkSession
    labels = spark.createDataFrame(
        details.reset_index().rename(columns={"name": "segment_name"})[
            ["segment", "segment_name", "action", "priority"]
        ]
    )
    targets = customer_segments.where(F.col("segment").isin([int(s) for s in chosen]))
    if min_confidence > 0:
        targets = targets.where(F.col("confidence") >= float(min_confidence))
    return targets.join(F.broadcast(labels), on="segment").select(
        *[col(c) for c in target_columns(id_column)]
    )


def fit_segment_rules(  # noqa: PLR0913 - the tables, model and settings the rules read
    segmented_customers: DataFrame,
    segmented_customers_sample: pd.DataFrame,
    segmentation_model: Pipeline,
    segmentation_model_version: str | None,
    segment_profiles: pd.DataFrame,
    features: dict,
    rules: dict,
    labels: dict,
) -> tuple[dict, str]:
    """The segments as rules on Spark: fitted on the collected sample of
    ``sample_segmented_customers``, their fidelity measured on that sample
    (``measured_on`` says so), never on the distributed table."""
    return segment_rules(
        segmented_customers_sample,
        segmented_customers_sample,
        f"a seeded sample of {len(segmented_customers_sample):,} customers",
        segmentation_model,
        segmentation_model_version,
        segment_profiles,
        features,
        rules,
        labels,
    )
