"""The segmentation model's contract: its step names and how to read it.

The model is one scikit-learn ``Pipeline``: the fitted preprocessor (a
``ColumnTransformer``, or a ``Pipeline`` of it and a PCA) followed by KMeans,
so ``model.predict(raw_rows)`` returns segments. Every pipeline reads the
model through these names and helpers, never through its own copy of them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

PREPROCESSOR = "preprocessor"
CLUSTERING = "kmeans"
# Steps of a preprocessor with PCA, and blocks of its ColumnTransformer.
COLUMNS = "columns"
PCA_STEP = "pca"
NUMERIC_BLOCK = "numeric"
LOG_NUMERIC_BLOCK = "log_numeric"
YEO_JOHNSON_BLOCK = "yeo_johnson_numeric"
# The numeric blocks and the transform each applies before scaling.
NUMERIC_BLOCKS = {
    NUMERIC_BLOCK: "none",
    LOG_NUMERIC_BLOCK: "log1p",
    YEO_JOHNSON_BLOCK: "yeo-johnson",
}
TRANSFORMS = tuple(NUMERIC_BLOCKS.values())
CATEGORICAL_BLOCK = "categorical"
PINNED_CATEGORICAL_BLOCK = "pinned_categorical"
CATEGORICAL_BLOCKS = (CATEGORICAL_BLOCK, PINNED_CATEGORICAL_BLOCK)
OTHER = "other"
MISSING = "missing"


# Row blocks for passes over every customer that would otherwise hold a
# temporary copy of the whole feature matrix (a block of 11 float64 features
# is 22 MB).
ROWS_PER_BLOCK = 262_144


class SegmentKMeans(KMeans):
    """scikit-learn's KMeans, the clustering step of the segmentation model
    (``CLUSTERING``), with one change: its convergence tolerance is measured
    without a copy of the data. KMeans scales ``tol`` by the mean variance of
    the features, computed with ``np.var(X, axis=0)``, which holds a full
    copy of X while it runs: the whole run's peak memory at ten million
    customers (benchmarks/RESULTS.md). Here the variance is summed a block of rows at
    a time. For dense data only (the encoded features always are)."""

    def _check_params_vs_input(self, X):
        tol = self.tol
        self.tol = 0  # KMeans then skips its own np.var(X, axis=0)
        try:
            super()._check_params_vs_input(X)
        finally:
            self.tol = tol
        self._tol = tol * float(np.mean(_variances(X))) if tol else 0.0


def _variances(X: np.ndarray, rows_per_block: int = ROWS_PER_BLOCK) -> np.ndarray:
    """``np.var(X, axis=0)``, a block of rows at a time."""
    mean = X.mean(axis=0)
    squares = np.zeros(X.shape[1])
    for start in range(0, len(X), rows_per_block):
        squares += ((X[start : start + rows_per_block] - mean) ** 2).sum(axis=0)
    return squares / len(X)


def largest_first(kmeans: KMeans, sizes: np.ndarray) -> np.ndarray:
    """Renumbers the segments of a fitted ``kmeans`` so that segment 0 is the
    largest (``sizes``: customers per segment, in its current numbering),
    which keeps segment numbers meaningful and comparable between runs.
    Returns the order: the old number of each new segment."""
    order = np.argsort(-sizes, kind="stable")
    kmeans.cluster_centers_ = kmeans.cluster_centers_[order]
    return order


def segmentation_model(preprocessor: ColumnTransformer | Pipeline, kmeans: KMeans) -> Pipeline:
    """The deployable model: the fitted preprocessor, then the fitted KMeans."""
    return Pipeline([(PREPROCESSOR, preprocessor), (CLUSTERING, kmeans)])


def clustering(model: Pipeline) -> KMeans:
    return model.named_steps[CLUSTERING]


def preprocessor(model: Pipeline) -> ColumnTransformer | Pipeline:
    return model.named_steps[PREPROCESSOR]


def column_transformer(preprocessor: ColumnTransformer | Pipeline) -> ColumnTransformer:
    """The ColumnTransformer of a preprocessor, with or without PCA."""
    return preprocessor.named_steps[COLUMNS] if isinstance(preprocessor, Pipeline) else preprocessor


def pca(preprocessor: ColumnTransformer | Pipeline):
    """The PCA step of a preprocessor, or None."""
    return preprocessor.named_steps.get(PCA_STEP) if isinstance(preprocessor, Pipeline) else None


def fingerprint(model: Pipeline) -> str:
    """A short, stable identifier of a fitted model (a hash of its segment
    centres), kept in segment_profiles so that scoring can tell whether the
    names it attaches were made for the model it uses."""
    centres = np.ascontiguousarray(clustering(model).cluster_centers_)
    return hashlib.sha256(centres.tobytes()).hexdigest()[:16]


def scaled_numeric(model: Pipeline, numeric: pd.DataFrame, clipped: bool = True) -> pd.DataFrame:
    """Numeric columns on the scale the clustering uses (after imputation,
    the column's transform, scaling and, unless ``clipped`` is false,
    clipping): distances from the training mean in standard deviations of
    the transformed column."""
    columns = column_transformer(preprocessor(model))
    scaled = []
    for name, transformer, names in columns.transformers_:
        if name not in NUMERIC_BLOCKS:
            continue
        steps = transformer if clipped else transformer[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            values = steps.transform(numeric[list(names)])
        scaled.append(pd.DataFrame(np.asarray(values, float), columns=names, index=numeric.index))
    return pd.concat(scaled, axis=1)


def column_transforms(preprocessor: ColumnTransformer | Pipeline) -> dict[str, str]:
    """The transform (``TRANSFORMS``) each numeric feature gets before scaling."""
    return {
        column: NUMERIC_BLOCKS[name]
        for name, _, names in column_transformer(preprocessor).transformers_
        if name in NUMERIC_BLOCKS
        for column in names
    }


class MedianImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Fills each column's missing values with its median, learned in
    ``fit``: scikit-learn's ``SimpleImputer(strategy="median")`` with the
    same medians, computed by selection (``np.nanmedian``) instead of a
    masked-array sort, noticeably faster on a million customers."""

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's argument names
        values = np.asarray(X, dtype=float)
        self.n_features_in_ = values.shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.statistics_ = np.nanmedian(values, axis=0)
        return self

    def transform(self, X):  # noqa: N803
        values = np.array(X, dtype=float)  # a copy of its own, filled in place
        np.copyto(values, np.broadcast_to(self.statistics_, values.shape), where=np.isnan(values))
        return values


class QuantileClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clips each column to its ``quantile`` and ``1 - quantile`` quantiles,
    learned in ``fit`` (winsorising): a handful of extreme customers sit at
    the edge of the bulk instead of pulling a segment centre to themselves.
    ``quantile=0`` clips nothing."""

    def __init__(self, quantile: float = 0.005):
        self.quantile = quantile

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's argument names
        values = np.asarray(X, dtype=float)
        self.n_features_in_ = values.shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        # Quantiles of a seeded sample of at most 200,000 rows: a 0.5% tail
        # of that many is a thousand customers, plenty to place the bound.
        sample = values
        if len(values) > 200_000:
            sample = values[np.random.default_rng(0).choice(len(values), 200_000, replace=False)]
        self.lower_, self.upper_ = np.nanquantile(sample, [self.quantile, 1 - self.quantile], 0)
        # How many training rows each bound clipped, for the metrics and report.
        self.n_clipped_low_ = (values < self.lower_).sum(axis=0)
        self.n_clipped_high_ = (values > self.upper_).sum(axis=0)
        self.n_samples_fit_ = len(values)
        return self

    def transform(self, X):  # noqa: N803
        return np.clip(np.asarray(X, dtype=float), self.lower_, self.upper_)


def set_training_range(preprocessor, low: pd.Series, high: pd.Series) -> None:
    """Keeps the training minimum and maximum of each numeric column with the
    fitted preprocessor (scoring rejects far values only outside them)."""
    column_transformer(preprocessor).training_range_ = {
        column: (float(low[column]), float(high[column])) for column in low.index
    }


def training_range(model: Pipeline) -> dict[str, tuple[float, float]]:
    """The training minimum and maximum of each numeric column."""
    return getattr(column_transformer(preprocessor(model)), "training_range_", {})


def category_text(values: pd.Series) -> pd.Series:
    """A categorical column as text, the same way in training and scoring:
    whole numbers without ".0" (a column of codes with a gap reads as floats),
    missing values as <NA>."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        present = values.dropna()
        if (present % 1 == 0).all():
            values = values.astype("Int64")
    return values.astype("string")


class CategoryEncoder(TransformerMixin, BaseEstimator):
    """One-hot encoding of categorical columns, one 0/1 column per category.

    With ``categories="auto"`` the categories are learned in ``fit``: values
    seen in at least ``min_share`` of the rows (a missing value is the
    category "missing"), plus an "other" column that takes the rarer values
    and, at scoring, values never seen in training. With ``categories`` a list
    of lists (pinned), exactly those columns, and any other value gets none.

    It does in a few vectorised pandas operations what scikit-learn's
    ``OneHotEncoder(min_frequency=...)`` does with a Python loop over every
    value, a noticeable share of a million-customer run.
    """

    def __init__(self, categories="auto", min_share: float = 0.0):
        self.categories = categories
        self.min_share = min_share

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's argument names
        frame = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.categories_ = []
        for position, column in enumerate(frame.columns):
            if self.categories != "auto":
                self.categories_.append([str(c) for c in self.categories[position]])
                continue
            counts = category_text(frame[column]).fillna(MISSING).value_counts()
            frequent = counts[counts >= self.min_share * len(frame)].index
            self.categories_.append([*sorted(str(c) for c in frequent if c != OTHER), OTHER])
        return self

    def transform(self, X):  # noqa: N803
        blocks = self._blocks(pd.DataFrame(X, columns=self.feature_names_in_))
        return np.hstack(blocks) if blocks else np.zeros((len(X), 0))

    def _blocks(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """The 0/1 indicator columns of each categorical column."""
        blocks = []
        for column, categories in zip(self.feature_names_in_, self.categories_, strict=True):
            codes = self._codes(frame[column], categories)
            if self.categories == "auto":
                codes = np.where(codes < 0, len(categories) - 1, codes)  # "other"
            block = np.zeros((len(frame), len(categories)))
            known = np.flatnonzero(codes >= 0)
            block[known, codes[known]] = 1.0
            blocks.append(block)
        return blocks

    def _codes(self, values: pd.Series, categories: list[str]) -> np.ndarray:
        """The position of each value in ``categories``; -1 for a value not in
        them (and for a missing one, unless "missing" is a category)."""
        index = pd.Index(categories)
        missing = index.get_indexer([MISSING])[0] if self.categories == "auto" else -1
        if isinstance(values.dtype, pd.CategoricalDtype):
            # A pandas categorical: map its few categories, not its many values.
            lookup = index.get_indexer(category_text(pd.Series(values.cat.categories)))
            own = values.cat.codes.to_numpy()
            return np.where(own >= 0, lookup[own], missing)
        text = category_text(values)
        codes = index.get_indexer(text.fillna(MISSING if missing >= 0 else ""))
        return np.where(text.isna().to_numpy(), missing, codes)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(
            [
                f"{column}_{category}"
                for column, categories in zip(self.feature_names_in_, self.categories_, strict=True)
                for category in categories
            ],
            dtype=object,
        )


def encoded_variables(preprocessor: ColumnTransformer | Pipeline) -> dict[str, list[str]]:
    """The encoded columns (before any PCA) of each feature: a numeric
    feature's own column, a categorical feature's one-hot columns."""
    variables = {}
    for name, transformer, names in column_transformer(preprocessor).transformers_:
        if name in NUMERIC_BLOCKS:
            variables.update({column: [column] for column in names})
        elif name in CATEGORICAL_BLOCKS:
            for column, categories in zip(names, transformer.categories_, strict=True):
                variables[column] = [f"{column}_{category}" for category in categories]
    return variables


def fitted_categories(model: Pipeline) -> dict[str, list[str]]:
    """The categories the model's one-hot blocks know, per categorical column."""
    columns = column_transformer(preprocessor(model))
    known = {}
    for name, transformer, names in columns.transformers_:
        if name in CATEGORICAL_BLOCKS:
            for column, categories in zip(names, transformer.categories_, strict=True):
                known[column] = [c for c in categories if c != OTHER]
    return known
