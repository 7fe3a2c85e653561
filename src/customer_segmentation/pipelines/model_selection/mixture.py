"""The choice of the deployed algorithm (one machine, on the selection
sample): KMeans or a Gaussian mixture, both with the selected k, by one rule
that needs no known labels.

KMeans is the Gaussian mixture whose components are round, equally wide and
equally likely; it draws straight borders half-way between centres. When
the segments are elongated or of different widths (spend columns that rise
together, a small tight group beside a broad one) those borders cut through
segments, and a mixture with a covariance per component follows their
shape. The rule (``algorithm: auto``) deploys the mixture at the selected k
when the data says so clearly and the mixture is reproducible:

- **shape**: the mixture's covariance type chosen by BIC at the selected k
  (``full``, ``diag``, ``tied`` or ``spherical``) beats the ``spherical``
  mixture, KMeans's own model, by at least ``mixture_min_bic_gain`` per
  thousand customers of the sample (a BIC gain of 10 is "very strong"
  evidence on Kass and Raftery's scale; per thousand customers so that a
  large sample does not turn a trivial departure from roundness into a
  "win");
- **stability**: refitted on seeded bootstrap resamples, the mixture's
  partition agrees with its fit on the sample (mean adjusted Rand index) at
  least ``min_stability``, the bar k itself must reach;
- **size**: every component holds at least ``min_segment_share`` of the
  sample, the bar every k must reach;
- **separation**: the mixture's partition is nearly as well separated as
  KMeans's at the same k (silhouette lower by at most
  ``mixture_max_silhouette_loss``): a mixture may buy likelihood by
  modelling the shape of one-hot or discrete columns and cut customers
  where they are not apart; its segments must still be groups a marketer
  can tell apart. Silhouette itself favours round segments, so a mixture
  that is reproduced almost exactly on resamples (stability at least
  ``CERTAIN_STABILITY``) passes without it: elongated segments that every
  resample finds again are no artefact.

Otherwise KMeans is kept: with round segments both give the same partition,
and KMeans is the simpler model to explain. ``algorithm: kmeans`` or
``gaussian_mixture`` forces either. The choice and its evidence are
recorded for ``model_selection_metrics`` and the report.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from customer_segmentation import model as segmentation

from .k_selection import silhouette
from .kernels import fit_mixture, one_thread

logger = logging.getLogger(__name__)

COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
ALGORITHMS = ("auto", "kmeans", "gaussian_mixture")
# Bootstrap agreement at which the mixture's partition needs no silhouette.
CERTAIN_STABILITY = 0.95


def _mixture_stability(  # noqa: PLR0913 - the sample and the settings of its resamples
    values: np.ndarray,
    labels: np.ndarray,
    k: int,
    covariance_type: str,
    resamples: int,
    sample_size: int,
    n_init: int,
    random_seed: int,
) -> float:
    """Mean adjusted Rand index between the mixture's partition of the
    sample and mixtures refitted (with ``n_init`` starts, as the mixture
    itself) on ``resamples`` seeded bootstrap resamples of at most
    ``sample_size`` rows."""
    rng = np.random.default_rng(random_seed)
    subset = rng.permutation(len(values))[:sample_size]
    values, reference = values[subset], labels[subset]
    agreement = []
    for resample in range(resamples):
        rows = rng.integers(0, len(values), size=len(values))
        refit = fit_mixture(values[rows], k, covariance_type, n_init, random_seed + resample + 1)
        agreement.append(adjusted_rand_score(reference, refit.predict(values)))
    return float(np.mean(agreement)) if agreement else float("nan")


@one_thread
def choose_algorithm(  # noqa: PLR0913 - one keyword per setting it uses
    selection_features: pd.DataFrame,
    selected_k: int,
    algorithm: str,
    mixture_n_init: int,
    mixture_min_bic_gain: float,
    mixture_max_silhouette_loss: float,
    n_init: int,
    silhouette_sample_size: int,
    min_stability: float,
    min_segment_share: float,
    stability_resamples: int,
    stability_sample_size: int,
    random_seed: int,
) -> dict:
    """The deployed algorithm at ``selected_k`` and why (see the module):
    ``chosen`` (``kmeans`` or ``gaussian_mixture``), the ``reason`` that
    decided (a key of ``RULES``) and its ``rule`` in words, and the evidence, including the mixture's BIC for every
    covariance type and its chosen ``covariance_type``, which the final fit
    uses."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"model_selection.algorithm must be one of {ALGORITHMS}: {algorithm!r}")
    values = selection_features.to_numpy(dtype=float)
    bic = {}
    mixtures = {}
    for covariance_type in COVARIANCE_TYPES:
        mixture = fit_mixture(values, selected_k, covariance_type, mixture_n_init, random_seed)
        mixtures[covariance_type] = mixture
        bic[covariance_type] = float(mixture.bic(values))
    best = min(bic, key=bic.get)
    mixture = mixtures[best]
    labels = mixture.predict(values)
    smallest = float(np.bincount(labels, minlength=selected_k).min() / len(values))
    gain = (bic["spherical"] - bic[best]) / (len(values) / 1000)
    stability = _mixture_stability(
        values,
        labels,
        selected_k,
        best,
        stability_resamples,
        stability_sample_size,
        mixture_n_init,
        random_seed,
    )
    kmeans_labels = (
        KMeans(n_clusters=selected_k, n_init=n_init, random_state=random_seed).fit(values).labels_
    )
    kmeans_silhouette = silhouette(values, kmeans_labels, silhouette_sample_size, random_seed)
    mixture_silhouette = silhouette(values, labels, silhouette_sample_size, random_seed)
    evidence = {
        "covariance_type": best,
        "k": int(selected_k),
        "bic": round(bic[best], 2),
        "bic_per_covariance_type": {name: round(value, 2) for name, value in bic.items()},
        "bic_gain_over_spherical_per_1000": round(float(gain), 2),
        "stability": round(stability, 4),
        "smallest_share": round(smallest, 4),
        "silhouette": round(mixture_silhouette, 4),
        "agreement_with_kmeans": round(float(adjusted_rand_score(kmeans_labels, labels)), 4),
        "mean_confidence": round(
            float(segmentation.membership_confidence(mixture.predict_proba(values)).mean()), 4
        ),
        "n_init": int(mixture_n_init),
        "sample_size": len(values),
    }
    kmeans = {"k": int(selected_k), "silhouette": round(kmeans_silhouette, 4), "n_init": n_init}
    thresholds = {
        "min_bic_gain_per_1000": mixture_min_bic_gain,
        "max_silhouette_loss": mixture_max_silhouette_loss,
        "min_stability": min_stability,
        "min_segment_share": min_segment_share,
    }
    chosen, reason = _decide(algorithm, evidence, kmeans, thresholds)
    rule = RULES[reason]
    logger.info(
        "Deploying %s at k=%d (%s); mixture %s: BIC gain over round segments %.1f per 1000 "
        "customers, stability %.2f, smallest component %.1f%%",
        chosen,
        selected_k,
        rule,
        best,
        gain,
        stability,
        100 * smallest,
    )
    return {
        "chosen": chosen,
        "reason": reason,
        "rule": rule,
        "setting": algorithm,
        "thresholds": thresholds,
        "kmeans": kmeans,
        "gaussian_mixture": evidence,
    }


# Why the rule deployed what it deployed: the ``reason`` of the choice (a
# key the report and the summary read) and its ``rule``, in words.
RULES = {
    "forced": "forced by model_selection.algorithm",
    "round": "segments about round: the mixture gains too little over KMeans's shape",
    "not_reproducible": "the mixture is not reproducible on resamples",
    "small_component": "a mixture component is under min_segment_share",
    "less_separated": "the mixture's segments are less separated than KMeans's",
    "shaped": "non-round, reproducible and as well separated segments",
}


def _decide(algorithm: str, mixture: dict, kmeans: dict, thresholds: dict) -> tuple[str, str]:
    """The algorithm deployed and the reason (a key of ``RULES``) that
    decided (see the module)."""
    if algorithm != "auto":
        return algorithm, "forced"
    if mixture["bic_gain_over_spherical_per_1000"] < thresholds["min_bic_gain_per_1000"]:
        return "kmeans", "round"
    if not mixture["stability"] >= thresholds["min_stability"]:
        return "kmeans", "not_reproducible"
    if mixture["smallest_share"] < thresholds["min_segment_share"]:
        return "kmeans", "small_component"
    separated = kmeans["silhouette"] - mixture["silhouette"] <= thresholds["max_silhouette_loss"]
    if not separated and mixture["stability"] < CERTAIN_STABILITY:
        return "kmeans", "less_separated"
    return "gaussian_mixture", "shaped"
