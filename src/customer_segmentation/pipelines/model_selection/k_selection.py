"""Choosing the number of segments k (one machine, on the selection
sample): every k from ``k_min`` to ``k_max`` scored by each criterion, the k
each criterion alone would pick, and the k the run deploys."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_samples,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture

from customer_segmentation.features import key_column

from .kernels import one_thread

logger = logging.getLogger(__name__)

# Up to this many rows, score_cluster_counts computes the pairwise distances
# once (a few tens of megabytes at a few thousand rows) for the exact
# silhouette of every k.
PRECOMPUTED_DISTANCES_MAX = 4000
# The score column of each criterion and whether larger means a better partition.
CRITERIA = {
    "silhouette": ("silhouette", True),
    "calinski_harabasz": ("calinski_harabasz", True),
    "davies_bouldin": ("davies_bouldin", False),
    "stability": ("stability_mean", True),
    "gmm_bic": ("gmm_bic", False),
}


def feature_matrix(encoded_features: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    """The encoded features without the id column."""
    return encoded_features.drop(columns=[key_column(id_column)])


def sample_for_selection(
    encoded_features: pd.DataFrame, id_column: str, sample_size: int, random_seed: int
) -> pd.DataFrame:
    """The encoded feature rows k is chosen on, without the id: all of them up
    to ``selection_sample_size``, a seeded random sample of that size beyond, so
    choosing k costs the same at ten thousand customers as at ten million (the
    final model is still fitted on every row)."""
    features = feature_matrix(encoded_features, id_column)
    if len(features) <= sample_size:
        return features
    logger.info("Choosing k on a seeded sample of %d of %d customers", sample_size, len(features))
    return features.sample(sample_size, random_state=random_seed)


def _bootstrap_stability(  # noqa: PLR0913 - the partition and the settings of its resamples
    features: pd.DataFrame,
    labels: np.ndarray,
    k: int,
    resamples: int,
    sample_size: int,
    n_init: int,
    random_seed: int,
) -> np.ndarray:
    """Adjusted Rand index between the partition of the selection sample and
    partitions refitted (with ``n_init`` restarts) on ``resamples`` seeded
    bootstrap resamples of at most ``sample_size`` rows: near 1 when k is
    reproducible."""
    rng = np.random.default_rng(random_seed)
    subset = rng.permutation(len(features))[:sample_size]
    values, reference = features.to_numpy()[subset], labels[subset]
    agreement = []
    for resample in range(resamples):
        rows = rng.integers(0, len(values), size=len(values))
        refit = KMeans(n_clusters=k, n_init=n_init, random_state=random_seed + resample + 1)
        agreement.append(adjusted_rand_score(reference, refit.fit(values[rows]).predict(values)))
    return np.array(agreement) if agreement else np.array([np.nan])


def silhouette(
    features, labels, sample_size: int, random_seed: int, distances: np.ndarray | None = None
) -> float:
    """Mean silhouette: exact up to ``sample_size`` rows (its cost grows with
    the square of n), estimated beyond on a seeded sample stratified by
    segment. Each segment gets its proportional part of the sample but at
    least ``sample_size / (2 k)`` rows (or all of them), and each sampled
    row's silhouette is weighted by its segment's size over its rows drawn:
    a small segment is always seen, and still counts by its size. With
    ``distances`` (the pairwise distances of all rows, computed once for
    every k) the exact value comes from them."""
    values, labels = np.asarray(features, dtype=float), np.asarray(labels)
    if distances is not None:
        return float(silhouette_score(distances, labels, metric="precomputed"))
    if len(labels) <= sample_size:
        return float(silhouette_score(values, labels))
    rng = np.random.default_rng(random_seed)
    segments, sizes = np.unique(labels, return_counts=True)
    floor = sample_size // (2 * len(segments))
    rows, weights = [], []
    for segment, size in zip(segments, sizes, strict=True):
        take = int(min(size, max(floor, round(sample_size * size / len(labels)))))
        rows.append(rng.choice(np.flatnonzero(labels == segment), take, replace=False))
        weights.append(np.full(take, size / take))
    rows = np.concatenate(rows)
    scores = silhouette_samples(values[rows], labels[rows])
    return float(np.average(scores, weights=np.concatenate(weights)))


@one_thread
def score_cluster_counts(  # noqa: PLR0913 - one keyword per setting it uses
    selection_features: pd.DataFrame,
    k_min: int,
    k_max: int,
    n_init: int,
    random_seed: int,
    silhouette_sample_size: int,
    stability_resamples: int,
    stability_sample_size: int,
    stability_n_init: int,
    bic_sample_size: int,
) -> pd.DataFrame:
    """Fits KMeans (``n_init`` seeded restarts) for every k from ``k_min`` to
    ``k_max`` and scores each partition by inertia, silhouette,
    Calinski-Harabasz, Davies-Bouldin and bootstrap stability (mean and spread
    of the adjusted Rand index) and the share of its smallest segment, and
    scores a Gaussian mixture with k
    components by BIC on a seeded sample of at most ``bic_sample_size`` rows."""
    features = selection_features
    if len(features) <= k_max:
        raise ValueError(
            f"selection_features has {len(features)} rows; model_selection.k_max={k_max} "
            "needs more rows than segments"
        )
    mixture_sample = (
        features.sample(bic_sample_size, random_state=random_seed)
        if len(features) > bic_sample_size
        else features
    )
    # Exact silhouettes of a small table share one distance matrix across k.
    distances = (
        pairwise_distances(features)
        if len(features) <= min(silhouette_sample_size, PRECOMPUTED_DISTANCES_MAX)
        else None
    )
    stability = {
        "resamples": stability_resamples,
        "sample_size": stability_sample_size,
        "n_init": stability_n_init,
    }
    rows = []
    for k in range(k_min, k_max + 1):
        rows.append(
            _score_k(features, k, n_init, random_seed, silhouette_sample_size, stability, distances)
            | {"gmm_bic": _mixture_bic(mixture_sample, k, random_seed)}
        )
        logger.info("k=%d: %s", k, {name: round(v, 4) for name, v in rows[-1].items()})
    return pd.DataFrame(rows)


def _score_k(  # noqa: PLR0913 - the sample, k and the settings of each score
    features: pd.DataFrame,
    k: int,
    n_init: int,
    random_seed: int,
    silhouette_sample_size: int,
    stability: dict,
    distances: np.ndarray | None,
) -> dict:
    """The KMeans partition of ``features`` into ``k`` segments and its
    scores (every column of ``score_cluster_counts`` but the mixture's)."""
    kmeans = KMeans(n_clusters=k, n_init=n_init, random_state=random_seed).fit(features)
    labels = kmeans.labels_
    agreement = _bootstrap_stability(
        features,
        labels,
        k,
        stability["resamples"],
        stability["sample_size"],
        stability["n_init"],
        random_seed,
    )
    return {
        "k": k,
        "inertia": float(kmeans.inertia_),
        "smallest_share": float(np.bincount(labels).min() / len(labels)),
        "silhouette": silhouette(features, labels, silhouette_sample_size, random_seed, distances),
        "calinski_harabasz": float(calinski_harabasz_score(features, labels)),
        "davies_bouldin": float(davies_bouldin_score(features, labels)),
        "stability_mean": float(agreement.mean()),
        "stability_std": float(agreement.std()),
    }


def _mixture_bic(mixture_sample: pd.DataFrame, k: int, random_seed: int) -> float:
    """The BIC of a Gaussian mixture with ``k`` components."""
    mixture = GaussianMixture(n_components=k, random_state=random_seed).fit(mixture_sample)
    return float(mixture.bic(mixture_sample))


def choose_k_per_criterion(cluster_count_scores: pd.DataFrame) -> dict[str, int | None]:
    """The k each criterion alone would pick: the knee of the inertia curve
    (Kneedle), the best silhouette, Calinski-Harabasz, Davies-Bouldin,
    stability and Gaussian-mixture BIC. The elbow is ``None`` when the curve
    has no knee."""
    # kneed imports scipy.signal and matplotlib.pyplot, seconds that every
    # kedro command would pay at start-up if it were imported with the module.
    from kneed import KneeLocator  # noqa: PLC0415

    scores = cluster_count_scores.set_index("k")
    knee = KneeLocator(scores.index, scores["inertia"], curve="convex", direction="decreasing").knee
    choices: dict[str, int | None] = {"elbow": None if knee is None else int(knee)}
    for criterion in CRITERIA:
        choices[criterion] = _best_k(scores, criterion)
    return choices


def _best_k(scores: pd.DataFrame, criterion: str) -> int:
    """The k (index of ``scores``) that ``criterion`` scores best."""
    column, higher_is_better = CRITERIA[criterion]
    values = scores[column]
    return int(values.idxmax() if higher_is_better else values.idxmin())


def select_cluster_count(
    cluster_count_scores: pd.DataFrame,
    k_per_criterion: dict[str, int | None],
    criterion: str,
    min_stability: float,
    min_segment_share: float,
) -> tuple[int, dict]:
    """Picks k by ``criterion`` among the eligible k: those whose smallest
    segment holds at least ``min_segment_share`` of the customers, so that a
    handful of extreme customers is never deployed as a segment of its own.
    The default, ``consensus``, takes the best silhouette among the eligible
    k whose bootstrap stability reaches ``min_stability`` (the best silhouette
    of all eligible k when none does); any single criterion or ``elbow`` may
    be named instead. When no k is eligible, the k with the largest smallest
    segment is taken. Returns k and how it was chosen (``rule``: which rule
    actually decided, fallbacks included), for the metrics and the report."""
    scores = cluster_count_scores.set_index("k")
    eligible, too_small = _eligible(scores, min_segment_share)
    if eligible.empty:
        selected_k, rule = _largest_smallest_segment(scores, min_segment_share)
    else:
        selected_k, rule = _by_criterion(
            scores, eligible, k_per_criterion, criterion, min_stability
        )
    if len(set(k_per_criterion.values()) - {None}) > 1:
        logger.warning("The criteria disagree on k: %s; selected k=%d", k_per_criterion, selected_k)
    stable_k = bool(scores.loc[selected_k, "stability_mean"] >= min_stability)
    if not stable_k:
        logger.warning(
            "k=%d is unstable: bootstrap adjusted Rand index %.2f < %.2f",
            selected_k,
            scores.loc[selected_k, "stability_mean"],
            min_stability,
        )
    logger.info("Selected k=%d by %s (rule: %s)", selected_k, criterion, rule)
    return selected_k, {
        "selected_k": selected_k,
        "criterion": criterion,
        "rule": rule,
        "stable": stable_k,
        "min_segment_share": min_segment_share,
        "ineligible_k": too_small,
        "smallest_share": round(float(scores.loc[selected_k, "smallest_share"]), 4),
    }


def _eligible(scores: pd.DataFrame, min_segment_share: float) -> tuple[pd.DataFrame, dict]:
    """The scores of the k whose smallest segment holds at least
    ``min_segment_share``, and the smallest share of each other k."""
    too_small = {
        int(k): round(float(share), 4)
        for k, share in scores["smallest_share"].items()
        if share < min_segment_share
    }
    if too_small:
        logger.info(
            "k ineligible because a segment would hold less than %.1f%% of customers: %s",
            100 * min_segment_share,
            too_small,
        )
    return scores[scores["smallest_share"] >= min_segment_share], too_small


def _largest_smallest_segment(scores: pd.DataFrame, min_segment_share: float) -> tuple[int, str]:
    """The k whose smallest segment is largest, when no k is eligible."""
    selected_k = int(scores["smallest_share"].idxmax())
    logger.warning(
        "Every k from %d to %d has a segment under min_segment_share %.1f%%; choosing "
        "k=%d, whose smallest segment is largest (%.1f%%)",
        scores.index.min(),
        scores.index.max(),
        100 * min_segment_share,
        selected_k,
        100 * scores.loc[selected_k, "smallest_share"],
    )
    return selected_k, "largest_smallest_segment"


def _by_criterion(
    scores: pd.DataFrame,
    eligible: pd.DataFrame,
    k_per_criterion: dict[str, int | None],
    criterion: str,
    min_stability: float,
) -> tuple[int, str]:
    """The eligible k ``criterion`` picks, and the rule that decided."""
    if criterion == "consensus":
        stable = eligible[eligible["stability_mean"] >= min_stability]
        if not stable.empty:
            return _best_k(stable, "silhouette"), "stable_best_silhouette"
        logger.warning(
            "No k reaches bootstrap stability %.2f (best: %.2f at k=%d); "
            "choosing by silhouette alone",
            min_stability,
            scores["stability_mean"].max(),
            scores["stability_mean"].idxmax(),
        )
        return _best_k(eligible, "silhouette"), "best_silhouette_none_stable"
    if criterion == "elbow" and k_per_criterion["elbow"] not in eligible.index:
        logger.warning("The inertia curve has no eligible elbow; choosing k by silhouette")
        return _best_k(eligible, "silhouette"), "best_silhouette_no_elbow"
    if criterion == "elbow":
        return int(k_per_criterion["elbow"]), "elbow"
    return _best_k(eligible, criterion), criterion
