"""The model_selection nodes on one machine (pandas): score every k on a sample of the
encoded customers, pick k, check that the data has structure at all, compare
algorithms, and fit the final segmentation model on every customer. The
pictures of these results are drawn in ``plots.py``."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.cluster import (
    HDBSCAN,
    AgglomerativeClustering,
    BisectingKMeans,
    KMeans,
    MiniBatchKMeans,
)
from sklearn.compose import ColumnTransformer
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_samples,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from customer_segmentation import model as segmentation
from customer_segmentation.features import key_column

from .kernels import final_model, fit_on_sample, warn_small_segment

logger = logging.getLogger(__name__)

# Up to this many rows, score_cluster_counts computes the pairwise distances
# once (32 MB at 2,000 rows) for the exact silhouette of every k.
PRECOMPUTED_DISTANCES_MAX = 4000
# Numeric columns with at most this many distinct values are discrete for the
# structure check (counts, ratings).
DISCRETE_LEVELS = 50
# The score column of each criterion and whether larger means a better partition.
CRITERIA = {
    "silhouette": ("silhouette", True),
    "calinski_harabasz": ("calinski_harabasz", True),
    "davies_bouldin": ("davies_bouldin", False),
    "stability": ("stability_mean", True),
    "gmm_bic": ("gmm_bic", False),
}


def _one_thread(node: Callable) -> Callable:
    """Runs ``node`` with one OpenMP and BLAS thread. The nodes that work on
    the selection sample (at most ``selection_sample_size`` rows) fit hundreds
    of small models; on small tables scikit-learn's threads cost more in
    start-up and synchronisation than they save (score_cluster_counts at the
    default settings, 2 cores: 1.7 s to 1.1 s on 2,000 rows, 2.2 s to 1.7 s on
    10,000). The fit on every customer keeps all threads."""

    @functools.wraps(node)
    def on_one_thread(*args, **kwargs):
        with threadpool_limits(limits=1):
            return node(*args, **kwargs)

    return on_one_thread


def _feature_matrix(encoded_features: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    return encoded_features.drop(columns=[key_column(id_column)])


def _c_ordered(features: pd.DataFrame) -> np.ndarray:
    """The float64 matrix of ``features`` in the row-major (C) order that
    KMeans works in, copied once, a block of rows at a time. Handing KMeans
    the frame itself costs two copies: numpy interleaves the frame's blocks
    into a column-major matrix, then scikit-learn copies that into row-major
    (1.8 GB more at the peak of ten million customers, not 0.9)."""
    matrix = np.empty(features.shape, dtype=np.float64)
    for start in range(0, len(features), segmentation.ROWS_PER_BLOCK):
        rows = slice(start, start + segmentation.ROWS_PER_BLOCK)
        matrix[rows] = features.iloc[rows].to_numpy(dtype=np.float64)
    return matrix


def sample_for_selection(
    encoded_features: pd.DataFrame, id_column: str, sample_size: int, random_seed: int
) -> pd.DataFrame:
    """The encoded feature rows k is chosen on, without the id: all of them up
    to ``selection_sample_size``, a seeded random sample of that size beyond, so
    choosing k costs the same at ten thousand customers as at ten million (the
    final model is still fitted on every row)."""
    features = _feature_matrix(encoded_features, id_column)
    if len(features) <= sample_size:
        return features
    logger.info("Choosing k on a seeded sample of %d of %d customers", sample_size, len(features))
    return features.sample(sample_size, random_state=random_seed)


def _bootstrap_stability(
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


def _silhouette(
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


@_one_thread
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
    rows = []
    for k in range(k_min, k_max + 1):
        kmeans = KMeans(n_clusters=k, n_init=n_init, random_state=random_seed).fit(features)
        labels = kmeans.labels_
        stability = _bootstrap_stability(
            features,
            labels,
            k,
            stability_resamples,
            stability_sample_size,
            stability_n_init,
            random_seed,
        )
        mixture = GaussianMixture(n_components=k, random_state=random_seed).fit(mixture_sample)
        rows.append(
            {
                "k": k,
                "inertia": float(kmeans.inertia_),
                "smallest_share": float(np.bincount(labels).min() / len(labels)),
                "silhouette": _silhouette(
                    features, labels, silhouette_sample_size, random_seed, distances
                ),
                "calinski_harabasz": float(calinski_harabasz_score(features, labels)),
                "davies_bouldin": float(davies_bouldin_score(features, labels)),
                "stability_mean": float(stability.mean()),
                "stability_std": float(stability.std()),
                "gmm_bic": float(mixture.bic(mixture_sample)),
            }
        )
        logger.info("k=%d: %s", k, {name: round(v, 4) for name, v in rows[-1].items()})
    return pd.DataFrame(rows)


def choose_k_per_criterion(cluster_count_scores: pd.DataFrame) -> dict[str, int | None]:
    """The k each criterion alone would pick: the knee of the inertia curve
    (Kneedle), the best silhouette, Calinski-Harabasz, Davies-Bouldin,
    stability and Gaussian-mixture BIC. The elbow is ``None`` when the curve
    has no knee."""
    # kneed imports scipy.signal and matplotlib.pyplot, 2.5 s that every kedro
    # command would pay at start-up if it were imported with the module.
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
    eligible = scores[scores["smallest_share"] >= min_segment_share]
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
    if eligible.empty:
        selected_k = int(scores["smallest_share"].idxmax())
        rule = "largest_smallest_segment"
        logger.warning(
            "Every k from %d to %d has a segment under min_segment_share %.1f%%; choosing "
            "k=%d, whose smallest segment is largest (%.1f%%)",
            scores.index.min(),
            scores.index.max(),
            100 * min_segment_share,
            selected_k,
            100 * scores.loc[selected_k, "smallest_share"],
        )
    elif criterion == "consensus":
        stable = eligible[eligible["stability_mean"] >= min_stability]
        rule = "stable_best_silhouette"
        if stable.empty:
            logger.warning(
                "No k reaches bootstrap stability %.2f (best: %.2f at k=%d); "
                "choosing by silhouette alone",
                min_stability,
                scores["stability_mean"].max(),
                scores["stability_mean"].idxmax(),
            )
            stable, rule = eligible, "best_silhouette_none_stable"
        selected_k = _best_k(stable, "silhouette")
    elif criterion == "elbow" and k_per_criterion["elbow"] not in eligible.index:
        selected_k, rule = _best_k(eligible, "silhouette"), "best_silhouette_no_elbow"
        logger.warning("The inertia curve has no eligible elbow; choosing k by silhouette")
    elif criterion == "elbow":
        selected_k, rule = int(k_per_criterion["elbow"]), "elbow"
    else:
        selected_k, rule = _best_k(eligible, criterion), criterion
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


def _permuted(values: pd.DataFrame, variables: list[list[str]], rng) -> pd.DataFrame:
    """Each variable's columns shuffled over the rows, independently of the
    other variables (a one-hot block moves as one): every variable keeps its
    distribution, and any dependence between variables, groups included, is gone."""
    permuted = values.copy()
    for columns in variables:
        permuted[columns] = values[columns].to_numpy()[rng.permutation(len(values))]
    return permuted


def _spread_discrete(values: pd.DataFrame, columns: list[str], rng) -> pd.DataFrame:
    """Numeric columns of at most ``DISCRETE_LEVELS`` distinct values (counts,
    1-5 ratings) with each value spread uniformly over half the gap to its
    neighbours (seeded): ties on a lattice would otherwise look like modes to
    the dip test and like tight groups to the silhouette."""
    spread = values.copy()
    for column in columns:
        levels = np.unique(values[column].to_numpy())
        if 1 < len(levels) <= DISCRETE_LEVELS:
            gap = float(np.diff(levels).min())
            spread[column] = values[column] + rng.uniform(-gap / 2, gap / 2, len(values))
    return spread


def _null_silhouette(reference: np.ndarray, k: int, n_init: int, random_seed: int) -> float:
    labels = KMeans(n_clusters=k, n_init=n_init, random_state=random_seed).fit_predict(reference)
    return float(silhouette_score(reference, labels)) if len(set(labels)) > 1 else 0.0


def _dip_p_value(numeric: np.ndarray, n_init: int, random_seed: int) -> float | None:
    """Hartigan's dip test p-value of the numeric features projected on the
    line between the two centres of a 2-means fit: small when the customers
    fall into two or more modes along it. None when the projection takes too
    few distinct values (counts of a few levels) for the test to mean anything."""
    import diptest  # noqa: PLC0415 - its compiled module is only needed here

    centres = KMeans(n_clusters=2, n_init=n_init, random_state=random_seed).fit(numeric)
    direction = centres.cluster_centers_[1] - centres.cluster_centers_[0]
    projection = numeric @ (direction / (np.linalg.norm(direction) or 1.0))
    if len(np.unique(projection)) < max(20, 0.1 * len(projection)):
        return None
    return float(diptest.diptest(projection)[1])


@_one_thread
def assess_structure(  # noqa: PLR0913 - one keyword per setting it uses
    selection_features: pd.DataFrame,
    segmentation_model: Pipeline,
    structure_margin: float,
    structure_dip_p_value: float,
    silhouette_sample_size: int,
    n_init: int,
    random_seed: int,
) -> dict:
    """Says whether the customers fall into groups at all, judged on the
    deployed partition (the selected k) of a seeded sample of at most
    ``silhouette_sample_size`` customers.

    Structure is clear when either holds:

    - **groups across features**: the silhouette beats, by ``structure_margin``,
      that of KMeans with the same k on two kinds of structure-free reference
      data of the same size (three draws each): the features shuffled
      independently over the customers (each keeps its own distribution, so
      skew is no evidence), and one Gaussian blob with the data's mean and
      covariance (so correlation is no evidence). Uniform noise and skewed
      blobs pass the first test, one correlated blob the second; only groups
      beat both;
    - **modes along one direction**: Hartigan's dip test rejects a single mode
      of the numeric features along the 2-means direction at
      ``structure_dip_p_value`` (groups split on one feature, which shuffling
      keeps).

    Discrete numeric columns (counts, ratings: ``_spread_discrete``) are
    spread over their gaps first, so that ties are not taken for modes. After
    PCA the check runs in the space of the encoded columns (the PCA's
    inverse, which keeps distances)."""
    k = segmentation.clustering(segmentation_model).n_clusters
    size = min(len(selection_features), silhouette_sample_size)
    sample = selection_features.sample(size, random_state=random_seed)
    labels = segmentation.clustering(segmentation_model).predict(sample)
    preprocessor = segmentation.preprocessor(segmentation_model)
    variables = segmentation.encoded_variables(preprocessor)
    columns = [column for group in variables.values() for column in group]
    if (pca := segmentation.pca(preprocessor)) is not None:
        values = pd.DataFrame(pca.inverse_transform(sample.to_numpy()), columns=columns)
    else:
        values = sample[columns].reset_index(drop=True)
    rng = np.random.default_rng(random_seed)
    numeric = [c for c, group in variables.items() if group == [c]]
    values = _spread_discrete(values, numeric, rng)
    silhouette = float(silhouette_score(values, labels)) if len(set(labels)) > 1 else 0.0
    draws = 3
    permuted = np.mean(
        [
            _null_silhouette(_permuted(values, list(variables.values()), rng), k, n_init, seed)
            for seed in range(random_seed, random_seed + draws)
        ]
    )
    matrix = values.to_numpy()
    covariance = np.cov(matrix, rowvar=False)
    gaussian = np.mean(
        [
            _null_silhouette(
                rng.multivariate_normal(matrix.mean(axis=0), covariance, size, method="eigh"),
                k,
                n_init,
                seed,
            )
            for seed in range(random_seed, random_seed + draws)
        ]
    )
    dip_p = _dip_p_value(values[numeric].to_numpy(), n_init, random_seed)
    across = bool(silhouette - max(permuted, gaussian) >= structure_margin)
    modes = dip_p is not None and dip_p < structure_dip_p_value
    clear = across or modes
    evidence = (
        "groups across features" if across else "modes along one direction" if modes else "none"
    )
    if clear:
        logger.info("Clear segment structure at k=%d (%s)", k, evidence)
    else:
        logger.warning(
            "No clear segment structure at k=%d: silhouette %.3f against %.3f on shuffled "
            "features and %.3f on one Gaussian blob (margin %.3f), dip test p=%s; treat the "
            "segments as cuts of a continuum",
            k,
            silhouette,
            permuted,
            gaussian,
            structure_margin,
            "n/a" if dip_p is None else f"{dip_p:.3g}",
        )
    return {
        "clear_structure": bool(clear),
        "evidence": evidence,
        "k": int(k),
        "silhouette": round(silhouette, 4),
        "shuffled_silhouette": round(float(permuted), 4),
        "gaussian_silhouette": round(float(gaussian), 4),
        "margin": structure_margin,
        "dip_p_value": None if dip_p is None else round(dip_p, 6),
        "sample_size": int(size),
    }


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
        "silhouette": _silhouette(values, labels, sample_size, seed),
        "calinski_harabasz": float(calinski_harabasz_score(values, labels)),
        "davies_bouldin": float(davies_bouldin_score(values, labels)),
    }


@_one_thread
def compare_algorithms(  # noqa: PLR0913 - one keyword per setting it uses
    selection_features: pd.DataFrame,
    selected_k: int,
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
    the agreement (adjusted Rand index) with KMeans. Ward and HDBSCAN cannot
    assign new customers to segments, so they are reported, never deployed.
    Fit times go to the log, not the table, so the table is deterministic."""
    seed = random_seed
    size = min(len(selection_features), comparison_sample_size)
    features = selection_features.sample(size, random_state=seed).to_numpy()
    algorithms = {
        "kmeans": KMeans(n_clusters=selected_k, n_init=n_init, random_state=seed),
        "minibatch_kmeans": MiniBatchKMeans(
            n_clusters=selected_k, n_init=n_init, random_state=seed
        ),
        "bisecting_kmeans": BisectingKMeans(
            n_clusters=selected_k, n_init=n_init, random_state=seed
        ),
        "gaussian_mixture": GaussianMixture(n_components=selected_k, random_state=seed),
        "ward": AgglomerativeClustering(n_clusters=selected_k, linkage="ward"),
        "hdbscan": HDBSCAN(
            min_cluster_size=max(5, int(hdbscan_min_cluster_share * size)), copy=True
        ),
    }
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
                "deployed": name == "kmeans",
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


def measure_feature_separation(
    selection_features: pd.DataFrame, segmentation_model: Pipeline
) -> dict:
    """Splits the between-segment sum of squares of the final partition by
    feature (a categorical feature's one-hot columns together) and by block:
    the share each carries of what separates the segments. A large
    ``categorical_share`` means categories, not customer behaviour, drive the
    segments. After PCA the columns are components and there are no shares."""
    preprocessor = segmentation.preprocessor(segmentation_model)
    if segmentation.pca(preprocessor) is not None:
        return {"numeric_share": None, "categorical_share": None, "share_per_feature": {}}
    labels = segmentation.clustering(segmentation_model).predict(selection_features)
    overall = selection_features.mean()
    grouped = selection_features.groupby(labels)
    between = ((grouped.mean() - overall) ** 2).mul(grouped.size(), axis=0).sum()
    share = between / (between.sum() or 1.0)
    variables = segmentation.encoded_variables(preprocessor)
    per_feature = {name: float(share[columns].sum()) for name, columns in variables.items()}
    numeric = [name for name, columns in variables.items() if columns == [name]]
    categorical_share = (
        float(sum(v for n, v in per_feature.items() if n not in numeric))
        if len(numeric) < len(variables)
        else None
    )
    if categorical_share is not None and categorical_share > 0.5:
        logger.warning(
            "Categorical features carry %.0f%% of the separation between segments: the "
            "segments mostly follow categories",
            100 * categorical_share,
        )
    return {
        "numeric_share": round(float(sum(per_feature[n] for n in numeric)), 4),
        "categorical_share": None if categorical_share is None else round(categorical_share, 4),
        "share_per_feature": {
            name: round(value, 4)
            for name, value in sorted(per_feature.items(), key=lambda item: -item[1])
        },
    }


def _raw_value(block: Pipeline, column: int, scaled: float) -> float:
    """A value on the clustering scale of one column, back in original units."""
    scaler = block[-2]
    value = scaled * scaler.scale_[column] + scaler.mean_[column]
    transform = block[-3] if len(block) > 3 else None
    if isinstance(transform, FunctionTransformer):
        value = float(np.expm1(value))
    elif transform is not None:
        row = np.zeros((1, transform.n_features_in_))
        row[0, column] = value
        value = float(transform.inverse_transform(row)[0, column])
    return float(value)


def describe_preprocessing(preprocessor: ColumnTransformer | Pipeline) -> dict:
    """The encoding choices of the fitted preprocessor behind the scores: each
    numeric feature's transform and skewness, the customers clipped on each
    (in the training rows, with the bound in original units), the categorical
    weighting and the variance the optional PCA keeps."""
    columns = segmentation.column_transformer(preprocessor)
    skewness = getattr(columns, "skewness_", {})
    transforms, outliers = {}, {}
    for name, block, names in columns.transformers_:
        if name not in segmentation.NUMERIC_BLOCKS:
            continue
        clipper = block[-1]
        for position, column in enumerate(names):
            transforms[column] = {
                "transform": segmentation.NUMERIC_BLOCKS[name],
                "skewness": skewness.get(column),
            }
            for side, count, bound in (
                ("below", clipper.n_clipped_low_[position], clipper.lower_[position]),
                ("above", clipper.n_clipped_high_[position], clipper.upper_[position]),
            ):
                if count:
                    outliers.setdefault(column, {})[side] = {
                        "customers": int(count),
                        "share": round(float(count / clipper.n_samples_fit_), 4),
                        "bound": round(_raw_value(block, position, float(bound)), 6),
                    }
    pca = segmentation.pca(preprocessor)
    return {
        "transforms": transforms,
        "clip_quantile": next(
            (
                block[-1].quantile
                for name, block, _ in columns.transformers_
                if name in segmentation.NUMERIC_BLOCKS
            ),
            None,
        ),
        "outliers": outliers,
        "categorical_weight": (columns.transformer_weights or {}).get(
            segmentation.CATEGORICAL_BLOCK
        ),
        "pca_components": None if pca is None else int(pca.n_components_),
        "pca_explained_variance": None
        if pca is None
        else [round(float(v), 4) for v in pca.explained_variance_ratio_],
    }


def summarise_model_selection(  # noqa: PLR0913 - one input per result it collects
    cluster_count_scores: pd.DataFrame,
    k_per_criterion: dict[str, int | None],
    k_choice: dict,
    structure: dict,
    feature_separation: dict,
    preprocessing_summary: dict,
    algorithm_comparison: pd.DataFrame,
) -> dict:
    """Collects the chosen k and the rule that actually chose it, what each
    criterion alone would choose, whether the data has clear structure, what
    separates the segments, the encoding choices (transforms, clipped
    outliers) and every score per k."""
    return {
        "selected_k": k_choice["selected_k"],
        "criterion": k_choice["criterion"],
        "k_choice": k_choice,
        "clear_structure": structure["clear_structure"],
        "structure": structure,
        "choice_per_criterion": k_per_criterion,
        "criteria_agree": len(set(k_per_criterion.values()) - {None}) == 1,
        "selected_k_stable": k_choice["stable"],
        "feature_separation": feature_separation,
        "preprocessing": preprocessing_summary,
        "algorithm_comparison": algorithm_comparison.replace({np.nan: None}).to_dict(
            orient="records"
        ),
        "scores": cluster_count_scores.to_dict(orient="records"),
    }


def fit_segmentation_model(  # noqa: PLR0913 - one keyword per setting it uses
    encoded_features: pd.DataFrame,
    selection_features: pd.DataFrame,
    preprocessor: ColumnTransformer | Pipeline,
    selected_k: int,
    id_column: str,
    n_init: int,
    random_seed: int,
    min_segment_share: float = 0.0,
) -> tuple[Pipeline, pd.DataFrame]:
    """Fits KMeans with the selected k on all customers and chains it after the
    fitted preprocessor, so one ``predict`` turns raw customer rows into
    segments; returns the model and the segment of every customer, from the
    fit itself (segment 0 is the largest).

    When k was chosen on a sample, the ``n_init`` restarts run on that sample
    and the fit on all customers starts from the best of them: the same
    partition as restarting on all rows, at a fraction of the cost. The saved
    model keeps only what ``predict`` needs (not the labels of the fit). A
    smallest segment under ``min_segment_share`` on all customers (k was
    eligible on the sample) is logged as a warning."""
    kmeans = fit_on_sample(selection_features, selected_k, n_init, random_seed)
    features = _feature_matrix(encoded_features, id_column)
    if len(selection_features) < len(features):
        # copy_x=False: KMeans centres the matrix in place, and it is ours.
        kmeans = segmentation.SegmentKMeans(
            n_clusters=selected_k,
            init=kmeans.cluster_centers_,
            n_init=1,
            random_state=random_seed,
            copy_x=False,
        ).fit(_c_ordered(features))
        # As a fit on the frame would: predict checks the columns by name.
        kmeans.feature_names_in_ = np.asarray(features.columns, dtype=object)
    sizes = np.bincount(kmeans.labels_, minlength=selected_k)
    order = segmentation.largest_first(kmeans, sizes)
    new_segment = np.empty_like(order)
    new_segment[order] = np.arange(len(order))
    customer_segments = pd.DataFrame(
        {
            # The ids keep their own (Arrow) storage: no Python string per customer.
            key_column(id_column): encoded_features[key_column(id_column)].reset_index(drop=True),
            "segment": new_segment[kmeans.labels_].astype("int64"),
        }
    )
    warn_small_segment(sizes[order], min_segment_share)
    return final_model(preprocessor, kmeans), customer_segments
