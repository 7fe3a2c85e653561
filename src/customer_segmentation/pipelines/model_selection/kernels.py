"""What both engines of model_selection's final fit share: the KMeans fitted
on the selection sample (the start of the fit on every customer), the
warning about a small segment on all customers and the model assembled from
the fit. A leaf module: it imports neither engine.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from customer_segmentation import model as segmentation

logger = logging.getLogger(__name__)


def fit_on_sample(
    selection_features: pd.DataFrame, selected_k: int, n_init: int, random_seed: int
) -> KMeans:
    """KMeans with ``selected_k`` segments and ``n_init`` restarts on the
    selection sample, on one thread (small models on a sample are fastest
    so: see ``nodes._one_thread``)."""
    with threadpool_limits(limits=1):
        return segmentation.SegmentKMeans(
            n_clusters=selected_k, n_init=n_init, random_state=random_seed
        ).fit(selection_features)


def warn_small_segment(sizes: np.ndarray, min_segment_share: float) -> None:
    """A warning when the smallest segment on all customers holds less than
    ``min_segment_share`` (k was eligible on the selection sample; all
    customers can differ a little)."""
    smallest = sizes.min() / sizes.sum()
    if smallest < min_segment_share:
        logger.warning(
            "On all %d customers the smallest segment holds %.1f%%, under "
            "model_selection.min_segment_share (%.1f%%) met on the selection sample",
            sizes.sum(),
            100 * smallest,
            100 * min_segment_share,
        )


def final_model(preprocessor: ColumnTransformer | Pipeline, kmeans: KMeans) -> Pipeline:
    """The segmentation model: the fitted preprocessor, then ``kmeans``
    without the labels of its fit (in its own numbering: ``predict`` does
    not need them)."""
    del kmeans.labels_
    return segmentation.segmentation_model(preprocessor, kmeans)
