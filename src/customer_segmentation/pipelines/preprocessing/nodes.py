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
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from customer_segmentation import model
from customer_segmentation.features import (
    ROW_NUMBER,
    FeatureSpec,
    InvalidCustomerDataError,
    key_column,
    validate_customer_table,
)

logger = logging.getLogger(__name__)


def validate_customers(
    raw_customers: pd.DataFrame, features: dict, min_rows: int, first_line: int = 1
) -> pd.DataFrame:
    """Checks the raw table against the ``features`` schema, reads ids as
    text (or numbers the rows with ``id_column: null``), coerces numeric
    columns to numbers and keeps only the columns the pipelines use.

    Stops the run with one message listing every problem, each naming its
    column and lines (``first_line`` is the line of the first data row in the
    source). Blank lines are skipped, and they, missing numeric values and
    values outside pinned categories are logged once here, as the only place
    that sees the raw table.
    """
    spec = FeatureSpec.parse(features)
    blank = raw_customers.isna().all(axis=1).to_numpy()
    if blank.any():
        lines = [int(i) + first_line for i in np.flatnonzero(blank)[:5]]
        logger.warning("Skipped %d blank lines of raw_customers (lines %s)", blank.sum(), lines)
        raw_customers = raw_customers.loc[~blank].reset_index(drop=True)
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


def _check_log_columns(customers: pd.DataFrame, spec: FeatureSpec, log_columns: list[str]) -> None:
    """Log-transformed columns must be numeric features without negative values."""
    for column in log_columns:
        if column not in spec.numeric:
            raise ValueError(
                f"preprocessing.log_columns names '{column}', which is not one of the "
                f"numeric features {list(spec.numeric)}"
            )
        negative = customers[column] < 0
        if negative.any():
            raise InvalidCustomerDataError(
                f"column '{column}': {int(negative.sum())} negative values (first in row "
                f"{negative.idxmax()}), but preprocessing.log_columns takes log(1 + x) "
                "of it; expected values >= 0, or remove it from log_columns"
            )


def fit_preprocessor(
    validated_customers: pd.DataFrame, features: dict, preprocessing: dict
) -> ColumnTransformer | Pipeline:
    """Fits median imputation and scaling of numeric columns (after log(1 + x)
    for the skewed ``log_columns``) and a one-hot encoding of categorical
    columns, weighted by ``categorical_weight`` so that one-hot blocks do not
    dominate the distances. Categories are learned from the data (those rarer
    than ``min_category_share``, and unseen ones when scoring, become one
    "other" column), or pinned in ``features.categories``; a missing value is
    the category "missing" (``model.CategoryEncoder``). With ``pca_components``
    set, a PCA follows and the preprocessor is a ``Pipeline``. Tables larger
    than ``fit_sample_size`` are fitted on a seeded sample of that size. The
    training range (minimum and maximum of all rows) of each numeric column is
    kept with it for scoring's range check."""
    spec = FeatureSpec.parse(features)
    log_columns = list(preprocessing.get("log_columns") or [])
    _check_log_columns(validated_customers, spec, log_columns)
    plain_columns = [column for column in spec.numeric if column not in log_columns]
    transformers = []
    if plain_columns:
        transformers.append(
            (
                model.NUMERIC_BLOCK,
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                plain_columns,
            )
        )
    if log_columns:
        transformers.append(
            (
                model.LOG_NUMERIC_BLOCK,
                make_pipeline(
                    SimpleImputer(strategy="median"),
                    FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
                    StandardScaler(),
                ),
                log_columns,
            )
        )
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
        transformer_weights=dict.fromkeys(
            model.CATEGORICAL_BLOCKS, preprocessing.get("categorical_weight", 1.0)
        ),
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
    fit_rows = validated_customers
    sample_size = preprocessing.get("fit_sample_size")
    if sample_size and len(fit_rows) > sample_size:
        # Medians, means, spreads and categories of a million random customers
        # are those of all of them; fitting on every row of ten million would
        # hold several copies of the table at once.
        fit_rows = fit_rows.sample(sample_size, random_state=preprocessing.get("random_seed", 0))
        logger.info("Fitting the preprocessor on a seeded sample of %d customers", sample_size)
    preprocessor = preprocessor.set_output(transform="pandas").fit(fit_rows)
    numeric = validated_customers[list(spec.numeric)]
    model.set_training_range(preprocessor, numeric.min(), numeric.max())
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
    id_column = key_column(id_column)
    encoded = preprocessor.transform(validated_customers)
    encoded.insert(0, id_column, validated_customers[id_column].array)
    return encoded.reset_index(drop=True)
