import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer

from customer_segmentation import encoding
from customer_segmentation.features import (
    FeatureSpec,
    InvalidCustomerDataError,
    validate_customer_table,
)
from customer_segmentation.parameters import Preprocessing
from customer_segmentation.pipelines.preprocessing import create_pipeline
from customer_segmentation.pipelines.preprocessing.nodes import (
    encode_features,
    fit_preprocessor,
    validate_customers,
)
from tests.conftest import base_parameters, filled, node_function

K_MAX = 10
# The nodes as the pipeline wires them, for the tests run on both engines.
validate_on_engine = node_function(create_pipeline(), "validate_customers")
fit_on_engine = node_function(create_pipeline(), "fit_preprocessor")
encode_on_engine = node_function(create_pipeline(), "encode_features")


# The preprocessing block of conf/base, validated, as the nodes receive it.
PREPROCESSING = base_parameters()["preprocessing"]


def preprocessing(**values) -> dict:
    """The full preprocessing block with a test's own ``values``."""
    return {**PREPROCESSING, **values}


@pytest.fixture
def raw(customers):
    return customers.copy()


def _error(raw, features, min_rows=K_MAX) -> str:
    with pytest.raises(InvalidCustomerDataError) as excinfo:
        validate_customers(raw, features, min_rows)
    return str(excinfo.value)


def test_valid_table_passes_with_numeric_columns_coerced(raw, features, engine):
    raw["age"] = raw["age"].astype(str).replace("nan", None)  # numbers as text, as CSVs have
    validated = engine.pandas(validate_on_engine(engine.frame(raw), features, K_MAX))
    assert validated["age"].dtype == np.float64
    # Only the columns the features contract names are kept, in its order.
    assert list(validated.columns) == [c for c in raw.columns if c != "persona"]
    assert len(validated) == len(raw)


def test_missing_feature_column_is_named(raw, features, engine):
    with pytest.raises(InvalidCustomerDataError) as excinfo:
        validate_on_engine(engine.frame(raw.drop(columns=["spending_score"])), features, K_MAX)
    message = str(excinfo.value)
    assert "column 'spending_score' is missing" in message


def test_text_in_numeric_column_names_column_row_and_value(raw, features):
    raw["annual_income"] = raw["annual_income"].astype(object)
    raw.loc[4, "annual_income"] = "forty thousand"
    message = _error(raw, features)
    assert "column 'annual_income': expected a number, got 'forty thousand'" in message
    assert f"line 5 (customer_id {raw.loc[4, 'customer_id']})" in message  # first row: line 1


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
    assert "line 4 (customer_id C0000004), line 10 (customer_id C0000004)" in message


def test_missing_id(raw, features):
    raw.loc[5, "customer_id"] = None
    message = _error(raw, features)
    assert "column 'customer_id': 1 row without an id" in message
    assert "line 6" in message


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
    encode_features(
        validated, fit_preprocessor(validated, features, preprocessing()), features["id_column"]
    )
    pd.testing.assert_frame_equal(raw, before)


def test_encoding_scales_imputes_and_one_hot_encodes(raw, features, engine):
    raw.loc[:4, "annual_income"] = np.nan
    validated = validate_on_engine(engine.frame(raw), features, K_MAX)
    preprocessor = fit_on_engine(validated, features, preprocessing(clip_quantile=0))
    encoded = engine.pandas(encode_on_engine(validated, preprocessor, features["id_column"]))
    categories = sorted(raw["product_category"].unique())  # learned from the data
    one_hot = [f"product_category_{c}" for c in [*categories, "other"]]
    assert encoded.columns[0] == "customer_id"
    assert set(encoded.columns[1 : -len(one_hot)]) == set(features["numeric"])
    assert list(encoded.columns[-len(one_hot) :]) == one_hot
    assert encoded["customer_id"].tolist() == raw["customer_id"].tolist()
    assert not encoded.drop(columns="customer_id").isna().any().any()
    np.testing.assert_allclose(encoded[features["numeric"]].mean(), 0, atol=1e-9)
    np.testing.assert_allclose(encoded[features["numeric"]].std(ddof=0), 1, atol=1e-9)
    # k-prototypes weighting: one column of 0.5 per row, so customers in two
    # different categories are 2 * 0.5^2 = 0.5 apart in squared distance.
    assert (encoded[one_hot].sum(axis=1) == 0.5).all()
    assert (encoded[one_hot].gt(0).sum(axis=1) == 1).all()


def test_categories_are_learned_and_rare_or_unseen_ones_are_other(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    rare = validated.assign(
        product_category=validated["product_category"]
        .astype(object)
        .where(validated.index >= 3, "gadgets")
    )
    preprocessor = fit_preprocessor(
        rare, features, preprocessing(min_category_share=0.01, categorical_weight=1)
    )
    batch = validated.head(3).copy()
    batch["product_category"] = ["garden", None, "fashion"]
    encoded = encode_features(batch, preprocessor, features["id_column"]).filter(
        like="product_category_"
    )
    # "gadgets" (3 of 600 rows) is rare: it, the unseen "garden" and a missing
    # value (never missing in training) are all "other".
    assert "product_category_gadgets" not in encoded.columns
    assert encoded["product_category_other"].tolist() == [1.0, 1.0, 0.0]
    assert encoded["product_category_fashion"].tolist() == [0.0, 0.0, 1.0]
    assert encoded.sum(axis=1).tolist() == [1.0, 1.0, 1.0]


def test_pinned_categories_keep_their_columns(raw, features):
    pinned = {**features, "categories": {"product_category": ["beauty", "fashion", "toys"]}}
    validated = validate_customers(raw, pinned, K_MAX)
    preprocessor = fit_preprocessor(validated, pinned, preprocessing())
    encoded = encode_features(validated, preprocessor, "customer_id").filter(
        like="product_category_"
    )
    assert list(encoded.columns) == [
        "product_category_beauty",
        "product_category_fashion",
        "product_category_toys",
    ]


def test_a_pinned_category_written_otherwise_is_an_error(raw, features):
    pinned = {**features, "categories": {"product_category": ["Beauty", "fashion"]}}
    message = _error(raw, pinned)
    assert "pinned category 'Beauty' is written 'beauty' in the data" in message
    nothing = {**features, "categories": {"product_category": ["toys"]}}
    message = _error(raw, nothing)
    assert "none of the pinned categories ['toys'] occurs in the data" in message
    assert "'beauty'" in message  # the values seen


def test_constant_and_near_constant_features_are_refused(raw, features):
    raw["age"] = 40.0
    raw["activity_per_week"] = raw["activity_per_week"].where(raw.index < 3, 1.0)
    message = _error(raw, features)
    assert "column 'age': 100.0% of the rows hold 40, so it cannot separate segments" in message
    assert "column 'activity_per_week': 99.5% of the rows hold 1" in message


def test_bounds_are_errors_naming_values_and_lines(raw, features):
    bounded = {**features, "bounds": {"age": [0, 120], "annual_income": [0, None]}}
    raw.loc[2, "age"] = -4
    raw.loc[7, "annual_income"] = -100
    message = _error(raw, bounded)
    assert "column 'age': -4 outside its bounds [0, 120] (features.bounds) in 1 row: line 3" in (
        message
    )
    assert "column 'annual_income': -100 outside its bounds [0, none]" in message


def test_ids_stay_text_and_rows_can_be_numbered(raw, features):
    raw["customer_id"] = [f"{i:04d}" for i in range(len(raw))]
    validated = validate_customers(raw, features, K_MAX)
    assert validated["customer_id"].iloc[:2].tolist() == ["0000", "0001"]
    numbered = validate_customers(
        raw.drop(columns="customer_id"), {**features, "id_column": None}, K_MAX
    )
    assert numbered["row_number"].iloc[:3].tolist() == ["1", "2", "3"]


def test_wrong_separator_is_named(features):
    semicolons = pd.DataFrame({"customer_id;annual_income;age": ["C1;2;3"] * 20})
    message = _error(semicolons, features)
    assert "seems to be separated by ';'" in message
    assert "load_args: {sep: ';'}" in message


def test_blank_lines_are_skipped_and_counted(raw, features, caplog):
    blank = pd.DataFrame([[None] * len(raw.columns)], columns=raw.columns)
    with_blank = pd.concat([raw.head(20), blank, raw.iloc[20:]], ignore_index=True)
    with caplog.at_level(logging.WARNING):
        validated = validate_customers(with_blank, features, K_MAX, first_line=2)
    assert len(validated) == len(raw)
    assert "Skipped 1 blank lines of raw_customers (lines [22])" in caplog.text


def test_no_categorical_features(raw, features):
    numeric_only = {**features, "categorical": []}
    validated = validate_customers(raw, numeric_only, K_MAX)
    encoded = encode_features(
        validated,
        fit_preprocessor(validated, numeric_only, preprocessing()),
        numeric_only["id_column"],
    )
    assert set(encoded.columns) == {"customer_id", *features["numeric"]}


def test_defaults_from_parameters_change_nothing(raw, features, preprocessing_params):
    validated = validate_customers(raw, features, K_MAX)
    pd.testing.assert_frame_equal(
        encode_features(
            validated,
            fit_preprocessor(validated, features, preprocessing_params),
            features["id_column"],
        ),
        encode_features(
            validated,
            fit_preprocessor(validated, features, filled(Preprocessing, {"first_line": 1})),
            features["id_column"],
        ),
    )


def test_skewed_columns_are_transformed_as_the_data_says(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    validated["activity_per_week"] = validated["activity_per_week"] - 5  # skewed, negatives
    validated["activity_per_week"] = np.where(
        validated.index < 30, validated["activity_per_week"] * 8, validated["activity_per_week"]
    )
    preprocessor = fit_preprocessor(validated, features, preprocessing(clip_quantile=0))
    transforms = preprocessor.transforms_
    assert transforms["average_order_value"] == "log1p"  # money: log-normal personas
    assert transforms["spending_score"] == "none"  # a 1-100 score, nearly symmetric
    assert transforms["activity_per_week"] == "yeo-johnson"  # negative values
    encoded = encode_features(validated, preprocessor, features["id_column"])
    value = np.log1p(
        validated["average_order_value"].fillna(validated["average_order_value"].median())
    )
    np.testing.assert_allclose(
        encoded["average_order_value"], (value - value.mean()) / value.std(ddof=0), atol=1e-9
    )
    assert abs(encoded["activity_per_week"].skew()) < abs(validated["activity_per_week"].skew())


def test_transforms_can_be_set_per_column_and_log1p_needs_non_negative_values(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    settings = {"transforms": {"average_order_value": "none", "age": "yeo-johnson"}}
    transforms = fit_preprocessor(validated, features, preprocessing(**settings)).transforms_
    assert (transforms["average_order_value"], transforms["age"]) == ("none", "yeo-johnson")
    with pytest.raises(ValueError, match=r"names \['product_category'\], which are not numeric"):
        fit_preprocessor(
            validated, features, preprocessing(transforms={"product_category": "log1p"})
        )
    validated.loc[3, "annual_income"] = -5.0
    with pytest.raises(
        InvalidCustomerDataError, match=r"'annual_income': 1 negative values \(first in row 3\)"
    ):
        fit_preprocessor(validated, features, preprocessing(transforms={"annual_income": "log1p"}))


def test_extreme_values_are_clipped_at_fitted_quantiles(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    validated.loc[0, "spending_score"] = 10_000  # a unit error, say
    preprocessor = fit_preprocessor(validated, features, preprocessing(clip_quantile=0.01))
    encoded = encode_features(validated, preprocessor, features["id_column"])
    score = encoded["spending_score"]
    assert score.iloc[0] == score.max()
    assert score.max() < 3  # at the 99th percentile, not 400 SD away
    assert (score == score.max()).mean() == pytest.approx(0.01, abs=0.005)
    unclipped = fit_preprocessor(validated, features, preprocessing(clip_quantile=0))
    assert encode_features(validated, unclipped, "customer_id")["spending_score"].max() > 5


def test_categorical_weight_scales_the_one_hot_columns(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    encoded = encode_features(
        validated,
        fit_preprocessor(
            validated, features, preprocessing(categorical_weight=0.5, clip_quantile=0)
        ),
        features["id_column"],
    )
    one_hot = encoded.filter(like="product_category_")
    assert (one_hot.sum(axis=1) == 0.5).all()
    np.testing.assert_allclose(encoded[features["numeric"]].std(ddof=0), 1, atol=1e-9)


def test_optional_pca_keeps_the_requested_variance(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    preprocessor = fit_preprocessor(
        validated, features, preprocessing(pca_components=0.9, random_seed=0)
    )
    encoded = encode_features(validated, preprocessor, features["id_column"])
    explained = preprocessor.pca_.explained_variance_ratio_
    assert explained.sum() >= 0.9
    assert list(encoded.columns) == ["customer_id", *[f"pca{i}" for i in range(len(explained))]]
    assert len(explained) < len(features["numeric"]) + 4


def test_large_tables_are_fitted_on_a_sample_but_all_rows_are_encoded(raw, features):
    validated = validate_customers(raw, features, K_MAX)
    settings = {"fit_sample_size": 1000, "random_seed": 3}
    full = fit_preprocessor(validated, features, preprocessing())
    sampled = fit_preprocessor(
        validated, features, preprocessing(**{**settings, "fit_sample_size": 100_000})
    )
    pd.testing.assert_frame_equal(
        encode_features(validated, full, "customer_id"),
        encode_features(validated, sampled, "customer_id"),
    )  # not larger than the sample: every row
    small = fit_preprocessor(
        validated, features, preprocessing(**{**settings, "fit_sample_size": 200})
    )
    scaler = small.columns_.named_transformers_["numeric"].named_steps["scale"]
    assert small.columns_.named_transformers_["numeric"].feature_names_in_[0] == "spending_score"
    subset = validated.sample(200, random_state=3)["spending_score"]
    assert scaler.mean_[0] == pytest.approx(subset.fillna(subset.median()).mean())
    assert len(encode_features(validated, small, "customer_id")) == len(validated)


def test_median_imputer_fills_the_medians_simple_imputer_would():
    """model.MedianImputer (selection, not a sort) gives SimpleImputer's medians
    and output, odd and even counts and whole numbers included."""
    rng = np.random.default_rng(0)
    for rows in (9, 10, 1001):
        values = rng.lognormal(size=(rows, 3))
        values[:, 2] = np.round(values[:, 2] * 3)
        values[rng.random((rows, 3)) < 0.1] = np.nan
        expected = SimpleImputer(strategy="median").fit(values)
        imputer = encoding.MedianImputer().fit(values)
        np.testing.assert_array_equal(imputer.statistics_, expected.statistics_)
        np.testing.assert_array_equal(imputer.transform(values), expected.transform(values))


def test_infinite_numbers_are_missing_values_named_in_the_log(raw, features, caplog):
    """A division by zero in an export: inf as floats or as texts, in a
    feature and in a profile-only column, before and after a blank line."""
    profiled = {**features, "profile_only": {"numeric": ["visits"]}}
    raw["visits"] = 1.0
    raw["age"] = raw["age"].astype(object)
    raw.loc[[4, 8], "annual_income"] = [np.inf, -np.inf]
    raw.loc[[3, 5, 9], "age"] = ["inf", "-Infinity", " INF "]
    raw.loc[6, "visits"] = np.inf
    blank = pd.DataFrame([[None] * len(raw.columns)], columns=raw.columns)
    table = pd.concat([raw.head(5), blank, raw.iloc[5:]], ignore_index=True)
    with caplog.at_level(logging.WARNING):
        validated = validate_customers(table, profiled, K_MAX, first_line=2)
    assert (
        "raw_customers, column 'annual_income': 2 values were infinite (lines 6, 11): "
        "treated as missing" in caplog.text
    )
    assert "column 'age': 3 values were infinite (lines 5, 8, 12)" in caplog.text
    assert "column 'visits': 1 value was infinite (line 9)" in caplog.text
    assert "Column 'annual_income' has 2 missing values" in caplog.text
    assert validated.loc[[4, 8], "annual_income"].isna().all()
    assert validated.loc[[3, 5, 9], "age"].isna().all() and validated["age"].dtype == float
    assert np.isfinite(validated[["annual_income", "age", "visits"]].dropna()).all().all()
    assert raw.loc[4, "annual_income"] == np.inf  # the source is not changed
    preprocessor = fit_preprocessor(validated, profiled, preprocessing())
    encoded = encode_features(validated, preprocessor, features["id_column"])
    assert np.isfinite(encoded.drop(columns="customer_id").to_numpy(float)).all()


def test_infinite_numbers_never_reach_the_fit_on_either_engine(raw, features, engine, caplog):
    bounded = {**features, "bounds": {"annual_income": [0, None]}}
    raw["age"] = raw["age"].astype(object)
    raw.loc[[4, 8], "annual_income"] = [np.inf, -np.inf]
    raw.loc[3, "age"] = "inf"
    with caplog.at_level(logging.WARNING):
        validated = validate_on_engine(engine.frame(raw), bounded, K_MAX)
        preprocessor = fit_on_engine(validated, bounded, preprocessing())
        encoded = engine.pandas(encode_on_engine(validated, preprocessor, features["id_column"]))
    assert "column 'annual_income': 2 values were infinite" in caplog.text
    assert "column 'age': 1 value was infinite" in caplog.text
    assert np.isfinite(encoded.drop(columns="customer_id").to_numpy(float)).all()


def test_an_infinite_number_is_missing_before_bounds_are_checked(raw, features):
    bounded = {**features, "bounds": {"annual_income": [0, None]}}
    raw.loc[2, "annual_income"] = -np.inf
    assert np.isnan(validate_customers(raw, bounded, K_MAX).loc[2, "annual_income"])


def test_problems_after_a_blank_line_name_the_source_line(raw, features):
    raw["age"] = raw["age"].astype(object)
    raw.loc[30, "age"] = "forty"
    blank = pd.DataFrame([[None] * len(raw.columns)], columns=raw.columns)
    with_blank = pd.concat([raw.head(20), blank, raw.iloc[20:]], ignore_index=True)
    with pytest.raises(InvalidCustomerDataError, match=r"'forty' in 1 row: line 33 "):
        validate_customers(with_blank, features, K_MAX, first_line=2)


def test_validation_makes_infinite_numbers_missing_and_keeps_other_errors(caplog):
    spec = FeatureSpec.parse(
        {"id_column": "id", "numeric": ["spend", "visits"], "categorical": ["channel"]}
    )
    table = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "spend": [1.0, np.inf, 2.0, 3.0, 4.0],
            "visits": ["1", "Infinity", "-inf", "1e999", "2"],
            "channel": ["inf", "web", "shop", "web", "shop"],
        }
    )
    with caplog.at_level(logging.WARNING):
        validated = validate_customer_table(table, spec, 2, "customers", 2)
    assert validated["spend"].tolist()[:1] == [1.0] and np.isnan(validated.at[1, "spend"])
    assert validated["visits"].isna().tolist() == [False, True, True, True, False]
    assert validated["channel"].tolist() == table["channel"].tolist()  # text stays text
    assert "customers, column 'visits': 3 values were infinite (lines 3, 4, 5)" in caplog.text
    assert table.at[1, "spend"] == np.inf
    table.loc[0, "visits"] = "lots"
    with pytest.raises(InvalidCustomerDataError, match="column 'visits': expected a number"):
        validate_customer_table(table, spec, 2, "customers", 2)
