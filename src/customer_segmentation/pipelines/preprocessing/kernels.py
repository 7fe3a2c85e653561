"""What both engines of the preprocessing pipeline share: the choice of
transform per numeric feature, the preprocessor built and fitted from what
was measured on all rows, and the encoding of a batch of rows (the whole
table on one machine, each Arrow batch on Spark). A leaf module: it imports
neither engine.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, PowerTransformer, StandardScaler

from customer_segmentation import model
from customer_segmentation.features import FeatureSpec, InvalidCustomerDataError, key_column

logger = logging.getLogger(__name__)


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
    spec: FeatureSpec,
    preprocessing: dict,
    minimum: pd.Series | None = None,
) -> dict[str, dict]:
    """The transform of every numeric feature before scaling, with the
    skewness it removes: the one set in ``preprocessing.transforms``, or,
    for the others, ``none`` when the column's skewness is within
    ``skew_threshold``; ``log1p`` when it is non-negative and log(1 + x)
    leaves a skewness within 0.5 (money and counts, read as "times more");
    ``yeo-johnson`` (a fitted power transform that also takes negative
    values) otherwise. ``customers`` may be a sample when ``minimum`` holds
    every row's minimum of each column (a negative value outside the sample
    would turn log(1 + x) into NaN)."""
    chosen = preprocessing.get("transforms") or {}
    unknown = [c for c in chosen if c not in spec.numeric]
    if unknown:
        raise ValueError(
            f"preprocessing.transforms names {unknown}, which are not numeric features "
            f"{list(spec.numeric)}"
        )
    threshold = preprocessing.get("skew_threshold", 1.0)
    transforms = {}
    for column in spec.numeric:
        values = customers[column]
        before = _skewness(values)
        transform = chosen.get(column)
        negative = values < 0
        lowest = float(minimum[column]) if minimum is not None else float("nan")
        any_negative = bool(negative.any()) or lowest < 0
        if transform == "log1p" and any_negative:
            found = (
                f"{int(negative.sum())} negative values (first in row {negative.idxmax()})"
                if negative.any()
                else f"values down to {lowest:g}"
            )
            raise InvalidCustomerDataError(
                f"column '{column}': {found}, but preprocessing.transforms takes log(1 + x) "
                "of it; expected values >= 0, or use yeo-johnson"
            )
        if transform is None:
            if abs(before) <= threshold:
                transform = "none"
            elif not any_negative and abs(_skewness(np.log1p(values))) <= 0.5:
                transform = "log1p"
            else:
                transform = "yeo-johnson"
        transforms[column] = {"transform": transform, "skewness": round(before, 3)}
    changed = {c: t["transform"] for c, t in transforms.items() if t["transform"] != "none"}
    if changed:
        logger.info("Skewed numeric features transformed before scaling: %s", changed)
    return transforms


def _numeric_block(transform: str, clip_quantile: float) -> Pipeline:
    """Median imputation, the transform, standard scaling and clipping at
    fitted quantiles, in that order (the clipper is always the last step)."""
    steps = [model.MedianImputer()]
    if transform == "log1p":
        steps.append(FunctionTransformer(np.log1p, feature_names_out="one-to-one"))
    elif transform == "yeo-johnson":
        steps.append(PowerTransformer(method="yeo-johnson", standardize=False))
    steps += [StandardScaler(), model.QuantileClipper(clip_quantile)]
    return make_pipeline(*steps)


def build_preprocessor(  # noqa: PLR0913 - the rows, the contract and what was measured on all rows
    fit_rows: pd.DataFrame,
    spec: FeatureSpec,
    preprocessing: dict,
    transforms: dict[str, dict],
    low: pd.Series,
    high: pd.Series,
) -> ColumnTransformer | Pipeline:
    """The preprocessor ``fit_preprocessor`` describes, fitted on ``fit_rows``
    with the chosen ``transforms`` and the training range [``low``, ``high``]
    of all rows (both engines measure those on every row, then call this)."""
    clip_quantile = preprocessing.get("clip_quantile", 0.005)
    transformers = []
    for block, transform in model.NUMERIC_BLOCKS.items():
        columns = [c for c in spec.numeric if transforms[c]["transform"] == transform]
        if columns:
            transformers.append((block, _numeric_block(transform, clip_quantile), columns))
    weight = float(preprocessing.get("categorical_weight", 0.5))
    learned = [column for column in spec.categorical if column not in spec.pinned]
    share = preprocessing.get("min_category_share", 0.0)
    if learned:
        transformers.append(
            (
                model.CATEGORICAL_BLOCK,
                model.CategoryEncoder(min_share=share),
                learned,
            )
        )
    if spec.pinned:
        transformers.append(
            (
                model.PINNED_CATEGORICAL_BLOCK,
                model.CategoryEncoder(categories=[list(v) for v in spec.pinned.values()]),
                list(spec.pinned),
            )
        )
    preprocessor = ColumnTransformer(
        transformers,
        remainder="drop",
        verbose_feature_names_out=False,
        transformer_weights=dict.fromkeys(model.CATEGORICAL_BLOCKS, weight),
    )
    if preprocessing.get("pca_components"):
        preprocessor = Pipeline(
            [
                (model.COLUMNS, preprocessor),
                (
                    model.PCA_STEP,
                    PCA(
                        n_components=preprocessing["pca_components"],
                        random_state=preprocessing.get("random_seed", 0),
                    ),
                ),
            ]
        )
    preprocessor = preprocessor.set_output(transform="pandas").fit(fit_rows)
    model.set_training_range(preprocessor, low, high)
    model.column_transformer(preprocessor).skewness_ = {
        column: chosen["skewness"] for column, chosen in transforms.items()
    }
    if (pca := model.pca(preprocessor)) is not None:
        logger.info(
            "PCA keeps %d components explaining %.1f%% of the variance",
            pca.n_components_,
            100 * pca.explained_variance_ratio_.sum(),
        )
    return preprocessor


def encode_rows(
    customers: pd.DataFrame, preprocessor: ColumnTransformer | Pipeline, id_column: str
) -> pd.DataFrame:
    """``customers`` encoded by the fitted preprocessor, the id column first
    so that every encoded row can be traced back to its customer."""
    id_column = key_column(id_column)
    encoded = preprocessor.transform(customers)
    encoded.insert(0, id_column, customers[id_column].array)
    return encoded.reset_index(drop=True)
