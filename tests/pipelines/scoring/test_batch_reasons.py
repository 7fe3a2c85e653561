"""Reject reasons of a scoring batch, row by row: text in one row never
spares another row of its column from its bounds (on both engines), a
refusal for too many rejects names the file they were saved to, and the
summaries of reasons keep a column name with colons, quotes or spaces
whole. The model is the one of the session's trained project, read only."""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
import pytest

from customer_segmentation import load_segmentation
from customer_segmentation.features import FeatureSpec
from customer_segmentation.pipelines.scoring import create_pipeline
from customer_segmentation.pipelines.scoring.kernels import (
    TooManyRejectsError,
    not_a_number,
    outside_bounds,
    outside_training_range,
    reason_counts,
    reason_kind,
)
from tests.conftest import kedro_in_process, node_function, version_file

PIPELINE = create_pipeline()
screen_on_engine = node_function(PIPELINE, "screen_customers_to_score")
score_on_engine = node_function(PIPELINE, "score_customers")
check_on_engine = node_function(PIPELINE, "check_reject_share")
REJECTS = "data/08_reporting/scoring_rejects.csv"


@pytest.fixture(scope="module")
def segmentation(trained_template):
    """The trained project's model, profiles and parameters (nothing written)."""
    return load_segmentation(trained_template)


def _batch(customers: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The first ``rows`` customers as a batch to score, ``age`` as read
    from a file where some row holds text."""
    return customers.drop(columns="persona").head(rows).astype({"age": object})


def test_text_in_a_column_leaves_its_bounds_checked_on_every_other_row(
    segmentation, customers, engine
):
    """-5 is inside 10 SD of the training ages: only its bounds reject it,
    and they used to be skipped for the whole column once a row held text."""
    features = {**segmentation.parameters["features"], "bounds": {"age": [0, None]}}
    scoring = segmentation.parameters["scoring"]
    batch = _batch(customers, 6)
    batch.loc[1, "age"] = "a lot"
    batch.loc[3, "age"] = -5
    batch.loc[4, "age"] = "nan"  # a spelling of a missing value: filled, not rejected
    ids = batch["customer_id"]
    model, profiles = segmentation.model, segmentation.profiles

    scorable, rejects = screen_on_engine(engine.frame(batch), model, features, scoring)
    reasons = engine.pandas(rejects).set_index("customer_id")["reason"].to_dict()
    assert reasons == {
        ids[1]: "column 'age' is not a number: 'a lot'",
        ids[3]: "column 'age' value -5 is outside its bounds [0, none]",
    }
    scored = score_on_engine(scorable, model, None, profiles, "customer_id")
    filled = engine.pandas(scored).set_index("customer_id")["filled"]
    assert filled[ids[4]] == "age"
    with pytest.raises(TooManyRejectsError) as refused:
        check_on_engine(scored, rejects, 0.0)
    message = str(refused.value)
    assert "1 column 'age' is outside its bounds [0, none]" in message
    assert "1 column 'age' is not a number" in message


def test_reason_kinds_keep_column_names_with_colons_quotes_and_spaces():
    spec = FeatureSpec.parse(
        {"id_column": "Unnamed: 0", "numeric": ["a: 'b' c"], "bounds": {"a: 'b' c": [0, None]}}
    )
    column = "a: 'b' c"
    reasons = pd.Series(
        [
            not_a_number(column, "x: y"),
            not_a_number(column, "it's: 'odd'"),
            outside_bounds(column, -5, spec),
            outside_training_range(column, 2.5e7, 10),
            outside_training_range(column, -123456.7, 10),
            "missing Unnamed: 0",
        ]
    )
    assert [reason_kind(reason) for reason in reasons] == [
        "column 'a: 'b' c' is not a number",
        "column 'a: 'b' c' is not a number",
        "column 'a: 'b' c' is outside its bounds [0, none]",
        "column 'a: 'b' c' is outside the training range (more than 10 SD from the mean)",
        "column 'a: 'b' c' is outside the training range (more than 10 SD from the mean)",
        "missing Unnamed: 0",
    ]
    assert reason_counts(reasons).to_dict() == {
        "column 'a: 'b' c' is not a number": 2,
        "column 'a: 'b' c' is outside the training range (more than 10 SD from the mean)": 2,
        "column 'a: 'b' c' is outside its bounds [0, none]": 1,
        "missing Unnamed: 0": 1,
    }


def test_an_id_column_with_a_colon_is_named_whole_in_the_log_and_the_refusal(
    segmentation, customers, caplog
):
    """``Unnamed: 0``, the id column pandas writes, used to be cut to
    "Unnamed" wherever the reasons were counted."""
    features = {**segmentation.parameters["features"], "id_column": "Unnamed: 0"}
    renamed = dataclasses.replace(
        segmentation, parameters={**segmentation.parameters, "features": features}
    )
    batch = _batch(customers, 10).rename(columns={"customer_id": "Unnamed: 0"})
    batch.loc[2, "Unnamed: 0"] = None
    batch.loc[5, "age"] = "a lot"
    with caplog.at_level(logging.INFO), pytest.raises(TooManyRejectsError) as refused:
        renamed.score(batch, max_reject_share=0.1)
    [screened] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Screened")]
    for text in (screened, str(refused.value)):
        assert "1 missing Unnamed: 0" in text
        assert "1 column 'age' is not a number" in text
    # No file in the API: the rejects are on the error.
    assert str(refused.value).endswith("; see the rejects in this error's result.rejects")


@pytest.mark.integration
def test_a_refused_scoring_run_names_the_file_of_its_rejects(trained_project, customers):
    batch = _batch(customers, 20)
    batch.loc[::4, "age"] = "unknown"  # 5 of 20 rows, over the 5% allowed
    source = trained_project / "data" / "01_raw" / "examples" / "customers_to_score.csv"
    source.write_text(batch.to_csv(index=False))

    result = kedro_in_process(trained_project, "run", "--pipelines", "scoring")

    assert result.returncode == 1
    block = [line for line in result.stderr.splitlines() if line.startswith("Error (")]
    saved = version_file(trained_project, REJECTS)
    relative = str(saved.relative_to(trained_project))
    assert block == [
        "Error (TooManyRejectsError): Scoring rejected 5 of 20 customers (25%, more than "
        "scoring.max_reject_share 5%): 5 column 'age' is not a number; see scoring_rejects "
        f"in {relative}"
    ]
    assert len(pd.read_csv(saved)) == 5
