"""What both engines of model_selection share: the KMeans fitted on the
selection sample (the start of the fit on every customer), the warning
about a small segment on all customers, the model assembled from the fit,
and the one-thread run of the work on the sample. A leaf module: it imports
neither engine.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from customer_segmentation import model as segmentation

logger = logging.getLogger(__name__)


def one_thread(node: Callable) -> Callable:
    """Runs ``node`` with one OpenMP and BLAS thread. The nodes that work on
    the selection sample (at most ``selection_sample_size`` rows) fit hundreds
    of small models; on small tables scikit-learn's threads cost more in
    start-up and synchronisation than they save, up to tens of thousands of
    rows. The fit on every customer keeps all threads."""

    @functools.wraps(node)
    def on_one_thread(*args, **kwargs):
        with threadpool_limits(limits=1):
            return node(*args, **kwargs)

    return on_one_thread


@one_thread
def fit_on_sample(
    selection_features: pd.DataFrame, selected_k: int, n_init: int, random_seed: int
) -> KMeans:
    """KMeans with ``selected_k`` segments and ``n_init`` restarts on the
    selection sample, on one thread (small models on a sample are fastest so)."""
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


def final_model(preprocessor: segmentation.SegmentPreprocessor, kmeans: KMeans) -> Pipeline:
    """The segmentation model: the fitted preprocessor, then ``kmeans``
    without the labels of its fit (in its own numbering: ``predict`` does
    not need them)."""
    del kmeans.labels_
    return segmentation.segmentation_model(preprocessor, kmeans)
