"""The model_selection nodes that read every customer, on Spark
(``conf/spark``): drawing the selection sample and refining the final model
on all rows. Everything else in model_selection works on the sample, with
the one-machine code. The pipeline runs these, through
``engines.by_engine``, when their input is a Spark DataFrame; what both
engines' final fits share is in ``kernels.py``."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import key_column
from customer_segmentation.spark import col, collect_sample, nearest_centre, refine_kmeans

from .kernels import final_model, fit_on_sample, warn_small_segment

logger = logging.getLogger(__name__)


def sample_for_selection(
    encoded_features: DataFrame, id_column: str, sample_size: int, random_seed: int
) -> pd.DataFrame:
    """``k_selection.sample_for_selection`` on Spark: every encoded row, in id
    order, up to ``sample_size``; beyond, a seeded random sample of that
    size (``spark.collect_sample``), collected to the driver."""
    id_column = key_column(id_column)
    sample, rows = collect_sample(encoded_features, sample_size, random_seed, id_column)
    if len(sample) < rows:
        logger.info("Choosing k on a seeded sample of %d of %d customers", len(sample), rows)
    return sample.drop(columns=[id_column]).reset_index(drop=True)


def fit_segmentation_model(  # noqa: PLR0913 - the parameters of final_fit.fit_segmentation_model
    encoded_features: DataFrame,
    selection_features: pd.DataFrame,
    preprocessor: segmentation.SegmentPreprocessor,
    selected_k: int,
    id_column: str,
    n_init: int,
    random_seed: int,
    min_segment_share: float = 0.0,
) -> tuple[Pipeline, DataFrame]:
    """``final_fit.fit_segmentation_model`` on Spark: the sample's KMeans
    refined on every row by Spark (``fit_on_all_rows``); every customer's
    segment is a lazy Spark DataFrame of id and segment."""
    kmeans = fit_on_sample(selection_features, selected_k, n_init, random_seed)
    kmeans, sizes, customer_segments = fit_on_all_rows(
        encoded_features, kmeans, len(selection_features), id_column
    )
    warn_small_segment(sizes, min_segment_share)
    return final_model(preprocessor, kmeans), customer_segments


def fit_on_all_rows(
    encoded_features: DataFrame, kmeans: KMeans, sample_rows: int, id_column: str
) -> tuple[KMeans, np.ndarray, DataFrame]:
    """The sample's KMeans refined on every row by Spark (Lloyd's algorithm
    from the sample's centres, ``spark.refine_kmeans``, as scikit-learn's
    ``KMeans(init=centres, n_init=1)`` refines it on one machine); segments
    renumbered so that segment 0 is the largest. Returns the KMeans with the
    refined centres, the segment sizes and every customer's segment (a lazy
    Spark DataFrame of id and segment)."""
    id_column = key_column(id_column)
    columns = [c for c in encoded_features.columns if c != id_column]
    centres = kmeans.cluster_centers_
    rows = encoded_features.count()
    if sample_rows < rows:
        features = encoded_features.select(*[col(c) for c in columns]).persist()
        try:
            centres, sizes, inertia, iterations = refine_kmeans(
                features, columns, centres, tol=kmeans.tol, max_iter=kmeans.max_iter
            )
        finally:
            features.unpersist()
        logger.info(
            "Refined the sample's %d centres on all %d customers in %d Spark passes",
            len(centres),
            rows,
            iterations,
        )
        kmeans.cluster_centers_, kmeans.inertia_, kmeans.n_iter_ = centres, inertia, iterations
    else:
        sizes = np.bincount(kmeans.labels_, minlength=kmeans.n_clusters)
    sizes = sizes[segmentation.largest_first(kmeans, sizes)]
    segments = encoded_features.select(
        col(id_column),
        nearest_centre(columns, kmeans.cluster_centers_).cast("long").alias("segment"),
    )
    return kmeans, sizes, segments
