"""Validation and encoding of the raw customer table.

The schema follows the ``features`` parameter, so a user's own columns are
validated as strictly as the synthetic ones. Encoding is one scikit-learn
``ColumnTransformer`` that is fitted here and reused, unchanged, inside the
final segmentation model, so training and scoring transform rows identically.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

logger = logging.getLogger(__name__)

_EXAMPLE_ROWS = 3


class InvalidCustomerDataError(ValueError):
    """The customer table does not match the ``features`` parameter."""


def _not_entirely_null(series: pd.Series) -> bool:
    return bool(series.notna().any())


def build_customer_schema(features: dict, min_rows: int) -> pa.DataFrameSchema:
    """Builds the pandera schema that the ``features`` parameter implies."""
    not_all_null = pa.Check(_not_entirely_null, name="not_entirely_null")
    columns = {
        features["id_column"]: pa.Column(
            nullable=False,
            unique=True,
            checks=not_all_null,
            description="unique customer identifier",
        )
    }
    for column in features["numeric"]:
        columns[column] = pa.Column(
            float, coerce=True, nullable=True, checks=not_all_null, description="numeric"
        )
    for column in features.get("categorical") or {}:
        columns[column] = pa.Column(nullable=True, checks=not_all_null)
    profile_only = features.get("profile_only") or {}
    for column in profile_only.get("numeric") or []:
        columns.setdefault(
            column, pa.Column(float, coerce=True, nullable=True, description="profile only")
        )
    for column in profile_only.get("categorical") or []:
        columns.setdefault(column, pa.Column(nullable=True, description="profile only"))
    return pa.DataFrameSchema(
        columns,
        checks=[pa.Check(lambda frame: len(frame) >= min_rows, name="enough_rows")],
        strict=False,
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _rows(failures: pd.DataFrame, data: pd.DataFrame, id_column: str) -> str:
    """Names the first failing rows (0-based) with their id and value."""
    examples = []
    for _, failure in failures.head(_EXAMPLE_ROWS).iterrows():
        row = failure["index"]
        text = f"row {row}"
        if id_column in data.columns and row in data.index:
            text += f" ({id_column} {data.at[row, id_column]})"
        examples.append(text)
    more = f" and {len(failures) - _EXAMPLE_ROWS} more" if len(failures) > _EXAMPLE_ROWS else ""
    return ", ".join(examples) + more


def _describe_failures(
    failures: pd.DataFrame, data: pd.DataFrame, id_column: str, min_rows: int
) -> list[str]:
    """Turns pandera's failure cases into one sentence per column and problem,
    table-wide problems first, each naming the column, rows and expectation."""
    failures = failures.assign(
        column=failures["column"].fillna(""), check=failures["check"].astype(str)
    )
    entirely_null = set(failures.loc[failures["check"] == "not_entirely_null", "column"])
    messages: list[tuple[int, str]] = []
    for (column, check), group in failures.groupby(["column", "check"], sort=False):
        count = len(group)
        if check == "enough_rows":
            messages.append(
                (
                    0,
                    f"raw_customers has {len(data)} rows; expected at least {min_rows} "
                    "(model_selection.k_max) to compare that many segments",
                )
            )
        elif check == "column_in_dataframe":
            for name in group["failure_case"]:
                messages.append(
                    (1, f"column '{name}' is missing: the features parameter expects it")
                )
        elif check == "not_entirely_null":
            messages.append(
                (2, f"column '{column}': every value is missing; expected at least one value")
            )
        elif check == "not_nullable" and column not in entirely_null:
            messages.append(
                (
                    3,
                    f"column '{column}': {_count(count, 'row')} without an id; every row needs one: "
                    f"{_rows(group, data, id_column)}",
                )
            )
        elif check == "field_uniqueness":
            messages.append(
                (
                    3,
                    f"column '{column}': {_count(count, 'row')} share a duplicate id; ids must be "
                    f"unique: {_rows(group, data, id_column)}",
                )
            )
        elif check.startswith(("coerce_dtype", "dtype")):
            if any(
                text.startswith(f"column '{column}': expected a number") for _, text in messages
            ):
                continue
            values = ", ".join(repr(v) for v in group["failure_case"].drop_duplicates().head(3))
            messages.append(
                (
                    3,
                    f"column '{column}': expected a number, got {values} in {_count(count, 'row')}: "
                    f"{_rows(group, data, id_column)}",
                )
            )
        elif check != "not_nullable":
            messages.append((4, f"column '{column}': failed {check} in {_count(count, 'row')}"))
    return [text for _, text in sorted(messages, key=lambda item: item[0])]


def validate_customers(raw_customers: pd.DataFrame, features: dict, min_rows: int) -> pd.DataFrame:
    """Checks the raw table against the ``features`` schema and coerces numerics.

    Stops the run with one message listing every problem (missing or non-numeric
    columns, empty or too short tables, missing or duplicate ids, entirely empty
    columns), each naming its column and, where there is one, its row.
    """
    id_column = features["id_column"]
    if raw_customers.empty:
        raise InvalidCustomerDataError(
            "raw_customers is empty: expected at least "
            f"{min_rows} customer rows (model_selection.k_max)"
        )
    schema = build_customer_schema(features, min_rows)
    try:
        customers = schema.validate(raw_customers, lazy=True)
    except SchemaErrors as errors:
        problems = _describe_failures(errors.failure_cases, raw_customers, id_column, min_rows)
        raise InvalidCustomerDataError(
            "raw_customers does not match the features parameter "
            "(rows are counted from 0, after the header):\n  - " + "\n  - ".join(problems)
        ) from None

    missing = customers[features["numeric"]].isna().sum()
    for column, count in missing[missing > 0].items():
        logger.warning(
            "Column '%s' has %d missing values (%.1f%%); they are imputed with the median",
            column,
            count,
            100 * count / len(customers),
        )
    for column, categories in (features.get("categorical") or {}).items():
        unexpected = ~customers[column].isin(categories)
        if unexpected.any():
            logger.warning(
                "Column '%s' has %d values that are missing or outside %s "
                "(for example %s); they get no one-hot column",
                column,
                int(unexpected.sum()),
                categories,
                customers.loc[unexpected, column].drop_duplicates().head(3).tolist(),
            )
    return customers


def _check_log_columns(
    validated_customers: pd.DataFrame, features: dict, log_columns: list[str]
) -> None:
    """Log-transformed columns must be numeric features without negative values."""
    for column in log_columns:
        if column not in features["numeric"]:
            raise ValueError(
                f"preprocessing.log_columns names '{column}', which is not one of the "
                f"numeric features {list(features['numeric'])}"
            )
        negative = validated_customers[column] < 0
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
    for the skewed ``log_columns``) and a one-hot encoding of categorical columns
    over the categories fixed in ``features``, weighted by ``categorical_weight``
    so that one-hot blocks do not dominate the distances. With ``pca_components``
    set, a PCA follows and the preprocessor is a ``Pipeline``."""
    categorical = features.get("categorical") or {}
    log_columns = list(preprocessing.get("log_columns") or [])
    _check_log_columns(validated_customers, features, log_columns)
    plain_columns = [column for column in features["numeric"] if column not in log_columns]
    transformers = []
    if plain_columns:
        transformers.append(
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                plain_columns,
            )
        )
    if log_columns:
        transformers.append(
            (
                "log_numeric",
                make_pipeline(
                    SimpleImputer(strategy="median"),
                    FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
                    StandardScaler(),
                ),
                log_columns,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                OneHotEncoder(
                    categories=[list(values) for values in categorical.values()],
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
                list(categorical),
            )
        )
    preprocessor = ColumnTransformer(
        transformers,
        remainder="drop",
        verbose_feature_names_out=False,
        transformer_weights={"categorical": preprocessing.get("categorical_weight", 1.0)},
    )
    if preprocessing.get("pca_components"):
        preprocessor = Pipeline(
            [
                ("columns", preprocessor),
                (
                    "pca",
                    PCA(
                        n_components=preprocessing["pca_components"],
                        random_state=preprocessing.get("random_seed", 0),
                    ),
                ),
            ]
        )
    preprocessor = preprocessor.set_output(transform="pandas").fit(validated_customers)
    if preprocessing.get("pca_components"):
        explained = preprocessor.named_steps["pca"].explained_variance_ratio_
        logger.info(
            "PCA keeps %d components explaining %.1f%% of the variance",
            len(explained),
            100 * explained.sum(),
        )
    return preprocessor


def encode_features(
    validated_customers: pd.DataFrame, preprocessor: ColumnTransformer | Pipeline, features: dict
) -> pd.DataFrame:
    """Applies the fitted preprocessor; the id column is kept first so every
    encoded row can be traced back to its customer."""
    id_column = features["id_column"]
    encoded = preprocessor.transform(validated_customers)
    encoded.insert(0, id_column, validated_customers[id_column].to_numpy())
    return encoded.reset_index(drop=True)
