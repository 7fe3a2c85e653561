"""Nodes of the preprocessing pipeline: validate the raw customer table
against the ``features`` contract, fit the encoding, encode every customer.

Encoding is one scikit-learn ``ColumnTransformer`` that is fitted here and
reused, unchanged, inside the final segmentation model, so training and
scoring transform rows identically.
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
from customer_segmentation.features import (
    ROW_NUMBER,
    FeatureSpec,
    InvalidCustomerDataError,
    key_column,
    validate_customer_table,
)
from customer_segmentation.spark import is_spark

logger = logging.getLogger(__name__)


def validate_customers(
    raw_customers: pd.DataFrame, features: dict, min_rows: int, first_line: int = 1
) -> pd.DataFrame:
    """Checks the raw table against the ``features`` schema, reads ids as
    text (or numbers the rows with ``id_column: null``), coerces numeric
    columns to numbers and keeps only the columns the pipelines use.

    Stops the run with one message listing every problem, each naming its
    column and lines (``first_line`` is the line of the first data row in the
    source). Blank lines are skipped and infinite numbers made missing
    (``features.infinite_as_missing``); they, missing numeric values and
    values outside pinned categories are logged once here, as the only place
    that sees the raw table.
    """
    spec = FeatureSpec.parse(features)
    if is_spark(raw_customers):
        from . import spark_nodes  # noqa: PLC0415

        return spark_nodes.validate_customers(raw_customers, spec, min_rows)
    blank = raw_customers.isna().all(axis=1).to_numpy()
    if blank.any():
        lines = [int(i) + first_line for i in np.flatnonzero(blank)[:5]]
        logger.warning("Skipped %d blank lines of raw_customers (lines %s)", blank.sum(), lines)
        # The index stays the row's position in the source, so that problems
        # found below name the right lines.
        raw_customers = raw_customers.loc[~blank]
    if spec.numbered_rows:
        logger.info("features.id_column is null: customers are numbered by row (%s)", ROW_NUMBER)
    elif spec.id_column in raw_customers and pd.api.types.is_numeric_dtype(
        raw_customers[spec.id_column]
    ):
        logger.warning(
            "Column '%s' was read as numbers, so ids with leading zeros have lost them; read "
            "it as text (load_args: {dtype: {%s: str}} in the catalog entry)",
            spec.id_column,
            spec.id_column,
        )
    customers = validate_customer_table(raw_customers, spec, min_rows, "raw_customers", first_line)
    customers = customers[spec.used_columns].reset_index(drop=True)
    missing = customers[list(spec.numeric)].isna().sum()
    for column, count in missing[missing > 0].items():
        logger.warning(
            "Column '%s' has %d missing values (%.1f%%); they are imputed with the median",
            column,
            count,
            100 * count / len(customers),
        )
    for column, categories in spec.pinned.items():
        unexpected = ~customers[column].isin(categories)
        if unexpected.any():
            logger.warning(
                "Column '%s' has %d values that are missing or outside its pinned categories %s "
                "(for example %s); they get no one-hot column",
                column,
                int(unexpected.sum()),
                list(categories),
                customers.loc[unexpected, column].drop_duplicates().head(3).tolist(),
            )
    return customers


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


def fit_preprocessor(
    validated_customers: pd.DataFrame, features: dict, preprocessing: dict
) -> ColumnTransformer | Pipeline:
    """Fits the encoding of every customer row into the space KMeans clusters in.

    Numeric features: median imputation; a transform of skewed columns
    (``choose_transforms``: log(1 + x) or Yeo-Johnson, chosen from the data
    unless ``transforms`` sets it), so that distances compare ratios rather
    than letting a few big spenders set them; standard scaling; then
    clipping at the ``clip_quantile`` and ``1 - clip_quantile`` quantiles,
    so that a handful of extreme customers cannot pull a segment of their own.

    Categorical features: one 0/1 column per category (``model.CategoryEncoder``:
    categories learned from the data, those rarer than ``min_category_share``
    and unseen ones as "other", a missing value as "missing"; or pinned in
    ``features.categories``), multiplied by ``categorical_weight`` w: two
    customers in different categories of a variable are then 2 w² apart in
    squared distance, whatever its number of categories. The default, 0.5,
    makes that 0.5: Huang's k-prototypes weighting (a category mismatch
    costs gamma = 1/3 to 2/3 of a numeric feature's variance), so that
    neither the numeric nor the categorical block dominates.

    With ``pca_components`` set, a PCA follows and the preprocessor is a
    ``Pipeline``. Tables larger than ``fit_sample_size`` are fitted on a
    seeded sample of that size. The training range (minimum and maximum of
    all rows) of each numeric column is kept for scoring's range check, and
    each column's transform and skewness for the metrics."""
    spec = FeatureSpec.parse(features)
    if is_spark(validated_customers):
        from . import spark_nodes  # noqa: PLC0415

        return spark_nodes.fit_preprocessor(validated_customers, spec, preprocessing)
    fit_rows = validated_customers
    sample_size = preprocessing.get("fit_sample_size")
    if sample_size and len(fit_rows) > sample_size:
        # Medians, means, spreads and categories of a million random customers
        # are those of all of them; fitting on every row of ten million would
        # hold several copies of the table at once.
        fit_rows = fit_rows.sample(sample_size, random_state=preprocessing.get("random_seed", 0))
        logger.info("Fitting the preprocessor on a seeded sample of %d customers", sample_size)
    # All rows: a negative value outside the fit sample would turn log(1 + x)
    # into NaN (skewness is estimated on a sample of its own).
    transforms = choose_transforms(validated_customers, spec, preprocessing)
    numeric = validated_customers[list(spec.numeric)]
    return build_preprocessor(
        fit_rows, spec, preprocessing, transforms, numeric.min(), numeric.max()
    )


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


def encode_features(
    validated_customers: pd.DataFrame, preprocessor: ColumnTransformer | Pipeline, id_column: str
) -> pd.DataFrame:
    """Applies the fitted preprocessor; the id column is kept first so every
    encoded row can be traced back to its customer."""
    if is_spark(validated_customers):
        from . import spark_nodes  # noqa: PLC0415

        return spark_nodes.encode_features(validated_customers, preprocessor, id_column)
    id_column = key_column(id_column)
    encoded = preprocessor.transform(validated_customers)
    encoded.insert(0, id_column, validated_customers[id_column].array)
    return encoded.reset_index(drop=True)
