"""Category values with surrounding spaces (" Male" in ISLP's Credit file)
read as the same category in training and scoring, and a scoring batch
whose values are often outside the model's categories is warned about,
the same way on both engines. Small synthetic frames only."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from customer_segmentation import model as segmentation
from customer_segmentation.encoding import CategoryEncoder, category_text
from customer_segmentation.pipelines.scoring import create_pipeline
from tests.conftest import Engine, base_parameters, node_function, train_and_profile

PIPELINE = create_pipeline()
screen_on_engine = node_function(PIPELINE, "screen_customers_to_score")
score_on_engine = node_function(PIPELINE, "score_customers")
SCORING = base_parameters()["scoring"]
NAMING = base_parameters()["segment_analysis"]["naming"]
CATEGORY = "product_category"
OUTSIDE = "Values not among the model's categories"


def test_category_text_strips_spaces_and_a_blank_value_is_missing():
    values = pd.Series([" Male", "Female ", "\tMale\n", "   ", "", None, " a b "], dtype=object)
    assert category_text(values).tolist() == [
        "Male",
        "Female",
        "Male",
        pd.NA,
        pd.NA,
        pd.NA,
        "a b",
    ]


def test_training_padded_and_scoring_plain_values_share_their_columns():
    encoder = CategoryEncoder().fit(pd.DataFrame({"g": [" Male", "Female", " Male", "Female"]}))
    assert encoder.categories_ == [["Female", "Male", "other"]]
    batch = pd.DataFrame({"g": ["Male", " Male ", "Female", "  ", "Man"]})
    # Male, Male, Female, then a blank (missing, not a training category) and
    # a new value: "other".
    assert encoder.transform(batch).tolist() == [
        [0, 1, 0],
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 1],
        [0, 0, 1],
    ]


def test_a_model_fitted_before_values_were_stripped_still_finds_them():
    """A model saved before this reading learned " Male" as it was written:
    scoring with it finds "Male" (and " Male") there, not in "other"; of two
    categories that read alike the first takes the value."""
    encoder = CategoryEncoder().fit(pd.DataFrame({"g": ["Male", "Female", "Male", "Female"]}))
    encoder.categories_ = [["Female", " Male", "other"]]  # as an old model holds it
    batch = pd.DataFrame({"g": ["Male", " Male", "Female", "Man"]})
    assert encoder.transform(batch).tolist() == [[0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]]
    encoder.categories_ = [[" Male", "Male", "other"]]
    assert encoder.transform(batch).tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]]


def test_a_pandas_categorical_with_a_padded_or_blank_category_reads_the_same():
    encoder = CategoryEncoder().fit(pd.DataFrame({"g": ["Male", "Female", None]}))
    batch = pd.DataFrame({"g": pd.Categorical([" Male", "Female", " "])})
    assert encoder.categories_ == [["Female", "Male", "missing", "other"]]
    assert encoder.transform(batch).tolist() == [
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 1, 0],  # only spaces: missing, as a missing value is
    ]


def test_pinned_categories_are_read_as_the_data_is():
    """A category pinned as the file writes it (" Male") or a code pinned
    as a float (2.0) names the value the encoder reads ("Male", "2")."""
    encoder = CategoryEncoder(categories=[[" Male", "Female"], [1, 2.0]])
    encoder.fit(pd.DataFrame({"g": ["Male", "Female"], "code": [1.0, 2.0]}))
    assert encoder.categories_ == [["Male", "Female"], ["1", "2"]]
    batch = pd.DataFrame({"g": [" Male", "Female", "Man"], "code": [2.0, np.nan, 1.0]})
    assert encoder.transform(batch).tolist() == [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]]


@pytest.fixture(scope="module")
def padded(customers, features, model_selection_params):
    """A model trained on customers whose categories are padded with spaces
    (as Credit.csv writes " Male"), and those customers' segments."""
    text = customers[CATEGORY].astype(str)
    padded_rows = np.arange(len(text)) % 2 == 1  # half the rows, as a file may pad some
    training = customers.assign(**{CATEGORY: text.mask(padded_rows, " " + text + "  ")})
    params = {**model_selection_params, "n_init": 3}
    segmented, model, profiles = train_and_profile(training, features, params, NAMING)
    return model, profiles, segmented.set_index(features["id_column"])["segment"]


def _screen(engine, batch, model, features, caplog):
    """The batch screened on ``engine``, and the screening's log records."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        scorable, rejects = screen_on_engine(engine.frame(batch), model, features, SCORING)
    records = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.getMessage().startswith(("Screened", OUTSIDE))
    ]
    return scorable, rejects, records


def test_a_model_trained_on_padded_values_scores_plain_ones_as_their_category(
    padded, customers, features, engine, caplog
):
    model, profiles, segments = padded
    assert segmentation.fitted_categories(model)[CATEGORY] == sorted(
        customers[CATEGORY].astype(str).unique()
    )
    batch = customers.drop(columns="persona").head(40).astype({CATEGORY: str})
    scorable, _, records = _screen(engine, batch, model, features, caplog)
    scored = engine.pandas(score_on_engine(scorable, model, None, profiles, "customer_id"))

    expected = segments[batch["customer_id"]].to_dict()
    assert scored.set_index("customer_id")["segment"].to_dict() == expected
    [(level, summary)] = records
    assert level == logging.INFO
    assert summary.endswith("rows with values not among the model's categories: none")


def test_many_values_outside_the_model_categories_are_a_warning_on_both_engines(
    padded, customers, features, engine, caplog
):
    model, _, _ = padded
    batch = customers.drop(columns="persona").head(40).astype({CATEGORY: str})
    batch.loc[:9, CATEGORY] = "Home Goods"  # 10 of 40 rows: a new spelling
    batch.loc[10:12, CATEGORY] = "garden"
    _, _, records = _screen(engine, batch, model, features, caplog)

    assert records == [
        (
            logging.INFO,
            "Screened 40 customers to score: 40 scorable, 0 rejected; rows with values not "
            "among the model's categories: {'product_category': 13}",
        ),
        (
            logging.WARNING,
            "Values not among the model's categories: column 'product_category' in 13 of 40 "
            "scorable rows (32%, for example 'Home Goods', 'garden'), scored as \"other\". The "
            "model knows the categories that at least preprocessing.min_category_share of its "
            "training rows held, or those pinned in features.categories: fix the batch if "
            "these values write a known category anew (case, spelling, a code), retrain if "
            "they are new",
        ),
    ]


def test_a_few_values_outside_the_model_categories_are_counted_at_info(
    padded, customers, features, engine, caplog
):
    """One row in 40 (2.5%, under the 5% warned about): a rare value."""
    model, _, _ = padded
    batch = customers.drop(columns="persona").head(40).astype({CATEGORY: str})
    batch.loc[3, CATEGORY] = "garden"
    _, _, records = _screen(engine, batch, model, features, caplog)

    [(level, summary)] = records
    assert level == logging.INFO
    assert summary.endswith(
        "rows with values not among the model's categories: {'product_category': 1}"
    )


def test_a_handful_of_customers_outside_the_model_categories_is_no_warning(
    padded, customers, features, caplog
):
    """Three customers scored alone (a service through the API), all with a
    new value: 100% of the batch, but three rows, counted at INFO."""
    model, _, _ = padded
    batch = customers.drop(columns="persona").head(3).astype({CATEGORY: str})
    batch[CATEGORY] = "garden"
    engine = Engine("pandas")
    _, _, records = _screen(engine, batch, model, features, caplog)

    assert [level for level, _ in records] == [logging.INFO]
