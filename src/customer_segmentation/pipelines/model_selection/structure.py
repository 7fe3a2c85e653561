"""The structure check (one machine, on the selection sample): whether the
customers fall into groups at all, or the segments are cuts of a continuum,
and what separates the segments the run deploys."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation

from .kernels import one_thread

logger = logging.getLogger(__name__)

# Numeric columns with at most this many distinct values are discrete for the
# structure check (counts, ratings).
DISCRETE_LEVELS = 50
# Draws of each kind of structure-free reference data.
NULL_DRAWS = 3
# Draws of the Gaussian copula reference: its margin is smaller, so its mean
# needs less noise (measured: one draw's silhouette varies by about 0.01).
COPULA_DRAWS = 10
# The share of structure_margin by which KMeans on the normal scores must beat
# the Gaussian copula (a share, so that a stricter margin tightens both tests).
# Measured at 0.02: real groups beat it by 0.023 to 0.05 (the wholesale
# channels 0.027, two groups 2.8 SD apart 0.023 to 0.038, a premium group in
# Credit-like columns 0.026 to 0.049), skewed, zero-inflated, correlated
# continua by at most 0.02 (the Credit table by -0.001).
COPULA_MARGIN_SHARE = 0.8


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


def _copula_silhouettes(
    numeric: np.ndarray, k: int, n_init: int, random_seed: int, rng: np.random.Generator
) -> tuple[float, float] | None:
    """The silhouette of KMeans with ``k`` segments on the normal scores of
    the numeric columns, and its mean over ``COPULA_DRAWS`` draws of the
    Gaussian copula of those scores. None with fewer than two numeric
    columns: there is no dependence between them to judge.

    Normal scores (each column's ranks mapped to standard normal quantiles,
    ties sharing one) take away what each column's own shape adds to the
    silhouette: skew, a tail, a mass at zero all become one bell, and what is
    left is how the columns move together. The reference has the scores'
    correlation and each column's own scores (a Gaussian vector mapped
    through their quantiles, so a mass at zero stays one, as a censored
    continuum has it) and no groups. Categorical columns are left out: the
    shuffled reference covers them."""
    if numeric.shape[1] < 2:
        return None
    scores = ndtri((rankdata(numeric, axis=0) - 0.5) / len(numeric))
    correlation = np.corrcoef(scores, rowvar=False)
    quantiles = np.sort(scores, axis=0)
    size = len(scores)

    def draw() -> np.ndarray:
        latent = rng.multivariate_normal(
            np.zeros(len(correlation)), correlation, size, method="eigh"
        )
        ranks = np.minimum((ndtr(latent) * size).astype(int), size - 1)
        return np.take_along_axis(quantiles, ranks, axis=0)

    observed = _null_silhouette(scores, k, n_init, random_seed)
    seeds = range(random_seed, random_seed + COPULA_DRAWS)
    return observed, float(np.mean([_null_silhouette(draw(), k, n_init, s) for s in seeds]))


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


def _encoded_columns(
    sample: pd.DataFrame, preprocessor: segmentation.SegmentPreprocessor
) -> pd.DataFrame:
    """The sample in the space of the encoded columns: after PCA, through
    the PCA's inverse (which keeps distances)."""
    columns = [c for group in preprocessor.encoded_variables().values() for c in group]
    if preprocessor.pca_ is not None:
        return pd.DataFrame(preprocessor.pca_.inverse_transform(sample.to_numpy()), columns=columns)
    return sample[columns].reset_index(drop=True)


def _null_silhouettes(  # noqa: PLR0913 - the data, its variables, k and the seeds
    values: pd.DataFrame,
    variables: list[list[str]],
    k: int,
    n_init: int,
    random_seed: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """The mean silhouette of KMeans with ``k`` segments on the variables
    shuffled independently, and on one Gaussian blob with the data's mean
    and covariance (``NULL_DRAWS`` draws each)."""
    seeds = range(random_seed, random_seed + NULL_DRAWS)
    permuted = np.mean(
        [_null_silhouette(_permuted(values, variables, rng), k, n_init, s) for s in seeds]
    )
    matrix = values.to_numpy()
    covariance = np.cov(matrix, rowvar=False)
    gaussian = np.mean(
        [
            _null_silhouette(
                rng.multivariate_normal(
                    matrix.mean(axis=0), covariance, len(values), method="eigh"
                ),
                k,
                n_init,
                seed,
            )
            for seed in seeds
        ]
    )
    return float(permuted), float(gaussian)


@one_thread
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
      covariance (so correlation is no evidence); and, on the normal scores
      of the numeric columns, KMeans beats the Gaussian copula reference by
      ``COPULA_MARGIN_SHARE`` of ``structure_margin`` (``_copula_silhouettes``:
      skew, a mass at zero and correlation together are no evidence either).
      Uniform noise and skewed blobs pass the first test, one correlated blob
      the second, a skewed, zero-inflated, correlated continuum (credit
      limits and balances) the first two; only groups beat all three;
    - **modes along one direction**: Hartigan's dip test rejects a single mode
      of the numeric features along the 2-means direction at
      ``structure_dip_p_value`` (groups split on one feature, which shuffling
      keeps).

    Discrete numeric columns (counts, ratings: ``_spread_discrete``) are
    spread over their gaps first, so that ties are not taken for modes. After
    PCA the check runs in the space of the encoded columns (the PCA's
    inverse, which keeps distances)."""
    kmeans = segmentation.clustering(segmentation_model)
    size = min(len(selection_features), silhouette_sample_size)
    sample = selection_features.sample(size, random_state=random_seed)
    labels = kmeans.predict(sample)
    preprocessor = segmentation.preprocessor(segmentation_model)
    variables = preprocessor.encoded_variables()
    rng = np.random.default_rng(random_seed)
    numeric = [c for c, group in variables.items() if group == [c]]
    values = _spread_discrete(_encoded_columns(sample, preprocessor), numeric, rng)
    silhouette = float(silhouette_score(values, labels)) if len(set(labels)) > 1 else 0.0
    permuted, gaussian = _null_silhouettes(
        values, list(variables.values()), kmeans.n_clusters, n_init, random_seed, rng
    )
    dip_p = _dip_p_value(values[numeric].to_numpy(), n_init, random_seed)
    copula = _copula_silhouettes(
        values[numeric].to_numpy(), kmeans.n_clusters, n_init, random_seed, rng
    )
    copula_margin = COPULA_MARGIN_SHARE * structure_margin
    across = bool(
        silhouette - max(permuted, gaussian) >= structure_margin
        and (copula is None or copula[0] - copula[1] >= copula_margin)
    )
    modes = dip_p is not None and dip_p < structure_dip_p_value
    assessment = {
        "clear_structure": bool(across or modes),
        "evidence": "groups across features"
        if across
        else "modes along one direction"
        if modes
        else "none",
        "k": int(kmeans.n_clusters),
        "silhouette": round(silhouette, 4),
        "shuffled_silhouette": round(float(permuted), 4),
        "gaussian_silhouette": round(float(gaussian), 4),
        "normal_scores_silhouette": None if copula is None else round(copula[0], 4),
        "copula_silhouette": None if copula is None else round(copula[1], 4),
        "margin": structure_margin,
        "copula_margin": round(copula_margin, 4),
        "dip_p_value": None if dip_p is None else round(dip_p, 6),
        "sample_size": int(size),
    }
    _log_structure(assessment)
    return assessment


def _log_structure(assessment: dict) -> None:
    """The verdict of ``assess_structure`` in the log, with its evidence."""
    k = assessment["k"]
    if assessment["clear_structure"]:
        logger.info("Clear segment structure at k=%d (%s)", k, assessment["evidence"])
        return
    copula = (
        ""
        if assessment["copula_silhouette"] is None
        else f"; on normal scores {assessment['normal_scores_silhouette']:.3f} against "
        f"{assessment['copula_silhouette']:.3f} on a Gaussian copula "
        f"(margin {assessment['copula_margin']:.3f})"
    )
    dip_p = assessment["dip_p_value"]
    logger.warning(
        "No clear segment structure at k=%d: silhouette %.3f against %.3f on shuffled "
        "features and %.3f on one Gaussian blob (margin %.3f)%s; dip test p=%s; treat the "
        "segments as cuts of a continuum",
        k,
        assessment["silhouette"],
        assessment["shuffled_silhouette"],
        assessment["gaussian_silhouette"],
        assessment["margin"],
        copula,
        "n/a" if dip_p is None else f"{dip_p:.3g}",
    )


def measure_feature_separation(
    selection_features: pd.DataFrame, segmentation_model: Pipeline
) -> dict:
    """Splits the between-segment sum of squares of the final partition by
    feature (a categorical feature's one-hot columns together) and by block:
    the share each carries of what separates the segments. A large
    ``categorical_share`` means categories, not customer behaviour, drive the
    segments. After PCA the columns are components and there are no shares."""
    preprocessor = segmentation.preprocessor(segmentation_model)
    if preprocessor.pca_ is not None:
        return {"numeric_share": None, "categorical_share": None, "share_per_feature": {}}
    labels = segmentation.clustering(segmentation_model).predict(selection_features)
    overall = selection_features.mean()
    grouped = selection_features.groupby(labels)
    between = ((grouped.mean() - overall) ** 2).mul(grouped.size(), axis=0).sum()
    share = between / (between.sum() or 1.0)
    variables = preprocessor.encoded_variables()
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
