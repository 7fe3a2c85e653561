"""How well each deployed segment holds up on resampled customers (one
machine, on the selection sample): Hennig's cluster-wise bootstrap Jaccard
(``clusterboot`` in R's fpc). The choice of k judges the partition as a
whole; this judges each segment, so that a marketer knows which segments
to trust and which may be an artefact of the sample."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation

from .kernels import fit_clusterer, one_thread

logger = logging.getLogger(__name__)


def best_jaccard(reference: np.ndarray, refitted: np.ndarray, k: int) -> np.ndarray:
    """For each segment ``0..k-1`` of ``reference``, the largest Jaccard
    similarity (shared customers over customers in either) with any cluster
    of ``refitted`` (the labels of the same customers, in any numbering);
    NaN for a segment with no customer here."""
    clusters = int(refitted.max()) + 1 if len(refitted) else 1
    shared = np.bincount(reference * clusters + refitted, minlength=k * clusters).reshape(
        k, clusters
    )
    in_segment = shared.sum(axis=1, keepdims=True)
    in_cluster = shared.sum(axis=0, keepdims=True)
    union = in_segment + in_cluster - shared
    jaccard = np.divide(shared, union, out=np.zeros(shared.shape), where=union > 0)
    return np.where(in_segment[:, 0] > 0, jaccard.max(axis=1), np.nan)


@one_thread
def measure_segment_stability(  # noqa: PLR0913 - one keyword per setting it uses
    selection_features: pd.DataFrame,
    segmentation_model: Pipeline,
    selected_k: int,
    algorithm_choice: dict,
    resamples: int,
    sample_size: int,
    n_init: int,
    mixture_n_init: int,
    random_seed: int,
) -> dict[int, float | None]:
    """Each deployed segment's mean bootstrap Jaccard similarity (Hennig's
    ``clusterboot``), by segment number.

    On a seeded subset of at most ``sample_size`` rows of the selection
    sample, ``resamples`` seeded bootstrap samples (drawn with replacement)
    are each clustered afresh, as the final fit clusters (``fit_clusterer``: the
    deployed algorithm of ``algorithm_choice``, the selected k, its restarts
    and the seed). For every deployed segment, the customers of the
    bootstrap sample the deployed model puts in it are compared with every
    new cluster; its best Jaccard similarity (over the
    distinct customers of the sample) is averaged over the resamples. Under
    0.5 a segment dissolves on resampling; from 0.75 it is stable. None for
    a segment no resample contains."""
    rng = np.random.default_rng(random_seed)
    subset = rng.permutation(len(selection_features))[:sample_size]
    rows = selection_features.iloc[subset]
    deployed = segmentation.clustering(segmentation_model).predict(rows)
    values = rows.to_numpy(dtype=np.float64)
    similarities = np.full((resamples, selected_k), np.nan)
    for resample in range(resamples):
        drawn = rng.integers(0, len(values), size=len(values))
        refit = fit_clusterer(
            algorithm_choice,
            selected_k,
            values[drawn],
            n_init,
            mixture_n_init,
            random_seed + resample + 1,
        )
        # Each distinct customer of the resample once (Hennig's reading).
        distinct = np.unique(drawn)
        similarities[resample] = best_jaccard(
            deployed[distinct], refit.predict(values[distinct]), selected_k
        )
    seen = ~np.isnan(similarities).all(axis=0)
    mean = np.full(selected_k, np.nan)
    mean[seen] = np.nanmean(similarities[:, seen], axis=0)
    stability = {
        segment: None if np.isnan(value) else round(float(value), 4)
        for segment, value in enumerate(mean)
    }
    logger.info(
        "Segment stability (bootstrap Jaccard over %d resamples of %d customers): %s",
        resamples,
        len(values),
        stability,
    )
    return stability
