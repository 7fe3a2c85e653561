"""Choosing the number of segments and fitting the final segmentation model."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

# Whether a larger value of each criterion means a better partition.
CRITERIA = {"silhouette": True, "calinski_harabasz": True, "davies_bouldin": False}


def _feature_matrix(encoded_features: pd.DataFrame, id_column: str) -> pd.DataFrame:
    return encoded_features.drop(columns=[id_column])


def score_cluster_counts(
    encoded_features: pd.DataFrame, id_column: str, kmeans_params: dict
) -> pd.DataFrame:
    """Fits KMeans for every k from ``k_min`` to ``k_max`` and scores each
    partition by inertia, silhouette, Calinski-Harabasz and Davies-Bouldin.

    Silhouette is exact up to ``silhouette_sample_size`` rows and estimated on a
    seeded sample of that size beyond, as its cost grows with the square of n.
    """
    features = _feature_matrix(encoded_features, id_column)
    k_min, k_max = kmeans_params["k_min"], kmeans_params["k_max"]
    if not 2 <= k_min <= k_max:
        raise ValueError(
            f"model_selection.k_min and k_max must satisfy 2 <= k_min <= k_max, "
            f"got k_min={k_min}, k_max={k_max}"
        )
    if len(features) <= k_max:
        raise ValueError(
            f"encoded_features has {len(features)} rows; model_selection.k_max={k_max} "
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
            }
        )
        logger.info("k=%d: %s", k, {name: round(v, 4) for name, v in rows[-1].items()})
    return pd.DataFrame(rows)


def select_cluster_count(cluster_count_scores: pd.DataFrame, criterion: str) -> int:
    """Picks the k that scores best on ``criterion`` (highest silhouette or
    Calinski-Harabasz, lowest Davies-Bouldin)."""
    if criterion not in CRITERIA:
        raise ValueError(
            f"model_selection.criterion must be one of {sorted(CRITERIA)}, got '{criterion}'"
        )
    scores = cluster_count_scores.set_index("k")[criterion]
    selected_k = int(scores.idxmax() if CRITERIA[criterion] else scores.idxmin())
    logger.info("Selected k=%d by %s (%.4f)", selected_k, criterion, scores[selected_k])
    return selected_k


def summarise_model_selection(
    cluster_count_scores: pd.DataFrame, selected_k: int, criterion: str
) -> dict:
    """Collects the chosen k, the rule that chose it and every score per k."""
    return {
        "selected_k": selected_k,
        "criterion": criterion,
        "scores": cluster_count_scores.to_dict(orient="records"),
    }


def _score_plot(
    cluster_count_scores: pd.DataFrame, selected_k: int, column: str, ylabel: str, title: str
) -> Figure:
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    axes.plot(cluster_count_scores["k"], cluster_count_scores[column], marker="o")
    chosen = cluster_count_scores.set_index("k").loc[selected_k, column]
    axes.scatter(
        [selected_k],
        [chosen],
        s=160,
        facecolors="none",
        edgecolors="C3",
        linewidths=2,
        label=f"selected k = {selected_k}",
        zorder=3,
    )
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
    preprocessor: ColumnTransformer,
    selected_k: int,
    id_column: str,
    kmeans_params: dict,
) -> Pipeline:
    """Fits KMeans with the selected k on all customers and chains it after the
    fitted preprocessor, so one ``predict`` turns raw customer rows into segments."""
    kmeans = KMeans(
        n_clusters=selected_k,
        n_init=kmeans_params["n_init"],
        random_state=kmeans_params["random_seed"],
    ).fit(_feature_matrix(encoded_features, id_column))
    return Pipeline([("preprocessor", preprocessor), ("kmeans", _order_segments_by_size(kmeans))])
