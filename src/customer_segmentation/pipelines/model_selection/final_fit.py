"""The final fit on one machine (pandas): the chosen algorithm with the
selected k (KMeans on every customer, or the Gaussian mixture on the
selection sample), chained after the fitted preprocessor into the
deployable segmentation model, and every customer's segment and confidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import key_column

from .k_selection import feature_matrix
from .kernels import final_model, fit_clusterer, warn_small_segment


def _c_ordered(features: pd.DataFrame) -> np.ndarray:
    """The float64 matrix of ``features`` in the row-major (C) order that
    KMeans works in, copied once, a block of rows at a time. Handing KMeans
    the frame itself costs two copies: numpy interleaves the frame's blocks
    into a column-major matrix, then scikit-learn copies that into row-major
    (twice the memory of the matrix at the peak, not once)."""
    matrix = np.empty(features.shape, dtype=np.float64)
    for start in range(0, len(features), segmentation.ROWS_PER_BLOCK):
        rows = slice(start, start + segmentation.ROWS_PER_BLOCK)
        matrix[rows] = features.iloc[rows].to_numpy(dtype=np.float64)
    return matrix


def fit_segmentation_model(  # noqa: PLR0913 - one keyword per setting it uses
    encoded_features: pd.DataFrame,
    selection_features: pd.DataFrame,
    preprocessor: segmentation.SegmentPreprocessor,
    selected_k: int,
    algorithm_choice: dict,
    id_column: str,
    n_init: int,
    mixture_n_init: int,
    random_seed: int,
    min_segment_share: float = 0.0,
) -> tuple[Pipeline, pd.DataFrame]:
    """Fits the algorithm of ``algorithm_choice`` with the selected k and
    chains it after the fitted preprocessor, so one ``predict`` turns raw
    customer rows into segments (``predict_proba`` into membership
    probabilities); returns the model and every customer's segment (segment
    0 is the largest) and ``confidence``, its membership probability of that
    segment (``model.confidence``).

    KMeans: when k was chosen on a sample, the ``n_init`` restarts run on
    that sample and the fit on all customers starts from the best of them:
    the same partition as restarting on all rows, at a fraction of the cost.
    The Gaussian mixture (``mixture_n_init`` starts, the covariance type of
    the choice) is fitted on the selection sample, at most
    ``selection_sample_size`` customers, and predicts every customer a block
    at a time. The saved model keeps only what ``predict`` needs (not the
    labels of the fit). A smallest segment under ``min_segment_share`` on
    all customers is logged as a warning."""
    features = feature_matrix(encoded_features, id_column)
    clusterer = fit_clusterer(
        algorithm_choice, selected_k, selection_features, n_init, mixture_n_init, random_seed
    )
    if algorithm_choice["chosen"] != "gaussian_mixture" and len(selection_features) < len(features):
        clusterer = _refit_on_all_rows(features, clusterer, random_seed)
    labels, confidence = _segments_and_confidence(clusterer, features)
    sizes = np.bincount(labels, minlength=selected_k)
    order = segmentation.largest_first(clusterer, sizes)
    new_segment = np.empty_like(order)
    new_segment[order] = np.arange(len(order))
    customer_segments = pd.DataFrame(
        {
            # The ids keep their own (Arrow) storage: no Python string per customer.
            key_column(id_column): encoded_features[key_column(id_column)].reset_index(drop=True),
            "segment": new_segment[labels].astype("int64"),
            "confidence": confidence,
        }
    )
    warn_small_segment(sizes[order], min_segment_share)
    return final_model(preprocessor, clusterer), customer_segments


def _segments_and_confidence(clusterer, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's most probable segment (in the clusterer's own numbering)
    and its probability, a block of rows at a time: the probabilities of
    every segment are never held for the whole table."""
    labels = np.empty(len(features), dtype=np.int64)
    confidence = np.empty(len(features), dtype=np.float64)
    for start in range(0, len(features), segmentation.ROWS_PER_BLOCK):
        rows = slice(start, start + segmentation.ROWS_PER_BLOCK)
        probabilities = clusterer.predict_proba(features.iloc[rows])
        labels[rows] = probabilities.argmax(axis=1)
        confidence[rows] = segmentation.membership_confidence(probabilities)
    return labels, confidence


def _refit_on_all_rows(
    features: pd.DataFrame, kmeans: segmentation.SegmentKMeans, random_seed: int
) -> segmentation.SegmentKMeans:
    """KMeans on every row of ``features``, started from the centres of the
    sample's ``kmeans`` (one run, all threads)."""
    # copy_x=False: KMeans centres the matrix in place, and it is ours.
    refit = segmentation.SegmentKMeans(
        n_clusters=kmeans.n_clusters,
        init=kmeans.cluster_centers_,
        n_init=1,
        random_state=random_seed,
        copy_x=False,
    ).fit(_c_ordered(features))
    # As a fit on the frame would: predict checks the columns by name.
    refit.feature_names_in_ = np.asarray(features.columns, dtype=object)
    return refit
