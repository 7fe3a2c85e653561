"""The Spark engine: what every pipeline's Spark path shares.

The pipelines are the same on one machine and on Spark; the ``spark``
environment (``conf/spark``) only switches the row-heavy catalog entries to
``spark.SparkDatasetV2``. A node whose input is then a Spark DataFrame
(``is_spark``) runs its pipeline's ``spark_nodes`` twin (the choice is made
in ``engines.by_engine``), which does the work that grows with the rows in
Spark (aggregations, and the fitted scikit-learn model applied batch by
batch with ``mapInPandas``) and the rest, on a sample, with the kernels the
pandas nodes use too (each pipeline's ``kernels.py`` or ``contracts.py``).

Nothing here imports pyspark at module level: the one-machine path never
needs it installed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from customer_segmentation.features import FeatureSpec, InvalidCustomerDataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

logger = logging.getLogger(__name__)


def is_spark(data: Any) -> bool:
    """Whether ``data`` is a Spark DataFrame (classic or Spark Connect)."""
    return type(data).__module__.startswith("pyspark.sql")


def require_id_column(spec: FeatureSpec) -> None:
    """Spark rows have no order to number them by: the table needs ids."""
    if spec.numbered_rows:
        raise InvalidCustomerDataError(
            "features.id_column is null, but numbering rows needs one machine's row order: "
            "on Spark, name the id column in features.id_column"
        )


def start_session(settings: dict[str, Any]) -> SparkSession:
    """The run's Spark session, with ``settings`` (``conf/<env>/spark.yml``,
    Spark configuration keys). With ``SPARK_REMOTE`` (Spark Connect) or
    ``DATABRICKS_HOST`` (Databricks Connect) set, the session is the remote
    one and ``settings`` are left to the cluster; otherwise it is a classic
    session, local by default (``spark.master: local[*]``), whose Python
    workers run this interpreter."""
    from kedro_datasets._utils.spark_utils import get_spark_with_remote_support  # noqa: PLC0415

    if os.environ.get("SPARK_REMOTE") or os.environ.get("DATABRICKS_HOST"):
        return get_spark_with_remote_support()
    from pyspark.sql import SparkSession  # noqa: PLC0415

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if str(settings.get("spark.master", "local")).startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName("customer-segmentation")
    for key, value in settings.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else value)
    session = builder.getOrCreate()
    logger.info("Spark %s session: master %s", session.version, session.conf.get("spark.master"))
    return session


def collect_sample(
    frame: DataFrame, size: int, random_seed: int, key: str, rows: int | None = None
) -> tuple[pd.DataFrame, int]:
    """At most ``size`` rows of ``frame`` as pandas, in ``key`` order, and the
    number of rows: all of them up to ``size``; beyond, the ``size`` rows
    whose hash of ``key`` and ``random_seed`` is smallest, a uniform random
    sample that does not depend on how the rows are partitioned (Spark keeps
    only ``size`` rows per partition to find them). ``rows``, when the caller
    counted them already, saves a pass."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    rows = frame.count() if rows is None else rows
    if rows > size:
        frame = frame.orderBy(F.xxhash64(col(key), F.lit(random_seed))).limit(size)
    return to_pandas(frame.orderBy(col(key))), rows


def to_pandas(frame: DataFrame) -> pd.DataFrame:
    """A Spark DataFrame as pandas with the one-machine path's dtypes: text
    as pandas' string dtype, whatever pandas' default."""
    table = frame.toPandas()
    text = [c for c in table.columns if table[c].dtype == object or table[c].dtype == "str"]
    return table.astype(dict.fromkeys(text, "string")) if text else table


def map_batches(
    frame: DataFrame, function: Callable[[pd.DataFrame], pd.DataFrame], schema: str
) -> DataFrame:
    """``function`` applied to every Arrow batch of ``frame`` as a pandas
    DataFrame (``mapInPandas``): the one-machine code, unchanged, on every
    row. ``function`` and what it holds (a fitted model) are shipped once per
    task; ``schema`` is the output's DDL string."""

    def batches(frames):
        for batch in frames:
            yield function(batch)

    return frame.mapInPandas(batches, schema)


def col(name: str) -> Column:
    """The column ``name`` of a Spark DataFrame, quoted, so that names with
    dots or spaces are read as one column."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    return F.col(f"`{name}`")


def number(frame: DataFrame, column: str) -> Column:
    """``column`` of ``frame`` as a double: text trimmed, text that is not a
    number and NaN as missing (null), as pandas' ``to_numeric`` reads it."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    value = col(column)
    if dict(frame.dtypes)[column] == "string":
        value = F.trim(value)
    parsed = value.try_cast("double")
    return F.when(~F.isnan(parsed), parsed)


def id_text(frame: DataFrame, column: str) -> Column:
    """Ids of ``column`` as text: whole numbers of a float column without
    ".0" (17850.0 is "17850"), NaN as missing; any other column cast to text."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    if dict(frame.dtypes)[column] not in ("float", "double"):
        return col(column).cast("string")
    value = F.when(~F.isnan(col(column)), col(column))
    return F.when(value == F.floor(value), value.cast("bigint").cast("string")).otherwise(
        value.cast("string")
    )


def ddl(columns: dict[str, str]) -> str:
    """A Spark DDL schema string from ``{column: type}``, names quoted."""
    return ", ".join(f"`{name}` {kind}" for name, kind in columns.items())


def _squared_distances(columns: list[str], centres: np.ndarray) -> list[Column]:
    """A row's squared Euclidean distance to each centre, as Spark columns."""
    quoted = [col(column) for column in columns]
    return [
        sum((c - float(v)) * (c - float(v)) for c, v in zip(quoted, centre, strict=True))
        for centre in np.asarray(centres, dtype=float)
    ]


def nearest_centre(columns: list[str], centres: np.ndarray) -> Column:
    """The index of the centre nearest to a row's ``columns`` (the first of
    equals, as scikit-learn): its segment, as a Spark column expression."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    distances = _squared_distances(columns, centres)
    if len(distances) == 1:
        return F.lit(0)
    return F.array_position(F.array(*distances), F.least(*distances)).cast("int") - 1


def refine_kmeans(
    frame: DataFrame,
    columns: list[str],
    centres: np.ndarray,
    tol: float = 1e-4,
    max_iter: int = 300,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Lloyd's algorithm on every row of ``frame`` from ``centres``, as
    scikit-learn's ``KMeans(init=centres, n_init=1)`` runs it: assign each
    row its nearest centre, move each centre to its rows' mean, until the
    centres move less than ``tol`` times the mean variance of the columns
    (squared shift, summed), at most ``max_iter`` times. Each iteration is
    one Spark aggregation (a sum per segment and column); only k x d numbers
    reach the driver. A centre that loses all its rows stays where it was
    (scikit-learn moves it to a far point; from a sample's centres this does
    not happen in practice). Returns the centres, the segment sizes with
    them, the inertia and the iterations run. (MLlib's KMeans cannot start
    from given centres, so it cannot refine a sample's solution.)"""
    from pyspark.sql import functions as F  # noqa: PLC0415

    quoted = [col(c) for c in columns]
    variance = frame.agg(*[F.var_pop(c) for c in quoted]).first()
    tolerance = float(np.mean([v or 0.0 for v in variance])) * tol
    centres = np.asarray(centres, dtype=float).copy()
    iterations = 0
    for iterations in range(1, max_iter + 1):
        sums = (
            frame.select(nearest_centre(columns, centres).alias("_segment"), *quoted)
            .groupBy("_segment")
            .agg(
                F.count(F.lit(1)).alias("_rows"),
                *[F.sum(c).alias(str(i)) for i, c in enumerate(quoted)],
            )
            .collect()
        )
        moved = centres.copy()
        for row in sums:
            moved[row["_segment"]] = [row[str(i)] / row["_rows"] for i in range(len(columns))]
        shift = float(((moved - centres) ** 2).sum())
        centres = moved
        if shift <= tolerance:
            break
    sizes, inertia = _sizes_and_inertia(frame, columns, centres)
    if (sizes == 0).any():
        logger.warning("%d segments lost all customers while refining", int((sizes == 0).sum()))
    return centres, sizes, inertia, iterations


def _sizes_and_inertia(
    frame: DataFrame, columns: list[str], centres: np.ndarray
) -> tuple[np.ndarray, float]:
    """Rows per nearest centre, and the sum of squared distances to it."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    distances = _squared_distances(columns, centres)
    nearest = F.least(*distances) if len(distances) > 1 else distances[0]
    rows = (
        frame.select(nearest_centre(columns, centres).alias("_segment"), nearest.alias("_distance"))
        .groupBy("_segment")
        .agg(F.count(F.lit(1)).alias("_rows"), F.sum("_distance").alias("_inertia"))
        .collect()
    )
    sizes = np.zeros(len(centres), dtype=np.int64)
    for row in rows:
        sizes[row["_segment"]] = row["_rows"]
    return sizes, float(sum(row["_inertia"] for row in rows))
