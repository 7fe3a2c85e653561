import numpy as np
import pandas as pd
import pytest
import yaml

from customer_segmentation.features import InvalidCustomerDataError
from customer_segmentation.pipelines.preprocessing.nodes import validate_customers
from customer_segmentation.pipelines.scoring.nodes import (
    score_customers,
    screen_customers_to_score,
)
from tests.conftest import BASE_CONF, PROJECT_ROOT, train_and_profile

SCORING = yaml.safe_load((BASE_CONF / "parameters_scoring.yml").read_text())["scoring"]
NAMING = yaml.safe_load((BASE_CONF / "parameters_segment_analysis.yml").read_text())[
    "segment_analysis"
]["naming"]
EXAMPLE_BATCH = PROJECT_ROOT / "data" / "01_raw" / "examples" / "customers_to_score.csv"


@pytest.fixture(scope="module")
def trained(customers, features, model_selection_params):
    params = {**model_selection_params, "n_init": 3}
    _, model, profiles = train_and_profile(customers, features, params, NAMING)
    return model, profiles


def test_every_row_is_scored_or_rejected_with_its_reason(trained, features):
    model, profiles = trained
    batch = pd.read_csv(EXAMPLE_BATCH)
    scorable, rejects = screen_customers_to_score(batch, model, features, SCORING)
    assert len(scorable) + len(rejects) == len(batch)
    reasons = rejects.set_index("row")["reason"].to_dict()
    assert reasons[3] == "missing customer id"
    assert reasons[6] == reasons[7] == "duplicate customer id in this batch"
    assert reasons[11].startswith("unknown id format")
    assert reasons[15] == "column 'annual_income' is not a number: 'forty thousand'"
    assert reasons[19].startswith("column 'average_order_value' value 2.5e+07 is outside")
    assert reasons[23] == "no feature values"
    assert set(reasons) == {3, 6, 7, 11, 15, 19, 23}
    assert 27 in scorable.index  # an unseen category is scored, not rejected
    assert scorable["annual_income"].dtype == np.float64

    scored = score_customers(scorable, model, None, profiles, "customer_id")
    assert len(scored) == len(scorable)
    assert scored["customer_id"].tolist() == scorable["customer_id"].tolist()
    names = profiles.set_index("segment")["name"]
    assert (scored["segment_name"] == scored["segment"].map(names)).all()
    assert set(scored["model_version"]) == {"unversioned"}


def test_scoring_matches_training(trained, customers, features):
    model, profiles = trained
    batch = customers.drop(columns="persona").head(100)
    batch = batch.assign(customer_id=[f"C{8000000 + i}" for i in range(100)])
    scorable, rejects = screen_customers_to_score(batch, model, features, SCORING)
    assert rejects.empty
    scored = score_customers(scorable, model, "2026-01-01T00.00.00.000Z", profiles, "customer_id")
    assert set(scored["model_version"]) == {"2026-01-01T00.00.00.000Z"}
    np.testing.assert_array_equal(
        scored["segment"], model.predict(validate_customers(batch, features, 1))
    )


def test_a_batch_without_the_feature_columns_is_a_configuration_error(trained, features):
    batch = pd.DataFrame({"customer_id": ["C0000001"], "annual_income": [1.0]})
    with pytest.raises(InvalidCustomerDataError, match="lacks the columns"):
        screen_customers_to_score(batch, trained[0], features, SCORING)


def test_names_must_come_from_the_same_model(trained, features, customers):
    model, profiles = trained
    other = profiles.assign(model_fingerprint="0123456789abcdef")
    scorable, _ = screen_customers_to_score(
        customers.drop(columns="persona")
        .head(5)
        .assign(customer_id=[f"C{7000000 + i}" for i in range(5)]),
        model,
        features,
        SCORING,
    )
    with pytest.raises(ValueError, match="made with another segmentation_model"):
        score_customers(scorable, model, None, other, "customer_id")


def test_an_empty_batch_scores_nothing(trained, features, customers):
    model, profiles = trained
    empty = customers.drop(columns="persona").head(0)
    scorable, rejects = screen_customers_to_score(empty, model, features, SCORING)
    assert scorable.empty and rejects.empty
    assert score_customers(scorable, model, None, profiles, "customer_id").empty
