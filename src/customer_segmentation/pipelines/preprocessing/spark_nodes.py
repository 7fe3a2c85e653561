"""The preprocessing nodes on Spark (``conf/spark``): the same contract,
checks and fitted preprocessor as ``nodes.py``, with every pass over the rows
done by Spark. The pipeline runs these, through ``engines.by_engine``, when
their input is a Spark DataFrame; what both engines share is in
``kernels.py``."""

from __future__ import annotations

import logging

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_segmentation.features import (
    MAX_MAGNITUDE,
    MIN_ROWS_KEY,
    NEAR_CONSTANT_SHARE,
    FeatureSpec,
    InvalidCustomerDataError,
    bounds_text,
    check_pinned_categories,
    key_column,
    named_in,
    number_text,
    too_large,
)
from customer_segmentation.model import SegmentPreprocessor
from customer_segmentation.spark import (
    col,
    collect_sample,
    ddl,
    id_text,
    map_batches,
    number,
    require_id_column,
)

from .kernels import encode_rows, preprocessor_for

logger = logging.getLogger(__name__)

_EXAMPLES = 3
# Near-constant columns are judged on a seeded sample of this many rows, as
# on one machine.
_CONSTANT_SAMPLE_SIZE = 100_000


def _examples(rows: list, spec: FeatureSpec) -> str:
    return ", ".join(f"{spec.id_column} {row[0]}" for row in rows[:_EXAMPLES])


def validate_customers(
    raw_customers: DataFrame, features: dict, min_rows: int, first_line: int = 1
) -> DataFrame:
    """``nodes.validate_customers`` on Spark: the same checks (missing
    columns, too few rows, missing or duplicate ids, text in numeric
    columns, values outside ``bounds``, empty and near-constant columns,
    mistyped pinned categories), counted by Spark in a few passes, each
    problem named by its column and the ids of its first rows (a Spark
    source has no line numbers). Returns the used columns, ids as text and
    numeric columns as doubles, without blank rows. ``first_line`` is not
    used: the rows of a Spark source have no line numbers."""
    spec = FeatureSpec.parse(features)
    require_id_column(spec)
    missing = [c for c in spec.used_columns if c not in raw_customers.columns]
    if missing:
        raise InvalidCustomerDataError(
            "raw_customers does not match the features parameter:\n  - "
            + "\n  - ".join(
                f"column '{c}' is missing: {named_in(c, spec)} names it" for c in missing
            )
        )
    blank = F.lit(True)
    for column in raw_customers.columns:
        blank = blank & col(column).isNull()
    numeric = list(dict.fromkeys([*spec.numeric, *spec.profile_numeric]))
    kinds = dict(raw_customers.dtypes)
    infinite = {c: F.abs(number(raw_customers, c)) == float("inf") for c in numeric}
    rows = raw_customers.select(
        id_text(raw_customers, spec.id_column).alias(spec.id_column),
        # Infinite numbers are missing values, as on one machine
        # (features.infinite_as_missing), counted below.
        *[F.when(~infinite[c], number(raw_customers, c)).alias(c) for c in numeric],
        # Categories keep their type, as on one machine: the model reads a
        # column of codes 1.0, 2.0 as "1", "2" (features.category_text), which
        # a cast to text here ("1.0") would not match at scoring.
        *[col(c).alias(c) for c in spec.used_columns if c not in numeric and c != spec.id_column],
        # The value as read, where text may fail to be a number.
        *[
            (col(c) if kinds[c] == "string" else number(raw_customers, c)).alias(f"_raw_{c}")
            for c in numeric
        ],
        *[F.coalesce(infinite[c], F.lit(False)).alias(f"_inf_{c}") for c in numeric],
        blank.alias("_blank"),
    )
    customers = rows.where(~F.col("_blank"))
    counts = _problem_counts(rows, spec, numeric)
    problems = _describe(counts, customers, spec, numeric, min_rows)
    sample, _ = collect_sample(
        customers.select(*spec.used_columns),
        _CONSTANT_SAMPLE_SIZE,
        0,
        spec.id_column,
        rows=counts["rows"],
    )
    for column in spec.model_columns:
        if counts[f"present_{column}"] == 0:
            continue
        top = sample[column].value_counts(normalize=True)
        if not top.empty and top.iloc[0] >= NEAR_CONSTANT_SHARE:
            problems.append(
                f"column '{column}': {top.iloc[0]:.1%} of the rows hold {top.index[0]!r}, so it "
                "cannot separate segments; remove it from the features (or make it profile-only)"
            )
    if spec.pinned:
        distinct = pd.concat(
            [
                pd.Series(
                    [r[0] for r in customers.select(c).distinct().limit(1000).collect()], name=c
                )
                for c in spec.pinned
            ],
            axis=1,
        )
        problems += check_pinned_categories(distinct, spec)
    if problems:
        raise InvalidCustomerDataError(
            "raw_customers does not match the features parameter:\n  - " + "\n  - ".join(problems)
        )
    if counts["blank"]:
        logger.warning("Skipped %d blank rows of raw_customers", counts["blank"])
    for column in numeric:
        if counts[f"infinite_{column}"]:
            found = counts[f"infinite_{column}"]
            logger.warning(
                "raw_customers, column '%s': %s infinite: treated as missing",
                column,
                "1 value was" if found == 1 else f"{found} values were",
            )
    for column in spec.numeric:
        absent = counts["rows"] - counts[f"present_{column}"]
        if absent:
            logger.warning(
                "Column '%s' has %d missing values (%.1f%%); they are imputed with the median",
                column,
                absent,
                100 * absent / counts["rows"],
            )
    return customers.select(*spec.used_columns)


def _problem_counts(rows: DataFrame, spec: FeatureSpec, numeric: list[str]) -> dict[str, int]:
    """Every count the checks need, in one pass over the rows (blank ones
    counted, and left out of the others)."""
    present = ~F.col("_blank")

    def count(condition: Column) -> Column:
        return F.sum((present & condition).cast("int"))

    measures = [
        F.sum(F.col("_blank").cast("int")).alias("blank"),
        count(F.lit(True)).alias("rows"),
        count(col(spec.id_column).isNotNull()).alias("ids"),
        F.countDistinct(F.when(present, col(spec.id_column))).alias("distinct_ids"),
    ]
    for column in numeric:
        measures += [
            count(col(column).isNotNull()).alias(f"present_{column}"),
            count(
                col(f"_raw_{column}").isNotNull() & col(column).isNull() & ~col(f"_inf_{column}")
            ).alias(f"not_number_{column}"),
            count(col(f"_inf_{column}")).alias(f"infinite_{column}"),
        ]
        if column in spec.bounds:
            low, high = spec.bounds[column]
            measures.append(
                count((col(column) < low) | (col(column) > high)).alias(f"outside_{column}")
            )
        if column in spec.numeric:
            measures.append(count(F.abs(col(column)) > MAX_MAGNITUDE).alias(f"too_large_{column}"))
    for column in spec.categorical:
        measures.append(count(col(column).isNotNull()).alias(f"present_{column}"))
    row = rows.agg(*measures).first().asDict()
    return {key: int(value or 0) for key, value in row.items()}


def _describe(  # noqa: PLR0912 - one branch per kind of problem
    counts: dict[str, int],
    customers: DataFrame,
    spec: FeatureSpec,
    numeric: list[str],
    min_rows: int,
) -> list[str]:
    """One sentence per problem, as ``features.describe_failures`` words it,
    with the ids of the first failing rows."""
    problems = []
    key = col(spec.id_column)
    if counts["rows"] < min_rows:
        problems.append(
            f"raw_customers has {counts['rows']} rows; expected at least {min_rows} "
            f"({MIN_ROWS_KEY})"
        )
    for column in spec.model_columns:
        if counts[f"present_{column}"] == 0:
            problems.append(
                f"column '{column}': every value is missing; expected at least one value"
            )
    if counts["ids"] < counts["rows"]:
        problems.append(
            f"column '{spec.id_column}': {counts['rows'] - counts['ids']} rows without an id"
        )
    if counts["distinct_ids"] < counts["ids"]:
        duplicated = (
            customers.where(key.isNotNull())
            .groupBy(key)
            .count()
            .where("count > 1")
            .orderBy(key)
            .limit(_EXAMPLES)
            .collect()
        )
        problems.append(
            f"column '{spec.id_column}': {counts['ids'] - counts['distinct_ids']} rows repeat an "
            f"id, for example {', '.join(repr(r[0]) for r in duplicated)}"
        )
    for column in numeric:
        if counts[f"not_number_{column}"]:
            rows = (
                customers.where(col(f"_raw_{column}").isNotNull() & col(column).isNull())
                .select(key, col(f"_raw_{column}"))
                .limit(_EXAMPLES)
                .collect()
            )
            values = ", ".join(repr(str(r[1])) for r in rows)
            problems.append(
                f"column '{column}': expected a number, got {values} in "
                f"{counts[f'not_number_{column}']} rows: {_examples(rows, spec)}"
            )
        if counts.get(f"outside_{column}"):
            low, high = spec.bounds[column]
            rows = (
                customers.where((col(column) < low) | (col(column) > high))
                .select(key, col(column))
                .limit(_EXAMPLES)
                .collect()
            )
            values = ", ".join(number_text(r[1]) for r in rows)
            problems.append(
                f"column '{column}': {values} outside its {bounds_text(spec, column)} "
                f"(features.bounds) in {counts[f'outside_{column}']} rows: {_examples(rows, spec)}"
            )
        if counts.get(f"too_large_{column}"):
            rows = (
                customers.where(F.abs(col(column)) > MAX_MAGNITUDE)
                .select(key, col(column))
                .limit(_EXAMPLES)
                .collect()
            )
            values = ", ".join(number_text(r[1]) for r in rows)
            problems.append(
                too_large(column, values, counts[f"too_large_{column}"], _examples(rows, spec))
            )
    return problems


def fit_preprocessor(
    validated_customers: DataFrame, features: dict, preprocessing: dict
) -> SegmentPreprocessor:
    """``nodes.fit_preprocessor`` on Spark: the same estimator, fitted on a
    sample of at most ``fit_sample_size`` rows (all of them below) collected
    to the driver, with the training range of every numeric column measured
    by Spark on all rows."""
    spec = FeatureSpec.parse(features)
    numeric = list(spec.numeric)
    extremes = validated_customers.agg(
        *[F.min(col(c)).alias(f"min_{c}") for c in numeric],
        *[F.max(col(c)).alias(f"max_{c}") for c in numeric],
    ).first()
    low = pd.Series({c: extremes[f"min_{c}"] for c in numeric}, dtype=float)
    high = pd.Series({c: extremes[f"max_{c}"] for c in numeric}, dtype=float)
    sample_size = preprocessing["fit_sample_size"]
    fit_rows, rows = collect_sample(
        validated_customers, sample_size, preprocessing["random_seed"], spec.id_column
    )
    if len(fit_rows) < rows:
        logger.info(
            "Fitting the preprocessor on a seeded sample of %d of %d customers", len(fit_rows), rows
        )
    return preprocessor_for(spec, preprocessing).fit(fit_rows, column_range=(low, high))


def encode_features(
    validated_customers: DataFrame, preprocessor: SegmentPreprocessor, id_column: str
) -> DataFrame:
    """``nodes.encode_features`` applied by Spark to every batch of rows."""
    id_column = key_column(id_column)
    names = [str(name) for name in preprocessor.get_feature_names_out()]
    schema = ddl({id_column: "string", **dict.fromkeys(names, "double")})
    return map_batches(
        validated_customers,
        lambda batch: encode_rows(batch, preprocessor, id_column),
        schema,
    )
