import logging

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.features import InvalidCustomerDataError
from customer_segmentation.pipelines.preprocessing.nodes import (
    encode_features,
    fit_preprocessor,
    validate_customers,
)

K_MAX = 10


@pytest.fixture
def raw(customers):
    return customers.copy()


def _error(raw, features, min_rows=K_MAX) -> str:
    with pytest.raises(InvalidCustomerDataError) as excinfo:
        validate_customers(raw, features, min_rows)
    return str(excinfo.value)


def test_valid_table_passes_with_numeric_columns_coerced(raw, features):
    raw["age"] = raw["age"].astype(str).replace("nan", None)  # numbers as text, as CSVs have
    validated = validate_customers(raw, features, K_MAX)
    assert validated["age"].dtype == np.float64
    # Only the columns the features contract names are kept, in its order.
    assert list(validated.columns) == [c for c in raw.columns if c != "persona"]
    assert len(validated) == len(raw)


def test_missing_feature_column_is_named(raw, features):
    message = _error(raw.drop(columns=["spending_score"]), features)
    assert "column 'spending_score' is missing" in message


def test_text_in_numeric_column_names_column_row_and_value(raw, features):
    raw["annual_income"] = raw["annual_income"].astype(object)
    raw.loc[4, "annual_income"] = "forty thousand"
    message = _error(raw, features)
    assert "column 'annual_income': expected a number, got 'forty thousand'" in message
    assert f"row 4 ({'customer_id'} {raw.loc[4, 'customer_id']})" in message


def test_empty_table(features, raw):
    message = _error(raw.iloc[0:0], features)
    assert "raw_customers is empty" in message


def test_fewer_rows_than_k_max(raw, features):
    message = _error(raw.head(6), features)
    assert "has 6 rows; expected at least 10" in message


def test_duplicate_ids_name_the_rows(raw, features):
    raw.loc[9, "customer_id"] = raw.loc[3, "customer_id"]
    message = _error(raw, features)
    assert "column 'customer_id': 2 rows share a duplicate id" in message
    assert "row 3 (customer_id C0000004), row 9 (customer_id C0000004)" in message


def test_missing_id(raw, features):
    raw.loc[5, "customer_id"] = None
    message = _error(raw, features)
    assert "column 'customer_id': 1 row without an id" in message
    assert "row 5" in message


@pytest.mark.parametrize("column", ["customer_id", "activity_per_week", "product_category"])
def test_entirely_null_column(raw, features, column):
    raw[column] = None
    message = _error(raw, features)
    assert f"column '{column}': every value is missing" in message
    assert len(message.splitlines()) == 2, "one line for the column, not one per row"


def test_all_problems_reported_at_once(raw, features):
    raw = raw.drop(columns=["age"])
    raw.loc[2, "customer_id"] = raw.loc[1, "customer_id"]
    message = _error(raw, features)
    assert "column 'age' is missing" in message
    assert "duplicate id" in message


def test_missing_values_are_counted_in_the_log(raw, features, caplog):
    raw.loc[:9, "spending_score"] = np.nan
    expected = int(raw["spending_score"].isna().sum())
    with caplog.at_level(logging.WARNING):
        validate_customers(raw, features, K_MAX)
    assert f"'spending_score' has {expected} missing values" in caplog.text


def test_raw_input_is_not_modified(raw, features):
    before = raw.copy()
    validated = validate_customers(raw, features, K_MAX)
    encode_features(validated, fit_preprocessor(validated, features, {}), features["id_column"])
    pd.testing.assert_frame_equal(raw, before)


def test_encoding_scales_imputes_and_one_hot_encodes(raw, features):
    raw.loc[:4, "annual_income"] = np.nan
    validated = validate_customers(raw, features, K_MAX)
    preprocessor = fit_preprocessor(validated, features, {})
    encoded = encode_features(validated, preprocessor, features["id_column"])
    one_hot = [f"product_category_{c}" for c in features["categorical"]["product_category"]]
    assert list(encoded.columns) == ["customer_id", *features["numeric"], *one_hot]
    assert encoded["customer_id"].tolist() == raw["customer_id"].tolist()
    assert not encoded.drop(columns="customer_id").isna().any().any()
    np.testing.assert_allclose(encoded[features["numeric"]].mean(), 0, atol=1e-9)
    np.testing.assert_allclose(encoded[features["numeric"]].std(ddof=0), 1, atol=1e-9)
    assert (encoded[one_hot].sum(axis=1) == 1).all()


def test_categories_are_fixed_by_parameters(raw, features):
    """A category absent from a batch keeps its column; an unseen one gets zeros."""
    validated = validate_customers(raw, features, K_MAX)
    preprocessor = fit_preprocessor(
        validated[validated["product_category"] != "beauty"], features, {}
    )
    batch = validated.head(3).copy()
    batch["product_category"] = ["garden", None, "fashion"]
    encoded = encode_features(batch, preprocessor, features["id_column"])
    one_hot = encoded.filter(like="product_category_")
    assert "product_category_beauty" in one_hot.columns
    assert one_hot.sum(axis=1).tolist() == [0.0, 0.0, 1.0]


def test_no_categorical_features(raw, features):
    numeric_only = {**features, "categorical": {}}
    validated = validate_customers(raw, numeric_only, K_MAX)
    encoded = encode_features(
        validated, fit_preprocessor(validated, numeric_only, {}), numeric_only["id_column"]
    )
    assert list(encoded.columns) == ["customer_id", *features["numeric"]]


def test_defaults_from_parameters_change_nothing(raw, features, preprocessing_params):
    validated = validate_customers(raw, features, K_MAX)
    pd.testing.assert_frame_equal(
        encode_features(
            validated,
            fit_preprocessor(validated, features, preprocessing_params),
            features["id_column"],
        ),
        encode_features(
            validated, fit_preprocessor(validated, features, {}), features["id_column"]
        ),
    )


def test_log_columns_are_compressed_before_scaling(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    settings = {"log_columns": ["annual_income", "average_order_value"]}
    encoded = encode_features(
        validated, fit_preprocessor(validated, features, settings), features["id_column"]
    )
    income = np.log1p(validated["annual_income"].fillna(validated["annual_income"].median()))
    expected = (income - income.mean()) / income.std(ddof=0)
    np.testing.assert_allclose(encoded["annual_income"], expected, atol=1e-9)
    assert abs(encoded["average_order_value"].skew()) < abs(validated["average_order_value"].skew())
    assert set(encoded.columns) == set(
        encode_features(
            validated, fit_preprocessor(validated, features, {}), features["id_column"]
        ).columns
    )


def test_log_columns_must_be_non_negative_numeric_features(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    with pytest.raises(ValueError, match="'product_category', which is not one of the numeric"):
        fit_preprocessor(validated, features, {"log_columns": ["product_category"]})
    validated.loc[3, "annual_income"] = -5.0
    with pytest.raises(
        InvalidCustomerDataError, match=r"'annual_income': 1 negative values \(first in row 3\)"
    ):
        fit_preprocessor(validated, features, {"log_columns": ["annual_income"]})


def test_categorical_weight_scales_the_one_hot_columns(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    encoded = encode_features(
        validated,
        fit_preprocessor(validated, features, {"categorical_weight": 0.5}),
        features["id_column"],
    )
    one_hot = encoded.filter(like="product_category_")
    assert (one_hot.sum(axis=1) == 0.5).all()
    np.testing.assert_allclose(encoded[features["numeric"]].std(ddof=0), 1, atol=1e-9)


def test_optional_pca_keeps_the_requested_variance(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    preprocessor = fit_preprocessor(validated, features, {"pca_components": 0.9, "random_seed": 0})
    encoded = encode_features(validated, preprocessor, features["id_column"])
    explained = preprocessor.named_steps["pca"].explained_variance_ratio_
    assert explained.sum() >= 0.9
    assert list(encoded.columns) == ["customer_id", *[f"pca{i}" for i in range(len(explained))]]
    assert len(explained) < len(features["numeric"]) + 4
