"""The preprocessing nodes on one machine (pandas): validate the raw customer table
against the ``features`` contract, fit the encoding, encode every customer.

Encoding is one scikit-learn estimator (``model.SegmentPreprocessor``) that
is fitted here and reused, unchanged, inside the final segmentation model, so training and
scoring transform rows identically.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from customer_segmentation.features import (
    ROW_NUMBER,
    FeatureSpec,
    category_text,
    validate_customer_table,
)
from customer_segmentation.model import MISSING, SegmentPreprocessor

from .kernels import encode_rows, preprocessor_for

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
        # As the model reads them: " Male" is the pinned "Male", a blank is missing.
        values = category_text(customers[column])
        unexpected = ~values.isin(categories)
        if unexpected.any():
            logger.warning(
                "Column '%s' has %d values that are missing or outside its pinned categories %s "
                "(for example %s); they get no one-hot column",
                column,
                int(unexpected.sum()),
                list(categories),
                values[unexpected].fillna(MISSING).drop_duplicates().head(3).tolist(),
            )
    return customers


def fit_preprocessor(
    validated_customers: pd.DataFrame, features: dict, preprocessing: dict
) -> SegmentPreprocessor:
    """Fits the encoding of every customer row into the space KMeans clusters
    in: a ``model.SegmentPreprocessor`` with the ``preprocessing`` settings.

    Numeric features: median imputation; a transform of skewed columns
    (log(1 + x) or Yeo-Johnson, chosen from the data unless ``transforms``
    sets it), so that distances compare ratios rather than letting a few big
    spenders set them; standard scaling; then clipping at the
    ``clip_quantile`` and ``1 - clip_quantile`` quantiles, so that a handful
    of extreme customers cannot pull a segment of their own.

    Categorical features: one 0/1 column per category (categories learned
    from the data, those rarer than ``min_category_share`` and unseen ones
    as "other", a missing value as "missing"; or pinned in
    ``features.categories``), multiplied by ``categorical_weight`` w: two
    customers in different categories of a variable are then 2 w² apart in
    squared distance, whatever its number of categories. The default, 0.5,
    makes that 0.5: Huang's k-prototypes weighting (a category mismatch
    costs gamma = 1/3 to 2/3 of a numeric feature's variance), so that
    neither the numeric nor the categorical block dominates.

    With ``pca_components`` set, a PCA follows. Tables larger than
    ``fit_sample_size`` are fitted on a seeded sample of that size; the
    transforms and the training range (minimum and maximum of each numeric
    column, for scoring's range check) are measured on every row."""
    spec = FeatureSpec.parse(features)
    return preprocessor_for(spec, preprocessing).fit(validated_customers)


def encode_features(
    validated_customers: pd.DataFrame, preprocessor: SegmentPreprocessor, id_column: str
) -> pd.DataFrame:
    """Applies the fitted preprocessor; the id column is kept first so every
    encoded row can be traced back to its customer."""
    return encode_rows(validated_customers, preprocessor, id_column)
