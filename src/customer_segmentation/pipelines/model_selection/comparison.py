"""The algorithm comparison (one machine, on the selection sample): KMeans
against the other clustering algorithms at the selected k, by the same
criteria, for the metrics and the report, the deployed one marked (KMeans
or a Gaussian mixture, ``algorithm_choice``)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from sklearn.cluster import (
    HDBSCAN,
    AgglomerativeClustering,
    BisectingKMeans,
    KMeans,
    MiniBatchKMeans,
)
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score
from sklearn.mixture import GaussianMixture

from .k_selection import silhouette
from .kernels import one_thread

logger = logging.getLogger(__name__)


def _partition_scores(
    features: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> dict:
    """Silhouette, Calinski-Harabasz and Davies-Bouldin of a partition,
    ignoring points labelled as noise (-1); NaN when fewer than two segments."""
    kept = labels >= 0
    if len(set(labels[kept])) < 2:
        return {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    values, labels = features[kept], labels[kept]
    return {
        "silhouette": silhouette(values, labels, sample_size, seed),
        "calinski_harabasz": float(calinski_harabasz_score(values, labels)),
        "davies_bouldin": float(davies_bouldin_score(values, labels)),
    }


def _algorithms(selected_k: int, n_init: int, seed: int, min_cluster_size: int) -> dict:
    """The unfitted algorithms compared, KMeans first."""
    return {
        "kmeans": KMeans(n_clusters=selected_k, n_init=n_init, random_state=seed),
        "minibatch_kmeans": MiniBatchKMeans(
            n_clusters=selected_k, n_init=n_init, random_state=seed
        ),
        "bisecting_kmeans": BisectingKMeans(
            n_clusters=selected_k, n_init=n_init, random_state=seed
        ),
        "gaussian_mixture": GaussianMixture(n_components=selected_k, random_state=seed),
        "ward": AgglomerativeClustering(n_clusters=selected_k, linkage="ward"),
        "hdbscan": HDBSCAN(min_cluster_size=min_cluster_size, copy=True),
    }


@one_thread
def compare_algorithms(  # noqa: PLR0913 - one keyword per setting it uses
    selection_features: pd.DataFrame,
    selected_k: int,
    algorithm_choice: dict,
    n_init: int,
    random_seed: int,
    comparison_sample_size: int,
    silhouette_sample_size: int,
    hdbscan_min_cluster_share: float,
) -> pd.DataFrame:
    """Runs KMeans, MiniBatchKMeans, BisectingKMeans, a Gaussian mixture and
    Ward agglomerative clustering at the selected k, and HDBSCAN (which finds
    its own number of segments and labels noise), on the same seeded sample of
    at most ``comparison_sample_size`` encoded rows, with the same criteria and
    the agreement (adjusted Rand index) with KMeans. ``deployed`` marks the
    algorithm ``choose_algorithm`` chose (``algorithm_choice["chosen"]``).
    Ward and HDBSCAN cannot assign new customers to segments, so they are
    reported, never deployed.
    Fit times go to the log, not the table, so the table is deterministic."""
    seed = random_seed
    size = min(len(selection_features), comparison_sample_size)
    features = selection_features.sample(size, random_state=seed).to_numpy()
    algorithms = _algorithms(
        selected_k, n_init, seed, max(5, int(hdbscan_min_cluster_share * size))
    )
    rows, kmeans_labels, seconds = [], None, {}
    for name, algorithm in algorithms.items():
        started = time.perf_counter()
        labels = algorithm.fit_predict(features)
        seconds[name] = round(time.perf_counter() - started, 3)
        kmeans_labels = labels if kmeans_labels is None else kmeans_labels
        rows.append(
            {
                "algorithm": name,
                "segments": int(len(set(labels) - {-1})),
                **_partition_scores(features, labels, silhouette_sample_size, seed),
                "agreement_with_kmeans": float(adjusted_rand_score(kmeans_labels, labels)),
                "noise_share": float(np.mean(labels == -1)),
                "scores_new_customers": hasattr(algorithm, "predict"),
                "deployed": name == algorithm_choice["chosen"],
                "sample_size": size,
            }
        )
    comparison = pd.DataFrame(rows)
    logger.info(
        "Algorithms at k=%d: silhouette %s; fit seconds %s",
        selected_k,
        comparison.set_index("algorithm")["silhouette"].round(3).to_dict(),
        seconds,
    )
    return comparison
