"""The encoding steps of the segmentation model's preprocessor
(``model.SegmentPreprocessor``), and the choice of transform per numeric
feature it makes in ``fit``: median imputation, quantile clipping, one-hot
encoding of categories, and the skewness that decides between no transform,
log(1 + x) and Yeo-Johnson. Each step is a scikit-learn transformer whose
fitted state is learned in ``fit`` only.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

from customer_segmentation.features import (
    InvalidCustomerDataError,
    category_text,
    number_text,
    pinned_text,
)

logger = logging.getLogger(__name__)

# The transforms a numeric feature may get before scaling.
TRANSFORMS = ("none", "log1p", "yeo-johnson")
# The one-hot column of rare and unseen categories, and the category of a missing value.
OTHER = "other"
MISSING = "missing"


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


class CategoryEncoder(TransformerMixin, BaseEstimator):
    """One-hot encoding of categorical columns, one 0/1 column per category.

    With ``categories="auto"`` the categories are learned in ``fit``: values
    seen in at least ``min_share`` of the rows (a missing value is the
    category "missing"), plus an "other" column that takes the rarer values
    and, at scoring, values never seen in training. With ``categories`` a list
    of lists (pinned), exactly those columns (read as ``category_text`` reads
    the data, so " Male" pins "Male"), and any other value gets none.

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
                pinned = pinned_text(self.categories[position])
                self.categories_.append(pinned.dropna().unique().tolist())
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
        them (and for a missing one, unless "missing" is a category).
        ``categories`` are read as the data is: a model fitted before values
        were read without surrounding spaces holds " Male", which "Male" must
        still find; of two that read alike the first is found (the other gets
        trailing spaces, which no value as read has)."""
        read = category_text(pd.Series(categories, dtype="string")).fillna(MISSING)
        index = pd.Index(read + read.groupby(read).cumcount().map(" ".__mul__))
        missing = index.get_indexer([MISSING])[0] if self.categories == "auto" else -1
        if isinstance(values.dtype, pd.CategoricalDtype):
            # A pandas categorical: map its few categories, not its many values
            # (one of only spaces is missing, as its values would be).
            lookup = _positions(category_text(pd.Series(values.cat.categories)), index, missing)
            own = values.cat.codes.to_numpy()
            return np.where(own >= 0, lookup[own], missing)
        return _positions(category_text(values), index, missing)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(
            [
                f"{column}_{category}"
                for column, categories in zip(self.feature_names_in_, self.categories_, strict=True)
                for category in categories
            ],
            dtype=object,
        )


def _positions(text: pd.Series, index: pd.Index, missing: int) -> np.ndarray:
    """The position of each value of ``text`` (``category_text``) in
    ``index``: -1 for a value not in it, ``missing`` for a missing one."""
    codes = index.get_indexer(text.fillna(MISSING if missing >= 0 else ""))
    return np.where(text.isna().to_numpy(), missing, codes)


# Skewness is estimated on a seeded sample of at most this many values: the
# choice of transform does not need more, and it is a pass over every row otherwise.
SKEWNESS_SAMPLE_SIZE = 100_000


def _skewness(values: pd.Series) -> float:
    """Sample skewness of the present values (0 for fewer than three or a
    constant), on a seeded sample of at most ``SKEWNESS_SAMPLE_SIZE``."""
    present = values.dropna().to_numpy(float)
    if len(present) > SKEWNESS_SAMPLE_SIZE:
        present = np.random.default_rng(0).choice(present, SKEWNESS_SAMPLE_SIZE, replace=False)
    spread = present.std() if len(present) > 2 else 0.0
    if spread == 0:
        return 0.0
    return float(np.mean(((present - present.mean()) / spread) ** 3))


def choose_transforms(
    customers: pd.DataFrame,
    numeric: list[str],
    transforms: dict[str, str],
    skew_threshold: float,
    minimum: pd.Series,
) -> dict[str, tuple[str, float]]:
    """The transform (``TRANSFORMS``) of every ``numeric`` feature before
    scaling, with the skewness it removes: the one set in ``transforms``,
    or, for the others, ``none`` when the column's skewness is within
    ``skew_threshold``; ``log1p`` when it is non-negative and log(1 + x)
    leaves a skewness within 0.5 (money and counts, read as "times more");
    ``yeo-johnson`` (a fitted power transform that also takes negative
    values) otherwise. ``customers`` may be a sample: ``minimum`` holds
    every row's minimum of each column (a negative value outside the sample
    would turn log(1 + x) into NaN)."""
    unknown = [c for c in transforms if c not in numeric]
    if unknown:
        raise ValueError(
            f"preprocessing.transforms names {unknown}, which are not numeric features "
            f"{list(numeric)}"
        )
    chosen = {}
    for column in numeric:
        values = customers[column]
        before = _skewness(values)
        transform = _transform_of(
            column, values, transforms.get(column), before, skew_threshold, float(minimum[column])
        )
        chosen[column] = (transform, round(before, 3))
    changed = {c: t for c, (t, _) in chosen.items() if t != "none"}
    if changed:
        logger.info("Skewed numeric features transformed before scaling: %s", changed)
    return chosen


def _transform_of(  # noqa: PLR0913 - the column, its values and what decides
    column: str,
    values: pd.Series,
    transform: str | None,
    skewness: float,
    skew_threshold: float,
    lowest: float,
) -> str:
    """The transform of one column: ``transform`` when set (log(1 + x) of
    negative values is refused), else the one its ``skewness`` calls for."""
    negative = values < 0
    any_negative = bool(negative.any()) or lowest < 0
    if transform == "log1p" and any_negative:
        found = (
            f"{int(negative.sum())} negative values (first in row {negative.idxmax()})"
            if negative.any()
            else f"values down to {number_text(lowest)}"
        )
        raise InvalidCustomerDataError(
            f"column '{column}': {found}, but preprocessing.transforms takes log(1 + x) "
            "of it; expected values >= 0, or use yeo-johnson"
        )
    if transform is not None:
        return transform
    if abs(skewness) <= skew_threshold:
        return "none"
    if not any_negative and abs(_skewness(np.log1p(values))) <= 0.5:
        return "log1p"
    return "yeo-johnson"
