import numpy as np
import pandas as pd
import pytest

from customer_segmentation.pipelines.data_generation.nodes import generate_customers
from tests.conftest import make_customers

SEED_FEATURES = [
    "customer_id",
    "annual_income",
    "spending_score",
    "number_of_purchases",
    "age",
    "years_with_company",
    "average_order_value",
    "activity_per_week",
    "product_category",
    "gender",
    "city",
    "persona",
]


def test_columns_ids_and_size(customers):
    assert list(customers.columns) == SEED_FEATURES
    assert len(customers) == 600
    assert customers["customer_id"].is_unique
    assert customers["customer_id"].iloc[0] == "C0000001"


def test_same_seed_same_customers_other_seed_other_customers(generation_params):
    first = make_customers(generation_params, 300, seed=3)
    again = make_customers(generation_params, 300, seed=3)
    other = make_customers(generation_params, 300, seed=4)
    pd.testing.assert_frame_equal(first, again)
    assert not first["annual_income"].equals(other["annual_income"])


def test_values_respect_bounds_and_categories(generation_params):
    customers = make_customers(generation_params, 5000, seed=1)
    assert customers["spending_score"].dropna().between(1, 100).all()
    assert customers["age"].dropna().between(18, 90).all()
    assert (customers["number_of_purchases"].dropna() % 1 == 0).all()
    tenure_room = customers["age"] - 18
    both = customers["years_with_company"].notna() & tenure_room.notna()
    assert (customers.loc[both, "years_with_company"] <= tenure_room[both]).all()
    assert set(customers["product_category"]) == {"electronics", "fashion", "home_goods", "beauty"}
    assert set(customers["city"]) == set(generation_params["city_weights"])


def test_personas_follow_weights_and_differ(generation_params):
    customers = make_customers(generation_params, 20000, seed=2)
    weights = pd.Series({name: p["weight"] for name, p in generation_params["personas"].items()})
    shares = customers["persona"].value_counts(normalize=True)
    np.testing.assert_allclose(shares[weights.index], weights / weights.sum(), atol=0.015)
    medians = customers.groupby("persona")["annual_income"].median()
    assert medians["affluent_loyalists"] > 2 * medians["bargain_hunters"]


def test_money_is_skewed_and_correlated(generation_params):
    customers = make_customers(generation_params, 20000, seed=5)
    income = customers["annual_income"].dropna()
    assert income.skew() > 0.5  # long right tail, as real incomes have
    within = customers[customers["persona"] == "affluent_loyalists"]
    assert within["annual_income"].corr(within["average_order_value"]) > 0.3


def test_missing_value_share_blanks_numeric_cells_only(generation_params):
    params = {**generation_params, "missing_value_share": 0.1}
    customers = make_customers(params, 4000, seed=6)
    numeric = list(generation_params["numeric_bounds"])
    assert customers[numeric].isna().mean().between(0.08, 0.12).all()
    assert customers[["customer_id", "product_category", "persona"]].notna().all().all()


def test_invalid_correlation_names_the_features(generation_params):
    with pytest.raises(ValueError, match="annual_income and age"):
        generate_customers(
            100,
            0,
            generation_params["personas"],
            generation_params["numeric_bounds"],
            [["annual_income", "age", 1.5]],
            generation_params["city_weights"],
            0.0,
        )
    with pytest.raises(ValueError, match="'shoe_size'"):
        generate_customers(
            100,
            0,
            generation_params["personas"],
            generation_params["numeric_bounds"],
            [["annual_income", "shoe_size", 0.2]],
            generation_params["city_weights"],
            0.0,
        )
