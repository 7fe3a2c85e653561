"""The segmentation model's contract: its step names and how to read it.

The model is one scikit-learn ``Pipeline``: the fitted preprocessor
(``SegmentPreprocessor``, a scikit-learn estimator that encodes raw customer
rows) followed by the clusterer (step ``CLUSTERING``): KMeans
(``SegmentKMeans``) or a Gaussian mixture (``SegmentGaussianMixture``), so
``model.predict(raw_rows)`` returns segments and
``model.predict_proba(raw_rows)`` each customer's membership probability of
every segment. Both clusterers keep one contract: ``n_clusters``,
``cluster_centers_`` (a mixture's means), ``predict`` and ``predict_proba``.
Every pipeline reads the model through these names and helpers, never
through its own copy of them or the position of a step; a model whose
clusterer step still has its old name (``kmeans``) is read as well, and a
model saved by an older release, whose preprocessor was a bare
``ColumnTransformer``, is refused with ``OutdatedModelError``.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, PowerTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from customer_segmentation.encoding import (
    MISSING,
    OTHER,
    CategoryEncoder,
    MedianImputer,
    QuantileClipper,
    category_text,
    choose_transforms,
)
from customer_segmentation.errors import UserError
from customer_segmentation.sklearn_adapter import BlockwiseTolerance

# The contract readers import from here; MISSING, OTHER and category_text
# are the encoding's, read through the model so that scoring and profiles
# name categories as the fitted model does.
__all__ = [
    "CATEGORICAL_BLOCKS",
    "CLUSTERING",
    "MISSING",
    "NUMERIC_BLOCKS",
    "OTHER",
    "PREPROCESSOR",
    "algorithm",
    "ROWS_PER_BLOCK",
    "OutdatedModelError",
    "SegmentGaussianMixture",
    "SegmentKMeans",
    "SegmentPreprocessor",
    "category_text",
    "clustering",
    "assign",
    "fingerprint",
    "fitted_categories",
    "fuzzy_membership",
    "is_current",
    "largest_first",
    "membership_confidence",
    "preprocessor",
    "require_current",
    "scaled_numeric",
    "segmentation_model",
    "training_range",
]

logger = logging.getLogger(__name__)

PREPROCESSOR = "preprocessor"
CLUSTERING = "cluster"
# The clusterer step's name in models saved before the mixture existed.
LEGACY_CLUSTERING = "kmeans"
# Blocks of the preprocessor's ColumnTransformer: the numeric blocks and the
# transform each applies before scaling, then the categorical blocks.
NUMERIC_BLOCK = "numeric"
LOG_NUMERIC_BLOCK = "log_numeric"
YEO_JOHNSON_BLOCK = "yeo_johnson_numeric"
NUMERIC_BLOCKS = {
    NUMERIC_BLOCK: "none",
    LOG_NUMERIC_BLOCK: "log1p",
    YEO_JOHNSON_BLOCK: "yeo-johnson",
}
CATEGORICAL_BLOCK = "categorical"
PINNED_CATEGORICAL_BLOCK = "pinned_categorical"
CATEGORICAL_BLOCKS = (CATEGORICAL_BLOCK, PINNED_CATEGORICAL_BLOCK)
# The steps of a numeric block, in order (TRANSFORM only with a transform).
IMPUTE, TRANSFORM, SCALE, CLIP = "impute", "transform", "scale", "clip"

# Row blocks for passes over every customer that would otherwise hold a
# temporary copy of the whole feature matrix (a block of a dozen float64
# features is a few tens of megabytes).
ROWS_PER_BLOCK = 262_144

RETRAIN = "retrain with kedro run --pipelines segmentation"


class OutdatedModelError(UserError):
    """A segmentation model saved by an older release of the project."""


class SegmentKMeans(BlockwiseTolerance, KMeans):
    """scikit-learn's KMeans, a clustering step of the segmentation model
    (``CLUSTERING``), with its convergence tolerance measured without a copy
    of the data (``sklearn_adapter.BlockwiseTolerance``): the same
    iterations, centres and labels at a fraction of the peak memory.

    ``predict_proba`` is each customer's fuzzy c-means membership of every
    segment (fuzzifier m = 2), computed from the squared distances ``d2`` to
    the fitted centres: ``u_j = 1 / sum_k (d2_j / d2_k)``
    (``fuzzy_membership``). It falls off with the ratio of the distances, not
    with their size, so it stays graded in many dimensions, where a
    probability of the Gaussian mixture KMeans implicitly fits is 1 for
    nearly everyone. A customer on a centre gets 1, one equidistant from two
    centres 0.5 each; the memberships are in [0, 1] and sum to 1."""

    rows_per_block = ROWS_PER_BLOCK

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        """Each row's membership of every segment (see the class)."""
        check_is_fitted(self, "cluster_centers_")
        return fuzzy_membership(self.transform(X) ** 2)


class SegmentGaussianMixture(GaussianMixture):
    """scikit-learn's Gaussian mixture, a clustering step of the segmentation
    model (``CLUSTERING``), under the clusterers' contract: ``n_clusters``
    (its components) and ``cluster_centers_`` (its means) as KMeans names
    them; ``predict`` and ``predict_proba`` are the mixture's own (the
    posterior probability of each component)."""

    @property
    def n_clusters(self) -> int:
        return self.n_components

    @property
    def cluster_centers_(self) -> np.ndarray:
        check_is_fitted(self, "means_")
        return self.means_


def fuzzy_membership(squared_distances: np.ndarray) -> np.ndarray:
    """Fuzzy c-means memberships (fuzzifier m = 2) of rows whose squared
    distances to each centre are ``squared_distances`` (rows x centres):
    ``u_j = 1 / sum_k (d2_j / d2_k)``, i.e. ``1 / d2_j`` normalised over the
    centres. A row on a centre belongs to it (to each such centre equally,
    should centres coincide) with membership 1, where the ratio is 0 / 0."""
    squared = np.asarray(squared_distances, dtype=float)
    on_centre = squared == 0
    with np.errstate(divide="ignore"):
        weights = np.where(on_centre.any(axis=1, keepdims=True), on_centre, 1 / squared)
    return weights / weights.sum(axis=1, keepdims=True)


class SegmentPreprocessor(TransformerMixin, BaseEstimator):
    """Encodes raw customer rows into the space KMeans clusters in: the
    preprocessor of the segmentation model (``PREPROCESSOR``).

    Numeric features (``numeric``): median imputation; a transform of skewed
    columns (``encoding.choose_transforms``: log(1 + x) or Yeo-Johnson,
    chosen from the data unless ``transforms`` sets it); standard scaling;
    clipping at the ``clip_quantile`` and ``1 - clip_quantile`` quantiles.
    Categorical features (``categorical``): one 0/1 column per category,
    learned (those rarer than ``min_category_share`` and unseen ones as
    "other"), or exactly the ``pinned`` ones, multiplied by
    ``categorical_weight``. An optional PCA (``pca_components``) follows.

    ``fit`` learns every fitted attribute: the chosen ``transforms_`` and the
    ``skewness_`` behind them, the ``training_range_`` (minimum and maximum
    of each numeric column, for scoring's range check), the fitted blocks
    (``columns_``, ``pca_``) and the clipped ``outliers_``. Rows beyond
    ``fit_sample_size`` are fitted on a seeded sample (``random_state``);
    the transforms and the range are measured on every row given.
    """

    def __init__(  # noqa: PLR0913 - one keyword per setting, as scikit-learn estimators take them
        self,
        numeric: list[str] | tuple = (),
        categorical: list[str] | tuple = (),
        pinned: dict[str, list] | None = None,
        transforms: dict[str, str] | None = None,
        skew_threshold: float = 1.0,
        clip_quantile: float = 0.005,
        categorical_weight: float = 0.5,
        min_category_share: float = 0.0,
        pca_components: int | float | None = None,
        fit_sample_size: int | None = None,
        random_state: int = 0,
    ):
        self.numeric = numeric
        self.categorical = categorical
        self.pinned = pinned
        self.transforms = transforms
        self.skew_threshold = skew_threshold
        self.clip_quantile = clip_quantile
        self.categorical_weight = categorical_weight
        self.min_category_share = min_category_share
        self.pca_components = pca_components
        self.fit_sample_size = fit_sample_size
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y=None, column_range: tuple[pd.Series, pd.Series] | None = None):  # noqa: N803
        """Fits on the customer rows ``X``. When ``X`` is a sample (Spark),
        ``column_range`` is the minimum and maximum of each numeric column
        over every row (a negative value outside the sample must still
        forbid log(1 + x), and scoring accepts what training held)."""
        numeric = list(self.numeric)
        if column_range is None:
            values = X[numeric]
            column_range = (values.min(), values.max())
        low, high = column_range
        chosen = choose_transforms(
            X, numeric, dict(self.transforms or {}), self.skew_threshold, low
        )
        self.transforms_ = {column: transform for column, (transform, _) in chosen.items()}
        self.skewness_ = {column: skewness for column, (_, skewness) in chosen.items()}
        self.training_range_ = {c: (float(low[c]), float(high[c])) for c in numeric}
        fit_rows = self._fit_rows(X)
        self.columns_ = self._column_transformer().set_output(transform="pandas")
        self.pca_ = None
        if self.pca_components:
            self.pca_ = PCA(n_components=self.pca_components, random_state=self.random_state)
            self.pca_.set_output(transform="pandas").fit(self.columns_.fit_transform(fit_rows))
            logger.info(
                "PCA keeps %d components explaining %.1f%% of the variance",
                self.pca_.n_components_,
                100 * self.pca_.explained_variance_ratio_.sum(),
            )
        else:
            self.columns_.fit(fit_rows)
        self.n_features_in_ = self.columns_.n_features_in_
        self.feature_names_in_ = self.columns_.feature_names_in_
        self.outliers_ = self._clipped_outliers(_whole_number_columns(fit_rows[numeric]))
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """The encoded rows, one column per ``get_feature_names_out``."""
        check_is_fitted(self, "columns_")
        encoded = self.columns_.transform(X)
        return encoded if self.pca_ is None else self.pca_.transform(encoded)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "columns_")
        return (self.pca_ or self.columns_).get_feature_names_out()

    def _fit_rows(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """``X``, or a seeded sample of ``fit_sample_size`` rows of it: the
        medians, spreads and categories of a million random customers are
        those of all of them, and fitting on ten million would hold several
        copies of the table at once."""
        if not self.fit_sample_size or len(X) <= self.fit_sample_size:
            return X
        logger.info(
            "Fitting the preprocessor on a seeded sample of %d customers", self.fit_sample_size
        )
        return X.sample(self.fit_sample_size, random_state=self.random_state)

    def _column_transformer(self) -> ColumnTransformer:
        """The unfitted blocks: one per numeric transform in use, then the
        learned and the pinned categorical columns."""
        blocks = []
        for block, transform in NUMERIC_BLOCKS.items():
            columns = [c for c in self.numeric if self.transforms_[c] == transform]
            if columns:
                blocks.append((block, self._numeric_block(transform), columns))
        pinned = dict(self.pinned or {})
        learned = [column for column in self.categorical if column not in pinned]
        if learned:
            encoder = CategoryEncoder(min_share=self.min_category_share)
            blocks.append((CATEGORICAL_BLOCK, encoder, learned))
        if pinned:
            encoder = CategoryEncoder(categories=[list(v) for v in pinned.values()])
            blocks.append((PINNED_CATEGORICAL_BLOCK, encoder, list(pinned)))
        return ColumnTransformer(
            blocks,
            remainder="drop",
            verbose_feature_names_out=False,
            transformer_weights=dict.fromkeys(CATEGORICAL_BLOCKS, float(self.categorical_weight)),
        )

    def _numeric_block(self, transform: str) -> Pipeline:
        """Median imputation, the transform, standard scaling and clipping at
        fitted quantiles, in that order."""
        steps = [(IMPUTE, MedianImputer())]
        if transform == "log1p":
            steps.append((TRANSFORM, FunctionTransformer(np.log1p, feature_names_out="one-to-one")))
        elif transform == "yeo-johnson":
            steps.append((TRANSFORM, PowerTransformer(method="yeo-johnson", standardize=False)))
        steps += [(SCALE, StandardScaler()), (CLIP, QuantileClipper(self.clip_quantile))]
        return Pipeline(steps)

    def _numeric_blocks(self):
        """(block, fitted pipeline, columns) of each numeric block."""
        return [
            (name, block, list(columns))
            for name, block, columns in self.columns_.transformers_
            if name in NUMERIC_BLOCKS
        ]

    def _clipped_outliers(self, whole_numbers: set[str]) -> dict[str, dict]:
        """The training customers clipped on each numeric column, per side,
        with their share of the fitted rows and the bound in original units,
        written as the column's values are: a column of ``whole_numbers``
        gets the whole number that keeps the same customers on each side
        (``_whole_bound``), not "age above 63.01"."""
        outliers = {}
        for _, block, columns in self._numeric_blocks():
            clipper = block.named_steps[CLIP]
            for position, column in enumerate(columns):
                for side, count, bound in (
                    ("below", clipper.n_clipped_low_[position], clipper.lower_[position]),
                    ("above", clipper.n_clipped_high_[position], clipper.upper_[position]),
                ):
                    if count:
                        value = _original_units(block, position, float(bound))
                        outliers.setdefault(column, {})[side] = {
                            "customers": int(count),
                            "share": round(float(count / clipper.n_samples_fit_), 4),
                            "bound": _whole_bound(value, side)
                            if column in whole_numbers
                            else round(value, 6),
                        }
        return outliers

    def describe(self) -> dict:
        """The encoding choices, for the metrics and the report: each numeric
        feature's transform and skewness, the customers clipped on each, the
        categorical weighting and the variance the optional PCA keeps."""
        check_is_fitted(self, "columns_")
        numeric_blocks = self._numeric_blocks()
        return {
            "transforms": {
                column: {"transform": self.transforms_[column], "skewness": self.skewness_[column]}
                for _, _, columns in numeric_blocks
                for column in columns
            },
            "clip_quantile": self.clip_quantile if numeric_blocks else None,
            "outliers": self.outliers_,
            "categorical_weight": float(self.categorical_weight),
            "pca_components": None if self.pca_ is None else int(self.pca_.n_components_),
            "pca_explained_variance": None
            if self.pca_ is None
            else [round(float(v), 4) for v in self.pca_.explained_variance_ratio_],
        }

    def scaled_numeric(self, numeric: pd.DataFrame, clipped: bool = True) -> pd.DataFrame:
        """Numeric columns on the scale the clustering uses (after
        imputation, the column's transform, scaling and, unless ``clipped``
        is false, clipping)."""
        scaled = []
        for _, block, columns in self._numeric_blocks():
            steps = block if clipped else Pipeline([s for s in block.steps if s[0] != CLIP])
            with np.errstate(invalid="ignore", divide="ignore"):
                values = steps.transform(numeric[columns])
            scaled.append(
                pd.DataFrame(np.asarray(values, float), columns=columns, index=numeric.index)
            )
        return pd.concat(scaled, axis=1)

    def encoded_variables(self) -> dict[str, list[str]]:
        """The encoded columns (before any PCA) of each feature: a numeric
        feature's own column, a categorical feature's one-hot columns."""
        variables = {}
        for name, encoder, columns in self.columns_.transformers_:
            if name in NUMERIC_BLOCKS:
                variables.update({column: [column] for column in columns})
            elif name in CATEGORICAL_BLOCKS:
                for column, categories in zip(columns, encoder.categories_, strict=True):
                    variables[column] = [f"{column}_{category}" for category in categories]
        return variables

    def categories(self) -> dict[str, list[str]]:
        """The categories the one-hot blocks know, per categorical column
        ("other" left out)."""
        known = {}
        for name, encoder, columns in self.columns_.transformers_:
            if name in CATEGORICAL_BLOCKS:
                for column, categories in zip(columns, encoder.categories_, strict=True):
                    known[column] = [c for c in categories if c != OTHER]
        return known


def _whole_number_columns(numeric: pd.DataFrame) -> set[str]:
    """The numeric columns whose known values are all whole numbers (ages,
    order counts): their clipping bounds are written as whole numbers."""
    return {
        column
        for column in numeric.columns
        if numeric[column].notna().any()
        and bool((numeric[column].dropna().to_numpy(float) % 1 == 0).all())
    }


def _whole_bound(value: float, side: str) -> float:
    """A clipping bound of a whole-number column as a whole number that
    clips the same customers: a value above 63.01 is above 63, one below
    0.60 is below 1."""
    return float(np.floor(value) if side == "above" else np.ceil(value))


def _original_units(block: Pipeline, column: int, scaled: float) -> float:
    """A value on the clustering scale of one column of a numeric ``block``,
    back in original units (before scaling and the transform)."""
    scaler = block.named_steps[SCALE]
    value = scaled * scaler.scale_[column] + scaler.mean_[column]
    transform = block.named_steps.get(TRANSFORM)
    if isinstance(transform, FunctionTransformer):
        value = float(np.expm1(value))
    elif transform is not None:
        row = np.zeros((1, transform.n_features_in_))
        row[0, column] = value
        value = float(transform.inverse_transform(row)[0, column])
    return float(value)


# The fitted attributes of a Gaussian mixture with one entry per component.
_PER_COMPONENT = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def largest_first(clusterer: KMeans | GaussianMixture, sizes: np.ndarray) -> np.ndarray:
    """Renumbers the segments of a fitted ``clusterer`` (KMeans or a Gaussian
    mixture) so that segment 0 is the largest (``sizes``: customers per
    segment, in its current numbering), which keeps segment numbers
    meaningful and comparable between runs. Returns the order: the old
    number of each new segment."""
    order = np.argsort(-sizes, kind="stable")
    if isinstance(clusterer, GaussianMixture):
        # A tied covariance is shared by every component: nothing to reorder.
        per_component = (
            _PER_COMPONENT if clusterer.covariance_type != "tied" else _PER_COMPONENT[:2]
        )
        for name in per_component:
            setattr(clusterer, name, getattr(clusterer, name)[order])
    else:
        clusterer.cluster_centers_ = clusterer.cluster_centers_[order]
    return order


def segmentation_model(
    preprocessor: SegmentPreprocessor, clusterer: KMeans | GaussianMixture
) -> Pipeline:
    """The deployable model: the fitted preprocessor, then the fitted clusterer."""
    return Pipeline([(PREPROCESSOR, preprocessor), (CLUSTERING, clusterer)])


def is_current(model: Pipeline) -> bool:
    """Whether ``model`` was saved by this release (its preprocessor is a
    ``SegmentPreprocessor``), so the helpers here can read it."""
    return isinstance(model.named_steps.get(PREPROCESSOR), SegmentPreprocessor)


def require_current(model: Pipeline, name: str = "segmentation_model") -> None:
    """Refuses a model saved by an older release, whose fitted state the
    helpers here cannot read, with what to do."""
    if not is_current(model):
        raise OutdatedModelError(
            f"{name}: this model was saved by an older release of the project: {RETRAIN}"
        )


def clustering(model: Pipeline) -> KMeans | GaussianMixture:
    """The model's fitted clusterer (KMeans or a Gaussian mixture), under its
    name or the name models saved before the mixture gave it."""
    steps = model.named_steps
    return steps[CLUSTERING] if CLUSTERING in steps else steps[LEGACY_CLUSTERING]


def algorithm(model: Pipeline) -> str:
    """The model's clustering algorithm: ``kmeans`` or ``gaussian_mixture``."""
    return "gaussian_mixture" if isinstance(clustering(model), GaussianMixture) else "kmeans"


def assign(model: Pipeline, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's segment and confidence: its membership probability of that
    segment (the largest of ``model.predict_proba``; see ``SegmentKMeans``
    for KMeans's), in [0, 1]. A model saved before confidences existed (a
    plain scikit-learn KMeans, without ``predict_proba``) assigns segments
    with NaN confidence."""
    clusterer = clustering(model)
    if not hasattr(clusterer, "predict_proba"):
        logger.warning("The model predates segment confidences: %s to have them", RETRAIN)
        return model.predict(rows).astype("int64"), np.full(len(rows), np.nan)
    probabilities = model.predict_proba(rows)
    return probabilities.argmax(axis=1).astype("int64"), membership_confidence(probabilities)


def membership_confidence(probabilities: np.ndarray) -> np.ndarray:
    """The largest membership probability of each row: its confidence in its segment."""
    return np.asarray(probabilities, dtype=float).max(axis=1, initial=0.0)


def preprocessor(model: Pipeline) -> SegmentPreprocessor:
    """The model's fitted preprocessor (``OutdatedModelError`` for a model
    saved by an older release)."""
    require_current(model)
    return model.named_steps[PREPROCESSOR]


def fingerprint(model: Pipeline) -> str:
    """A short, stable identifier of a fitted model (a hash of its segment
    centres), kept in segment_profiles so that scoring can tell whether the
    names it attaches were made for the model it uses."""
    centres = np.ascontiguousarray(clustering(model).cluster_centers_)
    return hashlib.sha256(centres.tobytes()).hexdigest()[:16]


def scaled_numeric(model: Pipeline, numeric: pd.DataFrame, clipped: bool = True) -> pd.DataFrame:
    """Numeric columns on the scale the model clusters in
    (``SegmentPreprocessor.scaled_numeric``): distances from the training
    mean in standard deviations of the transformed column."""
    return preprocessor(model).scaled_numeric(numeric, clipped)


def training_range(model: Pipeline) -> dict[str, tuple[float, float]]:
    """The training minimum and maximum of each numeric column."""
    return preprocessor(model).training_range_


def fitted_categories(model: Pipeline) -> dict[str, list[str]]:
    """The categories the model's one-hot blocks know, per categorical column."""
    return preprocessor(model).categories()
