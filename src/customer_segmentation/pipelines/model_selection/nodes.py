"""Choosing the number of segments and fitting the final segmentation model."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
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
    silhouette_samples,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

# The score column of each criterion and whether larger means a better partition.
CRITERIA = {
    "silhouette": ("silhouette", True),
    "calinski_harabasz": ("calinski_harabasz", True),
    "davies_bouldin": ("davies_bouldin", False),
    "stability": ("stability_mean", True),
    "gmm_bic": ("gmm_bic", False),
}
SELECTION_RULES = ("consensus", "elbow", *CRITERIA)


def _feature_matrix(encoded_features: pd.DataFrame, id_column: str) -> pd.DataFrame:
    return encoded_features.drop(columns=[id_column])


def sample_for_selection(
    encoded_features: pd.DataFrame, id_column: str, kmeans_params: dict
) -> pd.DataFrame:
    """The encoded feature rows k is chosen on, without the id: all of them up
    to ``selection_sample_size``, a seeded random sample of that size beyond, so
    choosing k costs the same at ten thousand customers as at ten million (the
    final model is still fitted on every row)."""
    features = _feature_matrix(encoded_features, id_column)
    size = kmeans_params["selection_sample_size"]
    if len(features) <= size:
        return features
    logger.info("Choosing k on a seeded sample of %d of %d customers", size, len(features))
    return features.sample(size, random_state=kmeans_params["random_seed"])


def _bootstrap_stability(
    features: pd.DataFrame, labels: np.ndarray, k: int, kmeans_params: dict
) -> np.ndarray:
    """Adjusted Rand index between the partition of the selection sample and
    partitions refitted on seeded bootstrap resamples (of at most
    ``stability_sample_size`` rows): near 1 when k is reproducible."""
    rng = np.random.default_rng(kmeans_params["random_seed"])
    subset = rng.permutation(len(features))[: kmeans_params["stability_sample_size"]]
    values, reference = features.to_numpy()[subset], labels[subset]
    agreement = []
    for resample in range(kmeans_params["stability_resamples"]):
        rows = rng.integers(0, len(values), size=len(values))
        refit = KMeans(
            n_clusters=k,
            n_init=kmeans_params["stability_n_init"],
            random_state=kmeans_params["random_seed"] + resample + 1,
        ).fit(values[rows])
        agreement.append(adjusted_rand_score(reference, refit.predict(values)))
    return np.array(agreement) if agreement else np.array([np.nan])


def score_cluster_counts(selection_features: pd.DataFrame, kmeans_params: dict) -> pd.DataFrame:
    """Fits KMeans for every k from ``k_min`` to ``k_max`` and scores each
    partition by inertia, silhouette, Calinski-Harabasz, Davies-Bouldin and
    bootstrap stability (mean and spread of the adjusted Rand index), and scores
    a Gaussian mixture with k components by BIC (on at most
    ``bic_sample_size`` rows).

    Silhouette is exact up to ``silhouette_sample_size`` rows and estimated on a
    seeded sample of that size beyond, as its cost grows with the square of n.
    """
    features = selection_features
    k_min, k_max = kmeans_params["k_min"], kmeans_params["k_max"]
    if not 2 <= k_min <= k_max:
        raise ValueError(
            f"model_selection.k_min and k_max must satisfy 2 <= k_min <= k_max, "
            f"got k_min={k_min}, k_max={k_max}"
        )
    if len(features) <= k_max:
        raise ValueError(
            f"selection_features has {len(features)} rows; model_selection.k_max={k_max} "
            "needs more rows than segments"
        )
    sample_size = kmeans_params["silhouette_sample_size"]
    rows = []
    for k in range(k_min, k_max + 1):
        model = KMeans(
            n_clusters=k,
            n_init=kmeans_params["n_init"],
            random_state=kmeans_params["random_seed"],
        ).fit(features)
        labels = model.labels_
        stability = _bootstrap_stability(features, labels, k, kmeans_params)
        mixture_sample = features.iloc[: kmeans_params["bic_sample_size"]]
        mixture = GaussianMixture(n_components=k, random_state=kmeans_params["random_seed"]).fit(
            mixture_sample
        )
        rows.append(
            {
                "k": k,
                "inertia": float(model.inertia_),
                "silhouette": float(
                    silhouette_score(
                        features,
                        labels,
                        sample_size=sample_size if len(features) > sample_size else None,
                        random_state=kmeans_params["random_seed"],
                    )
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
    if criterion not in SELECTION_RULES:
        raise ValueError(
            f"model_selection.criterion must be one of {list(SELECTION_RULES)}, got '{criterion}'"
        )
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
    selection_features: pd.DataFrame, cluster_count_scores: pd.DataFrame, kmeans_params: dict
) -> dict:
    """Compares the best silhouette of the data with that of structure-free
    reference data (uniform in the same feature box, seeded). Data whose best
    silhouette does not beat the reference by ``structure_margin`` has no
    clear segments, and the log and metrics say so."""
    features = selection_features.to_numpy()
    rng = np.random.default_rng(kmeans_params["random_seed"])
    size = min(len(features), kmeans_params["silhouette_sample_size"])
    reference = rng.uniform(features.min(axis=0), features.max(axis=0), (size, features.shape[1]))
    reference_silhouette = max(
        silhouette_score(
            reference,
            KMeans(
                n_clusters=k,
                n_init=kmeans_params["stability_n_init"],
                random_state=kmeans_params["random_seed"],
            ).fit_predict(reference),
        )
        for k in cluster_count_scores["k"]
    )
    data_silhouette = float(cluster_count_scores["silhouette"].max())
    clear = data_silhouette - reference_silhouette >= kmeans_params["structure_margin"]
    if not clear:
        logger.warning(
            "No clear segment structure: the best silhouette %.3f is within %.2f of "
            "structure-free reference data (%.3f); treat the segments as arbitrary cuts",
            data_silhouette,
            kmeans_params["structure_margin"],
            reference_silhouette,
        )
    return {
        "clear_structure": bool(clear),
        "best_silhouette": data_silhouette,
        "reference_silhouette": float(reference_silhouette),
        "margin": kmeans_params["structure_margin"],
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
        "silhouette": float(
            silhouette_score(
                values,
                labels,
                sample_size=sample_size if len(values) > sample_size else None,
                random_state=seed,
            )
        ),
        "calinski_harabasz": float(calinski_harabasz_score(values, labels)),
        "davies_bouldin": float(davies_bouldin_score(values, labels)),
    }


def compare_algorithms(
    selection_features: pd.DataFrame, selected_k: int, kmeans_params: dict
) -> pd.DataFrame:
    """Runs KMeans, MiniBatchKMeans, BisectingKMeans, a Gaussian mixture and
    Ward agglomerative clustering at the selected k, and HDBSCAN (which finds
    its own number of segments and labels noise), on the same seeded sample of
    at most ``comparison_sample_size`` encoded rows, with the same criteria and
    the agreement (adjusted Rand index) with KMeans. Ward and HDBSCAN cannot
    assign new customers to segments, so they are reported, never deployed."""
    seed, n_init = kmeans_params["random_seed"], kmeans_params["n_init"]
    size = min(len(selection_features), kmeans_params["comparison_sample_size"])
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
            min_cluster_size=max(5, int(kmeans_params["hdbscan_min_cluster_share"] * size)),
            copy=True,
        ),
    }
    rows, kmeans_labels = [], None
    for name, algorithm in algorithms.items():
        started = time.perf_counter()
        labels = algorithm.fit_predict(features)
        seconds = time.perf_counter() - started
        kmeans_labels = labels if kmeans_labels is None else kmeans_labels
        rows.append(
            {
                "algorithm": name,
                "segments": int(len(set(labels) - {-1})),
                **_partition_scores(
                    features, labels, kmeans_params["silhouette_sample_size"], seed
                ),
                "agreement_with_kmeans": float(adjusted_rand_score(kmeans_labels, labels)),
                "noise_share": float(np.mean(labels == -1)),
                "scores_new_customers": hasattr(algorithm, "predict"),
                "deployed": name == "kmeans",
                "fit_seconds": round(seconds, 3),
                "sample_size": size,
            }
        )
    comparison = pd.DataFrame(rows)
    logger.info(
        "Algorithms at k=%d: %s",
        selected_k,
        comparison.set_index("algorithm")["silhouette"].round(3).to_dict(),
    )
    return comparison


def plot_algorithm_comparison(algorithm_comparison: pd.DataFrame) -> Figure:
    """Silhouette of each algorithm and its agreement with KMeans; grey bars
    cannot score new customers, so they are reported but never deployed."""
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    names = [
        f"{row.algorithm} ({row.segments}"
        + (f", {row.noise_share:.0%} noise)" if row.noise_share > 0 else ")")
        for row in algorithm_comparison.itertuples()
    ]
    colours = [
        "C3" if row.deployed else ("C0" if row.scores_new_customers else "C7")
        for row in algorithm_comparison.itertuples()
    ]
    for ax, column, label in (
        (axes[0], "silhouette", "mean silhouette (higher is better)"),
        (axes[1], "agreement_with_kmeans", "adjusted Rand index with KMeans"),
    ):
        bars = ax.barh(names, algorithm_comparison[column].fillna(0), color=colours)
        ax.bar_label(bars, fmt="%.2f", padding=3)
        ax.set_xlabel(label)
        ax.set_xlim(0, 1.15)
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("algorithm (segments found)")
    figure.suptitle(
        "Algorithms on the same customers "
        "(red: deployed model; grey: cannot score new customers, reported only)"
    )
    return figure


def measure_feature_separation(
    selection_features: pd.DataFrame, segmentation_model: Pipeline, features: dict
) -> dict:
    """Splits the between-segment sum of squares of the final partition by
    encoded column: the share each column carries of what separates the
    segments. A large ``categorical_share`` means one-hot blocks, not customer
    behaviour, drive the segments (``preprocessing.categorical_weight`` < 1
    reduces it). After PCA the columns are components and there is no share."""
    labels = segmentation_model.named_steps["kmeans"].predict(selection_features)
    overall = selection_features.mean()
    grouped = selection_features.groupby(labels)
    between = ((grouped.mean() - overall) ** 2).mul(grouped.size(), axis=0).sum()
    share = between / between.sum()
    one_hot = [
        column
        for column in selection_features.columns
        if any(column.startswith(f"{name}_") for name in features.get("categorical") or {})
    ]
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


def describe_preprocessing(preprocessor: ColumnTransformer | Pipeline, preprocessing: dict) -> dict:
    """The encoding choices behind the scores, with the variance the optional
    PCA keeps."""
    pca = preprocessor.named_steps.get("pca") if isinstance(preprocessor, Pipeline) else None
    return {
        "log_columns": list(preprocessing.get("log_columns") or []),
        "categorical_weight": preprocessing.get("categorical_weight", 1.0),
        "pca_components": None if pca is None else int(pca.n_components_),
        "pca_explained_variance": None
        if pca is None
        else [round(float(v), 4) for v in pca.explained_variance_ratio_],
    }


def summarise_model_selection(
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


def _circle_k(
    axes, cluster_count_scores: pd.DataFrame, column: str, k: int, colour: str, label: str
) -> None:
    """Circles the point of ``column`` at ``k`` on a score-by-k plot."""
    value = cluster_count_scores.set_index("k").loc[k, column]
    axes.scatter(
        [k],
        [value],
        s=160,
        facecolors="none",
        edgecolors=colour,
        linewidths=2,
        label=label,
        zorder=3,
    )


def _score_plot(
    cluster_count_scores: pd.DataFrame, selected_k: int, column: str, ylabel: str, title: str
) -> Figure:
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    axes.plot(cluster_count_scores["k"], cluster_count_scores[column], marker="o")
    _circle_k(axes, cluster_count_scores, column, selected_k, "C3", f"selected k = {selected_k}")
    axes.set_xticks(cluster_count_scores["k"])
    axes.set_xlabel("number of segments k")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def plot_elbow(cluster_count_scores: pd.DataFrame, selected_k: int) -> Figure:
    """Inertia (within-segment sum of squares) by k: the bend of the curve is
    where adding segments stops paying off."""
    return _score_plot(
        cluster_count_scores,
        selected_k,
        "inertia",
        "inertia (within-segment sum of squares)",
        "Elbow: inertia by number of segments",
    )


def plot_silhouette(cluster_count_scores: pd.DataFrame, selected_k: int) -> Figure:
    """Mean silhouette by k: higher means customers sit closer to their own
    segment than to the next one."""
    return _score_plot(
        cluster_count_scores,
        selected_k,
        "silhouette",
        "mean silhouette (-1 to 1, higher is better)",
        "Silhouette by number of segments",
    )


_CRITERIA_PANELS = (
    ("inertia", "inertia (elbow)", None),
    ("silhouette", "silhouette (higher is better)", "silhouette"),
    ("calinski_harabasz", "Calinski-Harabasz (higher is better)", "calinski_harabasz"),
    ("davies_bouldin", "Davies-Bouldin (lower is better)", "davies_bouldin"),
    ("stability_mean", "bootstrap stability, ARI (higher is better)", "stability"),
    ("gmm_bic", "Gaussian mixture BIC (lower is better)", "gmm_bic"),
)


def plot_criteria(
    cluster_count_scores: pd.DataFrame, k_per_criterion: dict, selected_k: int
) -> Figure:
    """Every criterion by k on one figure: each panel circles the k that
    criterion alone prefers and marks the selected k with a dashed line, so
    agreement or disagreement is visible at a glance."""
    figure = Figure(figsize=(12, 7), layout="constrained")
    panels = figure.subplots(2, 3, sharex=True).ravel()
    for axes, (column, title, criterion) in zip(panels, _CRITERIA_PANELS):
        axes.plot(cluster_count_scores["k"], cluster_count_scores[column], marker="o")
        preferred = k_per_criterion.get(criterion or "elbow")
        if preferred is not None:
            _circle_k(
                axes, cluster_count_scores, column, preferred, "C1", f"best alone: k = {preferred}"
            )
            axes.legend(loc="best", fontsize="small")
        axes.axvline(selected_k, color="C3", linestyle="--", alpha=0.7)
        axes.set_title(title, fontsize="medium")
        axes.grid(alpha=0.3)
        axes.set_xticks(cluster_count_scores["k"])
    for axes in panels[3:]:
        axes.set_xlabel("number of segments k")
    figure.suptitle(f"Criteria by number of segments (dashed red line: selected k = {selected_k})")
    return figure


def plot_stability(
    cluster_count_scores: pd.DataFrame, selected_k: int, min_stability: float
) -> Figure:
    """Bootstrap stability by k (mean and spread of the adjusted Rand index of
    refits on resampled customers): below the dashed line, the segments change
    from one resample to the next and should not be trusted."""
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    axes.errorbar(
        cluster_count_scores["k"],
        cluster_count_scores["stability_mean"],
        yerr=cluster_count_scores["stability_std"],
        marker="o",
        capsize=4,
        label="mean ± standard deviation",
    )
    axes.axhline(
        min_stability, color="C3", linestyle="--", label=f"min_stability = {min_stability}"
    )
    axes.axvline(selected_k, color="grey", linestyle=":", label=f"selected k = {selected_k}")
    axes.set_ylim(min(0.0, cluster_count_scores["stability_mean"].min() - 0.1), 1.05)
    axes.set_xticks(cluster_count_scores["k"])
    axes.set_xlabel("number of segments k")
    axes.set_ylabel("adjusted Rand index with the full fit")
    axes.set_title("Stability: do the same segments come back on resampled customers?")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    return figure


def plot_silhouette_diagram(
    selection_features: pd.DataFrame, segmentation_model: Pipeline, kmeans_params: dict
) -> Figure:
    """The silhouette of every customer (of a seeded sample of at most
    ``silhouette_sample_size``) at the selected k, sorted within each segment:
    wide, even blades mean well-separated segments; negative values are
    customers closer to another segment than to their own."""
    size = min(len(selection_features), kmeans_params["silhouette_sample_size"])
    sample = selection_features.sample(size, random_state=kmeans_params["random_seed"])
    labels = segmentation_model.named_steps["kmeans"].predict(sample)
    values = silhouette_samples(sample, labels)
    figure = Figure(figsize=(7, 6), layout="constrained")
    axes = figure.subplots()
    bottom = 0
    for segment in np.unique(labels):
        blade = np.sort(values[labels == segment])
        axes.fill_betweenx(
            np.arange(bottom, bottom + len(blade)), 0, blade, alpha=0.8, color=f"C{segment % 10}"
        )
        axes.text(-0.05, bottom + len(blade) / 2, str(segment), ha="right", va="center")
        bottom += len(blade) + max(10, size // 100)
    axes.axvline(values.mean(), color="C3", linestyle="--", label=f"mean = {values.mean():.2f}")
    axes.set_yticks([])
    axes.set_xlabel("silhouette (-1 to 1)")
    axes.set_ylabel("customers, grouped by segment")
    axes.set_title(
        f"Silhouette of each customer at k = {len(np.unique(labels))} ({size:,} customers)"
    )
    axes.legend(loc="lower right")
    axes.grid(axis="x", alpha=0.3)
    return figure


def _order_segments_by_size(model: KMeans) -> KMeans:
    """Renumbers the clusters so that segment 0 is the largest, which keeps
    segment numbers meaningful and comparable between runs."""
    sizes = np.bincount(model.labels_, minlength=model.n_clusters)
    order = np.argsort(-sizes, kind="stable")
    new_label = np.empty_like(order)
    new_label[order] = np.arange(len(order))
    model.cluster_centers_ = model.cluster_centers_[order]
    model.labels_ = new_label[model.labels_]
    return model


def fit_segmentation_model(
    encoded_features: pd.DataFrame,
    selection_features: pd.DataFrame,
    preprocessor: ColumnTransformer,
    selected_k: int,
    id_column: str,
    kmeans_params: dict,
) -> Pipeline:
    """Fits KMeans with the selected k on all customers and chains it after the
    fitted preprocessor, so one ``predict`` turns raw customer rows into segments.

    When k was chosen on a sample, the ``n_init`` restarts run on that sample
    and the fit on all customers starts from the best of them: the same
    partition as restarting on all rows, at a fraction of the cost."""
    features = _feature_matrix(encoded_features, id_column)
    kmeans = KMeans(
        n_clusters=selected_k,
        n_init=kmeans_params["n_init"],
        random_state=kmeans_params["random_seed"],
    ).fit(selection_features)
    if len(selection_features) < len(features):
        kmeans = KMeans(
            n_clusters=selected_k,
            init=kmeans.cluster_centers_,
            n_init=1,
            random_state=kmeans_params["random_seed"],
        ).fit(features)
    return Pipeline([("preprocessor", preprocessor), ("kmeans", _order_segments_by_size(kmeans))])
