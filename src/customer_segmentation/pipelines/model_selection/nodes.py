"""Nodes of the model_selection pipeline: score every k on a sample of the
encoded customers, pick k, check that the data has structure at all, compare
algorithms, and fit the final segmentation model on every customer. The
pictures of these results are drawn in ``plots.py``."""

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
from sklearn.compose import ColumnTransformer
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec, key_column

logger = logging.getLogger(__name__)

# The score column of each criterion and whether larger means a better partition.
CRITERIA = {
    "silhouette": ("silhouette", True),
    "calinski_harabasz": ("calinski_harabasz", True),
    "davies_bouldin": ("davies_bouldin", False),
    "stability": ("stability_mean", True),
    "gmm_bic": ("gmm_bic", False),
}


def _feature_matrix(encoded_features: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    return encoded_features.drop(columns=[key_column(id_column)])


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


def _silhouette(features, labels, sample_size: int, random_seed: int) -> float:
    """Mean silhouette, exact up to ``sample_size`` rows and estimated on a
    seeded sample of that size beyond (its cost grows with the square of n)."""
    return float(
        silhouette_score(
            features,
            labels,
            sample_size=sample_size if len(features) > sample_size else None,
            random_state=random_seed,
        )
    )


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
    of the adjusted Rand index), and scores a Gaussian mixture with k
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
                "silhouette": _silhouette(features, labels, silhouette_sample_size, random_seed),
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
    for criterion, (column, higher_is_better) in CRITERIA.items():
        values = scores[column]
        choices[criterion] = int(values.idxmax() if higher_is_better else values.idxmin())
    return choices


def select_cluster_count(
    cluster_count_scores: pd.DataFrame,
    k_per_criterion: dict[str, int | None],
    criterion: str,
    min_stability: float,
) -> int:
    """Picks k by ``criterion``. The default, ``consensus``, takes the best
    silhouette among the k whose bootstrap stability reaches ``min_stability``
    (all k when none does); any single criterion or ``elbow`` may be named
    instead. Disagreement between the criteria is logged, not hidden."""
    scores = cluster_count_scores.set_index("k")
    choices = k_per_criterion
    if criterion == "consensus":
        stable = scores[scores["stability_mean"] >= min_stability]
        if stable.empty:
            logger.warning(
                "No k reaches bootstrap stability %.2f (best: %.2f at k=%d); "
                "choosing by silhouette alone",
                min_stability,
                scores["stability_mean"].max(),
                scores["stability_mean"].idxmax(),
            )
            stable = scores
        selected_k = int(stable["silhouette"].idxmax())
    elif criterion == "elbow" and choices["elbow"] is None:
        selected_k = choices["silhouette"]
        logger.warning("The inertia curve has no elbow; choosing k by silhouette")
    else:
        selected_k = choices[criterion]
    if len(set(choices.values()) - {None}) > 1:
        logger.warning("The criteria disagree on k: %s; selected k=%d", choices, selected_k)
    if scores.loc[selected_k, "stability_mean"] < min_stability:
        logger.warning(
            "k=%d is unstable: bootstrap adjusted Rand index %.2f < %.2f",
            selected_k,
            scores.loc[selected_k, "stability_mean"],
            min_stability,
        )
    logger.info("Selected k=%d by %s", selected_k, criterion)
    return selected_k


def assess_structure(
    selection_features: pd.DataFrame,
    cluster_count_scores: pd.DataFrame,
    structure_margin: float,
    silhouette_sample_size: int,
    n_init: int,
    random_seed: int,
) -> dict:
    """Compares the best silhouette of the data with that of structure-free
    reference data (uniform in the same feature box, seeded; KMeans with
    ``n_init`` restarts per k). Data whose best silhouette does not beat the
    reference by ``structure_margin`` has no clear segments, and the log and
    metrics say so."""
    features = selection_features.to_numpy()
    rng = np.random.default_rng(random_seed)
    size = min(len(features), silhouette_sample_size)
    reference = rng.uniform(features.min(axis=0), features.max(axis=0), (size, features.shape[1]))
    reference_silhouette = max(
        silhouette_score(
            reference,
            KMeans(n_clusters=k, n_init=n_init, random_state=random_seed).fit_predict(reference),
        )
        for k in cluster_count_scores["k"]
    )
    data_silhouette = float(cluster_count_scores["silhouette"].max())
    clear = data_silhouette - reference_silhouette >= structure_margin
    if not clear:
        logger.warning(
            "No clear segment structure: the best silhouette %.3f is within %.2f of "
            "structure-free reference data (%.3f); treat the segments as arbitrary cuts",
            data_silhouette,
            structure_margin,
            reference_silhouette,
        )
    return {
        "clear_structure": bool(clear),
        "best_silhouette": data_silhouette,
        "reference_silhouette": float(reference_silhouette),
        "margin": structure_margin,
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
    selection_features: pd.DataFrame, segmentation_model: Pipeline, features: dict
) -> dict:
    """Splits the between-segment sum of squares of the final partition by
    encoded column: the share each column carries of what separates the
    segments. A large ``categorical_share`` means one-hot blocks, not customer
    behaviour, drive the segments (``preprocessing.categorical_weight`` < 1
    reduces it). After PCA the columns are components and there is no share."""
    labels = segmentation.clustering(segmentation_model).predict(selection_features)
    overall = selection_features.mean()
    grouped = selection_features.groupby(labels)
    between = ((grouped.mean() - overall) ** 2).mul(grouped.size(), axis=0).sum()
    share = between / between.sum()
    one_hot = FeatureSpec.parse(features).one_hot_columns(list(selection_features.columns))
    categorical_share = float(share[one_hot].sum()) if one_hot else None
    if categorical_share is not None and categorical_share > 0.5:
        logger.warning(
            "One-hot columns carry %.0f%% of the separation between segments: the "
            "segments mostly follow categories; consider preprocessing.categorical_weight < 1",
            100 * categorical_share,
        )
    return {
        "categorical_share": categorical_share,
        "share_per_column": {column: round(float(value), 4) for column, value in share.items()},
    }


def describe_preprocessing(preprocessor: ColumnTransformer | Pipeline) -> dict:
    """The encoding choices of the fitted preprocessor behind the scores: the
    log-transformed columns, the one-hot weight and the variance the optional
    PCA keeps."""
    columns = segmentation.column_transformer(preprocessor)
    blocks = {name: list(names) for name, _, names in columns.transformers_}
    pca = segmentation.pca(preprocessor)
    return {
        "log_columns": blocks.get(segmentation.LOG_NUMERIC_BLOCK, []),
        "categorical_weight": (columns.transformer_weights or {}).get(
            segmentation.CATEGORICAL_BLOCK, 1.0
        ),
        "pca_components": None if pca is None else int(pca.n_components_),
        "pca_explained_variance": None
        if pca is None
        else [round(float(v), 4) for v in pca.explained_variance_ratio_],
    }


def summarise_model_selection(  # noqa: PLR0913 - one input per result it collects
    cluster_count_scores: pd.DataFrame,
    k_per_criterion: dict[str, int | None],
    selected_k: int,
    criterion: str,
    structure: dict,
    feature_separation: dict,
    preprocessing_summary: dict,
    algorithm_comparison: pd.DataFrame,
    min_stability: float,
) -> dict:
    """Collects the chosen k, the rule that chose it, what each criterion alone
    would choose, whether the data has clear structure, what separates the
    segments, the encoding choices and every score per k."""
    return {
        "selected_k": selected_k,
        "criterion": criterion,
        "clear_structure": structure["clear_structure"],
        "structure": structure,
        "choice_per_criterion": k_per_criterion,
        "criteria_agree": len(set(k_per_criterion.values()) - {None}) == 1,
        "selected_k_stable": bool(
            cluster_count_scores.set_index("k").loc[selected_k, "stability_mean"] >= min_stability
        ),
        "feature_separation": feature_separation,
        "preprocessing": preprocessing_summary,
        "algorithm_comparison": algorithm_comparison.replace({np.nan: None}).to_dict(
            orient="records"
        ),
        "scores": cluster_count_scores.to_dict(orient="records"),
    }


def _order_segments_by_size(kmeans: KMeans) -> KMeans:
    """Renumbers the clusters so that segment 0 is the largest, which keeps
    segment numbers meaningful and comparable between runs."""
    sizes = np.bincount(kmeans.labels_, minlength=kmeans.n_clusters)
    order = np.argsort(-sizes, kind="stable")
    new_label = np.empty_like(order)
    new_label[order] = np.arange(len(order))
    kmeans.cluster_centers_ = kmeans.cluster_centers_[order]
    kmeans.labels_ = new_label[kmeans.labels_]
    return kmeans


def fit_segmentation_model(  # noqa: PLR0913 - one keyword per setting it uses
    encoded_features: pd.DataFrame,
    selection_features: pd.DataFrame,
    preprocessor: ColumnTransformer | Pipeline,
    selected_k: int,
    id_column: str,
    n_init: int,
    random_seed: int,
) -> tuple[Pipeline, pd.DataFrame]:
    """Fits KMeans with the selected k on all customers and chains it after the
    fitted preprocessor, so one ``predict`` turns raw customer rows into
    segments; returns the model and the segment of every customer, from the
    fit itself (segment 0 is the largest).

    When k was chosen on a sample, the ``n_init`` restarts run on that sample
    and the fit on all customers starts from the best of them: the same
    partition as restarting on all rows, at a fraction of the cost. The saved
    model keeps only what ``predict`` needs (not the labels of the fit)."""
    features = _feature_matrix(encoded_features, id_column)
    kmeans = KMeans(n_clusters=selected_k, n_init=n_init, random_state=random_seed).fit(
        selection_features
    )
    if len(selection_features) < len(features):
        kmeans = KMeans(
            n_clusters=selected_k, init=kmeans.cluster_centers_, n_init=1, random_state=random_seed
        ).fit(features)
    kmeans = _order_segments_by_size(kmeans)
    id_column = key_column(id_column)
    customer_segments = pd.DataFrame(
        {
            # The ids keep their own (Arrow) storage: no Python string per customer.
            id_column: encoded_features[id_column].reset_index(drop=True),
            "segment": kmeans.labels_.astype("int64"),
        }
    )
    del kmeans.labels_
    return segmentation.segmentation_model(preprocessor, kmeans), customer_segments
