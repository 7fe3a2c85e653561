"""Pictures of model selection: every criterion by k (elbow, silhouette and
stability included), the silhouette of each customer and the algorithm
comparison. Each function is a node that
returns one Matplotlib figure; the catalog saves it as a PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import silhouette_samples
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.figures import ReadableNumbers, set_suptitle, set_title


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
        ax.xaxis.set_major_formatter(ReadableNumbers())
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("algorithm (segments found)")
    set_suptitle(
        figure,
        "Algorithms on the same customers "
        "(red: deployed model; grey: cannot score new customers, reported only)",
    )
    return figure


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


_CRITERIA_PANELS = (
    ("inertia", "inertia (elbow)", None),
    ("silhouette", "silhouette (higher is better)", "silhouette"),
    ("calinski_harabasz", "Calinski-Harabasz (higher is better)", "calinski_harabasz"),
    ("davies_bouldin", "Davies-Bouldin (lower is better)", "davies_bouldin"),
    ("stability_mean", "bootstrap stability, ARI (higher is better)", "stability"),
    ("gmm_bic", "Gaussian mixture BIC (lower is better)", "gmm_bic"),
)


def plot_criteria(
    cluster_count_scores: pd.DataFrame,
    k_per_criterion: dict,
    selected_k: int,
    min_stability: float,
) -> Figure:
    """Every criterion by k on one figure: each panel circles the k that
    criterion alone prefers and marks the selected k with a dashed line, so
    agreement or disagreement is visible at a glance. The inertia panel is
    the elbow plot; the stability panel shows the spread of the bootstrap
    agreement and the ``min_stability`` line, below which the segments change
    from one resample to the next and should not be trusted."""
    figure = Figure(figsize=(12, 7), layout="constrained")
    panels = figure.subplots(2, 3, sharex=True).ravel()
    for axes, (column, title, criterion) in zip(panels, _CRITERIA_PANELS):
        if column == "stability_mean":
            axes.errorbar(
                cluster_count_scores["k"],
                cluster_count_scores[column],
                yerr=cluster_count_scores["stability_std"],
                marker="o",
                capsize=3,
            )
            axes.axhline(
                min_stability, color="C2", linestyle=":", label=f"min_stability = {min_stability}"
            )
            axes.set_ylim(top=1.05)  # agreement cannot exceed 1, whatever the spread
        else:
            axes.plot(cluster_count_scores["k"], cluster_count_scores[column], marker="o")
        preferred = k_per_criterion.get(criterion or "elbow")
        if preferred is not None:
            _circle_k(
                axes, cluster_count_scores, column, preferred, "C1", f"best alone: k = {preferred}"
            )
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="best", fontsize="small")
        axes.axvline(selected_k, color="C3", linestyle="--", alpha=0.7)
        set_title(axes, title, "medium")
        axes.grid(alpha=0.3)
        axes.set_xticks(cluster_count_scores["k"])
        axes.yaxis.set_major_formatter(ReadableNumbers())
    for axes in panels[3:]:
        axes.set_xlabel("number of segments k")
    set_suptitle(
        figure, f"Criteria by number of segments (dashed red line: selected k = {selected_k})"
    )
    return figure


def plot_silhouette_diagram(
    selection_features: pd.DataFrame,
    segmentation_model: Pipeline,
    sample_size: int,
    random_seed: int,
) -> Figure:
    """The silhouette of every customer (of a seeded sample of at most
    ``sample_size``) at the selected k, sorted within each segment:
    wide, even blades mean well-separated segments; negative values are
    customers closer to another segment than to their own."""
    size = min(len(selection_features), sample_size)
    sample = selection_features.sample(size, random_state=random_seed)
    labels = segmentation.clustering(segmentation_model).predict(sample)
    values = silhouette_samples(sample, labels)
    figure = Figure(figsize=(7, 6), layout="constrained")
    axes = figure.subplots()
    bottom = 0
    middles = []
    for segment in np.unique(labels):
        blade = np.sort(values[labels == segment])
        axes.fill_betweenx(
            np.arange(bottom, bottom + len(blade)), 0, blade, alpha=0.8, color=f"C{segment % 10}"
        )
        middles.append(bottom + len(blade) / 2)
        bottom += len(blade) + max(10, size // 100)
    axes.axvline(values.mean(), color="C3", linestyle="--", label=f"mean = {values.mean():.2f}")
    # Segment numbers as tick labels, outside the blades and clear of the axis label.
    axes.set_yticks(middles, [str(segment) for segment in np.unique(labels)])
    axes.set_xlabel("silhouette (-1 to 1)")
    axes.set_ylabel("segment (its customers, sorted by silhouette)")
    axes.xaxis.set_major_formatter(ReadableNumbers())
    set_title(
        axes, f"Silhouette of each customer at k = {len(np.unique(labels))} ({size:,} customers)"
    )
    axes.legend(loc="lower right")
    axes.grid(axis="x", alpha=0.3)
    return figure
