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
from customer_segmentation.spark import col, collect_sample, ddl, map_batches, refine_kmeans

from .kernels import final_model, fit_clusterer, warn_small_segment

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
    algorithm_choice: dict,
    id_column: str,
    n_init: int,
    mixture_n_init: int,
    random_seed: int,
    min_segment_share: float = 0.0,
) -> tuple[Pipeline, DataFrame]:
    """``final_fit.fit_segmentation_model`` on Spark: the sample's KMeans
    refined on every row by Spark (``fit_on_all_rows``), or the Gaussian
    mixture fitted on the selection sample (at most
    ``selection_sample_size`` customers) with its components counted on
    every row by Spark; every customer's segment and confidence is a lazy
    Spark DataFrame of id, segment and confidence, the clusterer applied to
    each Arrow batch."""
    clusterer = fit_clusterer(
        algorithm_choice, selected_k, selection_features, n_init, mixture_n_init, random_seed
    )
    if algorithm_choice["chosen"] == "gaussian_mixture":
        sizes = _segment_sizes(encoded_features, clusterer, id_column)
        sizes = sizes[segmentation.largest_first(clusterer, sizes)]
    else:
        clusterer, sizes = fit_on_all_rows(
            encoded_features, clusterer, len(selection_features), id_column
        )
    warn_small_segment(sizes, min_segment_share)
    customer_segments = _segments(encoded_features, clusterer, id_column)
    return final_model(preprocessor, clusterer), customer_segments


def _features(batch: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """A batch's encoded features, as floats, without the id."""
    return batch.drop(columns=[id_column]).astype(np.float64)


def _segment_sizes(encoded_features: DataFrame, clusterer, id_column: str) -> np.ndarray:
    """Customers per segment of ``clusterer`` (its own numbering), counted by Spark."""
    id_column = key_column(id_column)

    def labels(batch: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"segment": clusterer.predict(_features(batch, id_column))})

    counts = (
        map_batches(encoded_features, labels, ddl({"segment": "bigint"}))
        .groupBy("segment")
        .count()
        .toPandas()
    )
    sizes = np.zeros(clusterer.n_clusters, dtype=np.int64)
    sizes[counts["segment"].to_numpy()] = counts["count"].to_numpy()
    return sizes


def _segments(encoded_features: DataFrame, clusterer, id_column: str) -> DataFrame:
    """Every customer's id, segment and confidence (``clusterer.predict_proba``
    on each Arrow batch), lazily."""
    id_column = key_column(id_column)

    def segments(batch: pd.DataFrame) -> pd.DataFrame:
        probabilities = clusterer.predict_proba(_features(batch, id_column))
        return pd.DataFrame(
            {
                id_column: batch[id_column].to_numpy(),
                "segment": probabilities.argmax(axis=1).astype(np.int64),
                "confidence": segmentation.membership_confidence(probabilities),
            }
        )

    id_type = dict(encoded_features.dtypes)[id_column]
    schema = ddl({id_column: id_type, "segment": "bigint", "confidence": "double"})
    return map_batches(encoded_features, segments, schema)


def fit_on_all_rows(
    encoded_features: DataFrame, kmeans: KMeans, sample_rows: int, id_column: str
) -> tuple[KMeans, np.ndarray]:
    """The sample's KMeans refined on every row by Spark (Lloyd's algorithm
    from the sample's centres, ``spark.refine_kmeans``, as scikit-learn's
    ``KMeans(init=centres, n_init=1)`` refines it on one machine); segments
    renumbered so that segment 0 is the largest. Returns the KMeans with the
    refined centres and the segment sizes."""
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
    return kmeans, sizes
