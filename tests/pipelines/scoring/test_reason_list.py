"""The reject reasons a scoring run shows: numbers as the file wrote them
(no exponent for ordinary magnitudes, no ".0" for whole numbers), and
summaries that name the most common kinds of reason and count the others,
never leaving one out, the same on both engines. Small synthetic frames."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.features import FeatureSpec, InvalidCustomerDataError
from customer_segmentation.pipelines.scoring import create_pipeline
from customer_segmentation.pipelines.scoring.kernels import (
    SHOWN_COLUMNS,
    SHOWN_KINDS,
    TooManyRejectsError,
    check_batch_columns,
    not_finite,
    number_text,
    outside_bounds,
    outside_training_range,
    reason_counts,
    reason_kind,
    reasons_text,
)
from tests.conftest import base_parameters, node_function, train_and_profile

PIPELINE = create_pipeline()
screen_on_engine = node_function(PIPELINE, "screen_customers_to_score")
check_on_engine = node_function(PIPELINE, "check_reject_share")
SCORING = base_parameters()["scoring"]
NAMING = base_parameters()["segment_analysis"]["naming"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (9999999, "9999999"),
        (9999999.0, "9999999"),
        (np.int64(150), "150"),
        (np.float64(-50.0), "-50"),
        (0.5, "0.5"),
        (14.890999999999998, "14.890999999999998"),  # as ISLP's Credit.csv writes it
        (1234567.25, "1234567.25"),
        (2.5e7, "25000000"),
        (123456789012345678, "123456789012345678"),  # an integer: every digit
        (1.5e20, "1.5e+20"),  # really huge: an exponent
        (0.00001234, "1.234e-05"),  # really tiny: an exponent
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
    ],
)
def test_a_number_reads_as_written(value, text):
    assert number_text(value) == text


def test_every_reason_quotes_its_number_plainly_and_keeps_its_kind():
    spec = FeatureSpec.parse(
        {"id_column": "ID", "numeric": ["Limit"], "bounds": {"Limit": [0, None]}}
    )
    reasons = [
        outside_training_range("Limit", 9999999.0, 10.0),
        outside_bounds("Limit", -50, spec),
        outside_bounds("Limit", -0.5, spec),
        not_finite("Limit", float("-inf")),
    ]
    assert reasons == [
        "column 'Limit' value 9999999 is outside the training range "
        "(more than 10 SD from the mean)",
        "column 'Limit' value -50 is outside its bounds [0, none]",
        "column 'Limit' value -0.5 is outside its bounds [0, none]",
        "column 'Limit' is not a finite number: -inf",
    ]
    assert [reason_kind(reason) for reason in reasons] == [
        "column 'Limit' is outside the training range (more than 10 SD from the mean)",
        "column 'Limit' is outside its bounds [0, none]",
        "column 'Limit' is outside its bounds [0, none]",
        "column 'Limit' is not a finite number",
    ]


def _rejects(kinds: int) -> pd.DataFrame:
    """Rejects with ``kinds`` kinds of reason: the first kind in 3 rows, the
    others in one row each."""
    reasons = [f"missing value {kind}" for kind in range(kinds)]
    reasons = [reasons[0], reasons[0], *reasons]
    return pd.DataFrame({"ID": [f"N{i}" for i in range(len(reasons))], "reason": reasons})


def test_a_refusal_names_every_kind_of_reason_up_to_its_limit(engine):
    """The five kinds of a damaged Credit batch: the fifth used to be left out."""
    rejects = _rejects(SHOWN_KINDS)
    scored = pd.DataFrame({"ID": ["C1"]})
    with pytest.raises(TooManyRejectsError) as refused:
        check_on_engine(engine.frame(scored), engine.frame(rejects), 0.05)
    assert str(refused.value).endswith(
        ": 3 missing value 0, 1 missing value 1, 1 missing value 2, 1 missing value 3, "
        "1 missing value 4; see scoring_rejects"
    )


def test_a_refusal_counts_the_kinds_it_does_not_name(engine):
    rejects = _rejects(SHOWN_KINDS + 3)
    scored = pd.DataFrame({"ID": ["C1"]})
    with pytest.raises(TooManyRejectsError) as refused:
        check_on_engine(engine.frame(scored), engine.frame(rejects), 0.05)
    assert str(refused.value) == (
        "Scoring rejected 10 of 11 customers (91%, more than scoring.max_reject_share 5%): "
        "3 missing value 0, 1 missing value 1, 1 missing value 2, 1 missing value 3, "
        "1 missing value 4 and 3 more kinds of reason in 3 rows; see scoring_rejects"
    )


def test_the_summary_of_one_more_kind_says_kind_and_row():
    counts = reason_counts(_rejects(SHOWN_KINDS + 1)["reason"])
    assert reasons_text(counts).endswith(" and 1 more kind of reason in 1 row")


@pytest.fixture(scope="module")
def trained(customers, features, model_selection_params):
    params = {**model_selection_params, "n_init": 3}
    _, model, _ = train_and_profile(customers, features, params, NAMING)
    return model


def test_reasons_and_their_log_are_the_same_on_both_engines(
    trained, customers, features, engine, caplog
):
    """A whole number read as a float (2.5e9) shows as digits on both
    engines; the log's summary counts the kinds it does not name, as the
    refusal does."""
    features = {**features, "bounds": {"age": [0, 120], "spending_score": [0, None]}}
    batch = customers.drop(columns="persona").head(12)
    batch.loc[1, "annual_income"] = 2_500_000_000
    batch.loc[2, "age"] = 150
    batch.loc[3, "spending_score"] = -0.25
    batch.loc[4, "customer_id"] = None
    batch.loc[5, "customer_id"] = batch.loc[6, "customer_id"]
    batch.loc[7, "average_order_value"] = np.inf
    batch = batch.astype({"number_of_purchases": object})
    batch.loc[8, "number_of_purchases"] = "many"
    with caplog.at_level(logging.INFO):
        _, rejects = screen_on_engine(engine.frame(batch), trained, features, SCORING)

    reasons = sorted(engine.pandas(rejects)["reason"])
    assert reasons == [
        "column 'age' value 150 is outside its bounds [0, 120]",
        "column 'annual_income' value 2500000000 is outside the training range "
        "(more than 10 SD from the mean)",
        "column 'average_order_value' is not a finite number: inf",
        "column 'number_of_purchases' is not a number: 'many'",
        "column 'spending_score' value -0.25 is outside its bounds [0, none]",
        "duplicate customer_id in this batch",
        "duplicate customer_id in this batch",
        "missing customer_id",
    ]
    [summary] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Screened")]
    assert summary.startswith(
        "Screened 12 customers to score: 4 scorable, 8 rejected (2 duplicate customer_id in "
        "this batch, 1 column 'age' is outside its bounds [0, 120], 1 column 'annual_income' "
        "is outside the training range (more than 10 SD from the mean), 1 column "
        "'average_order_value' is not a finite number, 1 column 'number_of_purchases' is not "
        "a number and 2 more kinds of reason in 2 rows); "
    )


def test_a_batch_without_a_feature_column_names_the_columns_it_has_and_counts_the_rest():
    """The columns a batch has, never cut without saying so."""
    spec = FeatureSpec.parse({"id_column": "id", "numeric": ["age", "wage"], "categorical": []})
    few = ["id", "age", "year", "region"]
    with pytest.raises(InvalidCustomerDataError) as refused:
        check_batch_columns(few, spec)
    assert str(refused.value).endswith("(it has 4 columns: 'id', 'age', 'year', 'region')")
    many = ["id", "age", *[f"c{i}" for i in range(SHOWN_COLUMNS + 3)]]
    with pytest.raises(InvalidCustomerDataError, match=r"lacks the columns \['wage'\]") as refused:
        check_batch_columns(many, spec)
    assert str(refused.value).endswith(f"'c{SHOWN_COLUMNS - 3}' and 5 more)")
