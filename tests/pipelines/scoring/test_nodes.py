import numpy as np
import pandas as pd
import pytest

from customer_segmentation.engines import by_engine
from customer_segmentation.features import InvalidCustomerDataError
from customer_segmentation.pipelines.preprocessing.nodes import validate_customers
from customer_segmentation.pipelines.scoring import create_pipeline
from customer_segmentation.pipelines.scoring.kernels import TooManyRejectsError
from customer_segmentation.pipelines.scoring.nodes import (
    check_reject_share,
    filled_counts,
    score_customers,
    screen_customers_to_score,
)
from tests.conftest import PROJECT_ROOT, base_parameters, node_function, train_and_profile

# The blocks of conf/base, validated, as the nodes receive them.
SCORING = base_parameters()["scoring"]
NAMING = base_parameters()["segment_analysis"]["naming"]
# The nodes as the pipeline wires them, for the tests run on both engines.
PIPELINE = create_pipeline()
screen_on_engine = node_function(PIPELINE, "screen_customers_to_score")
score_on_engine = node_function(PIPELINE, "score_customers")
check_on_engine = node_function(PIPELINE, "check_reject_share")
filled_counts_on_engine = by_engine(
    filled_counts, "customer_segmentation.pipelines.scoring.spark_nodes.filled_counts"
)
EXAMPLE_BATCH = PROJECT_ROOT / "data" / "01_raw" / "examples" / "customers_to_score.csv"


@pytest.fixture(scope="module")
def trained(customers, features, model_selection_params):
    params = {**model_selection_params, "n_init": 3}
    _, model, profiles = train_and_profile(customers, features, params, NAMING)
    return model, profiles


def test_every_row_is_scored_or_rejected_with_its_reason(trained, features):
    model, profiles = trained
    batch = pd.read_csv(EXAMPLE_BATCH, dtype={"customer_id": str}, skip_blank_lines=False)
    scorable, rejects = screen_customers_to_score(batch, model, features, SCORING)
    assert len(scorable) + len(rejects) == len(batch)
    reasons = rejects.set_index("line")["reason"].to_dict()  # the file's own lines
    assert reasons[5] == "missing customer_id"
    assert reasons[8] == reasons[9] == "duplicate customer_id in this batch"
    assert reasons[17] == "column 'annual_income' is not a number: 'forty thousand'"
    assert reasons[21].startswith("column 'average_order_value' value 25000000 is outside")
    assert reasons[25] == "no feature values"
    assert reasons[32] == "blank line"
    assert set(reasons) == {5, 8, 9, 17, 21, 25, 32}
    assert {"X-17", "C9000028"} <= set(scorable["customer_id"])  # any id format; unseen category
    assert scorable["annual_income"].dtype == np.float64

    scored = score_customers(scorable, model, None, profiles, "customer_id")
    assert len(scored) == len(scorable)
    assert scored["customer_id"].tolist() == scorable["customer_id"].tolist()
    names = profiles.set_index("segment")["name"]
    assert (scored["segment_name"] == scored["segment"].map(names)).all()
    assert set(scored["model_version"]) == {"unversioned"}
    check_reject_share(scored, rejects, SCORING["max_reject_share"])  # 7 of 201: 3.5%


def test_an_id_pattern_and_bounds_reject_rows(trained, features, customers):
    model, _ = trained
    batch = customers.drop(columns="persona").head(10).copy()
    batch.loc[2, "customer_id"] = "X-17"
    batch.loc[4, "age"] = -3
    bounded = {**features, "bounds": {"age": [0, 120]}}
    _, rejects = screen_customers_to_score(
        batch, model, bounded, {**SCORING, "id_pattern": r"C\d{7,}"}
    )
    reasons = rejects.set_index("line")["reason"].to_dict()
    assert reasons[4] == "unknown id format: expected ids matching " + repr(r"C\d{7,}")
    assert reasons[6] == "column 'age' value -3 is outside its bounds [0, 120]"


def test_a_batch_with_too_many_rejects_fails_the_run(trained, features, customers, engine):
    model, profiles = trained
    batch = customers.drop(columns="persona").head(20).astype({"annual_income": object})
    batch.loc[::2, "annual_income"] = "unknown"  # half the batch
    scorable, rejects = screen_on_engine(engine.frame(batch), model, features, SCORING)
    scored = score_on_engine(scorable, model, None, profiles, "customer_id")
    assert len(engine.pandas(rejects)) == 10
    with pytest.raises(TooManyRejectsError, match=r"rejected 10 of 20 customers \(50%"):
        check_on_engine(scored, rejects, 0.05)


def test_the_training_customers_are_all_scored(trained, customers, features):
    """Extreme but real training values (an income of 666,666) are never
    rejected: only values outside the training range can be."""
    model, _ = trained
    batch = customers.drop(columns="persona")
    _, rejects = screen_customers_to_score(batch, model, features, SCORING)
    assert rejects.empty


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


def test_a_batch_without_the_feature_columns_is_a_configuration_error(trained, features, engine):
    batch = pd.DataFrame({"customer_id": ["C0000001"], "annual_income": [1.0]})
    with pytest.raises(InvalidCustomerDataError, match="lacks the columns"):
        screen_on_engine(engine.frame(batch), trained[0], features, SCORING)


def test_names_must_come_from_the_same_model(trained, features, customers, engine):
    model, profiles = trained
    other = profiles.assign(model_fingerprint="0123456789abcdef")
    scorable, _ = screen_on_engine(
        engine.frame(
            customers.drop(columns="persona")
            .head(5)
            .assign(customer_id=[f"C{7000000 + i}" for i in range(5)])
        ),
        model,
        features,
        SCORING,
    )
    with pytest.raises(ValueError, match="made with another segmentation_model"):
        score_on_engine(scorable, model, None, other, "customer_id")


def test_an_empty_batch_scores_nothing(trained, features, customers):
    model, profiles = trained
    empty = customers.drop(columns="persona").head(0)
    scorable, rejects = screen_customers_to_score(empty, model, features, SCORING)
    assert scorable.empty and rejects.empty
    assert score_customers(scorable, model, None, profiles, "customer_id").empty


def test_filled_values_are_named_per_row_and_counted(trained, features, customers, caplog):
    """A value the model fills (training median, category "missing") is
    visible: the scored row names its filled columns, the log counts them."""
    model, profiles = trained
    batch = customers.drop(columns="persona").head(6).copy()
    batch.loc[1, "annual_income"] = np.nan
    batch.loc[2, ["age", "product_category"]] = [np.nan, None]
    batch.loc[3, "annual_income"] = np.nan
    complete = batch.drop(index=[1, 2, 3])[features["numeric"] + features["categorical"]]
    assert complete.notna().all().all()  # the other rows have every value
    with caplog.at_level("INFO"):
        scorable, rejects = screen_customers_to_score(batch, model, features, SCORING)
        scored = score_customers(scorable, model, None, profiles, "customer_id")
    assert rejects.empty
    filled = scored.set_index("customer_id")["filled"]
    ids = batch["customer_id"].tolist()
    assert filled[ids[1]] == "annual_income"
    assert filled[ids[2]] == "age, product_category"
    assert filled[ids[3]] == "annual_income"
    assert (filled[[ids[0], ids[4], ids[5]]] == "").all()
    assert filled_counts(scored) == {"annual_income": 2, "age": 1, "product_category": 1}
    assert "values filled {'annual_income': 2, 'age': 1, 'product_category': 1}" in caplog.text


@pytest.mark.parametrize("value", [np.inf, -np.inf, "inf", "-Infinity"])
def test_a_non_finite_number_is_a_reject_naming_the_column(trained, features, customers, value):
    """inf as a number or as text used to crash the scaling step."""
    model, profiles = trained
    batch = customers.drop(columns="persona").head(5).astype({"average_order_value": object})
    batch.loc[3, "average_order_value"] = value
    scorable, rejects = screen_customers_to_score(batch, model, features, SCORING)
    assert rejects["line"].tolist() == [3 + SCORING["first_line"]]
    assert (
        rejects["reason"]
        .iloc[0]
        .startswith("column 'average_order_value' is not a finite number: ")
    )
    assert "inf" in rejects["reason"].iloc[0]
    assert len(score_customers(scorable, model, None, profiles, "customer_id")) == 4


def test_non_finite_rejects_and_filled_values_match_one_machine(
    trained, features, customers, engine
):
    """On either engine, the same rejects and filled values as the pandas
    nodes give (Spark screens and scores each Arrow batch with them)."""
    model, profiles = trained
    batch = customers.drop(columns="persona").head(8).astype({"annual_income": object})
    batch.loc[1, "annual_income"] = "inf"
    batch.loc[2, "annual_income"] = np.nan
    batch.loc[3, "age"] = np.nan
    local_scorable, local_rejects = screen_customers_to_score(batch, model, features, SCORING)
    local = score_customers(local_scorable, model, None, profiles, "customer_id")

    scorable, rejects = screen_on_engine(engine.frame(batch), model, features, SCORING)
    scored = score_on_engine(scorable, model, None, profiles, "customer_id")

    reasons = engine.pandas(rejects).set_index("customer_id")["reason"].to_dict()
    assert reasons == local_rejects.set_index("customer_id")["reason"].to_dict()
    assert reasons == {
        batch.at[1, "customer_id"]: "column 'annual_income' is not a finite number: inf"
    }
    filled = engine.pandas(scored).set_index("customer_id")["filled"].sort_index()
    assert filled.to_dict() == local.set_index("customer_id")["filled"].sort_index().to_dict()
    counts = filled_counts(local)
    assert filled_counts_on_engine(scored) == counts == {"annual_income": 1, "age": 1}
