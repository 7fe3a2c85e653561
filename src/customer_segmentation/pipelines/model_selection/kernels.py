"""What both engines of model_selection share: the one factory of the
deployed clusterer on the selection sample (``fit_clusterer``: KMeans, the
start of the fit on every customer, or the Gaussian mixture, fitted on the
selection sample only), the warning about a small segment on all customers,
the model assembled from the fit, and the one-thread run of the work on the
sample. A leaf module: it imports neither engine.
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


# Added to the diagonal of every covariance of a mixture, in the encoded
# space's units (standard deviations, squared): a component whose customers
# share one value of a column (a clipped bound, a category) would otherwise
# get a near-zero variance there, and with it a spurious likelihood.
MIXTURE_REG_COVAR = 1e-3


def fit_mixture(
    values, k: int, covariance_type: str, n_init: int, random_seed: int
) -> segmentation.SegmentGaussianMixture:
    """A Gaussian mixture with ``k`` components of ``covariance_type``, the
    best of ``n_init`` seeded starts from k-means++ centres, on one thread
    (not from a KMeans partition, scikit-learn's default: EM then stays in
    KMeans's own local optimum, which cuts elongated segments across)."""
    with threadpool_limits(limits=1):
        return segmentation.SegmentGaussianMixture(
            n_components=k,
            covariance_type=covariance_type,
            n_init=n_init,
            init_params="k-means++",
            reg_covar=MIXTURE_REG_COVAR,
            random_state=random_seed,
        ).fit(values)


def fit_clusterer(  # noqa: PLR0913 - the choice, the sample and the settings of both algorithms
    algorithm_choice: dict,
    k: int,
    sample,
    n_init: int,
    mixture_n_init: int,
    random_seed: int,
) -> segmentation.SegmentKMeans | segmentation.SegmentGaussianMixture:
    """The deployed algorithm of ``algorithm_choice`` (``choose_algorithm``)
    with ``k`` segments, fitted on ``sample`` (a frame or a matrix): the
    Gaussian mixture of the choice's covariance type with ``mixture_n_init``
    starts, or KMeans with ``n_init`` restarts. The one place the choice
    becomes a clusterer: the final fit (both engines) and the per-segment
    stability's refits call it, so that the stability measures the segments
    the final fit deploys."""
    if algorithm_choice["chosen"] == "gaussian_mixture":
        covariance_type = algorithm_choice["gaussian_mixture"]["covariance_type"]
        return fit_mixture(sample, k, covariance_type, mixture_n_init, random_seed)
    return fit_on_sample(sample, k, n_init, random_seed)


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


def final_model(preprocessor: segmentation.SegmentPreprocessor, clusterer) -> Pipeline:
    """The segmentation model: the fitted preprocessor, then the fitted
    ``clusterer`` (KMeans without the labels of its fit, in its own
    numbering: ``predict`` does not need them)."""
    if hasattr(clusterer, "labels_"):
        del clusterer.labels_
    return segmentation.segmentation_model(preprocessor, clusterer)
