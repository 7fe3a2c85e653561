"""Category values are read one way everywhere, as the model reads them
(``features.category_text``): segment profiles on both engines, the SQL
rules, the pinned-category checks and warnings. ISLP's Credit file writes " Male":
no profile column, SQL comparison or check may read it as another value
than the model's "Male"; a code 1.0 is the category "1" throughout."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec, category_text, check_pinned_categories
from customer_segmentation.pipelines.preprocessing import create_pipeline as preprocessing
from customer_segmentation.pipelines.segment_analysis import create_pipeline as segment_analysis
from customer_segmentation.pipelines.segment_analysis.nodes import profile_segments
from customer_segmentation.pipelines.segment_analysis.rules import (
    assign_segments,
    fit_segment_rules,
    rules_sql,
)
from tests.conftest import base_parameters, node_function, segments_in_sqlite, train_and_profile

NAMING = base_parameters()["segment_analysis"]["naming"]
profile_on_engine = node_function(segment_analysis(), "profile_segments")
validate_on_engine = node_function(preprocessing(), "validate_customers")


def _padded(values: pd.Series) -> pd.Series:
    """``values`` as a careless export writes them: every other one padded
    with spaces, every seventh of only spaces."""
    text = values.astype(str)
    rows = np.arange(len(text))
    text = text.mask(rows % 2 == 1, " " + text + "  ")
    return text.mask(rows % 7 == 3, "   ")


@pytest.fixture(scope="module")
def padded(customers, features, model_selection_params):
    """A model trained on customers whose categories are padded (the
    feature product_category, the profile-only gender) and who carry
    profile-only region codes as floats with a gap (1.0, 2.0, NaN); with
    the features naming region and the segmented customers."""
    rows = np.arange(len(customers))
    region = pd.Series(np.where(rows % 5 == 0, np.nan, 1.0 + rows % 2), index=customers.index)
    training = customers.assign(
        product_category=_padded(customers["product_category"]),
        gender=_padded(customers["gender"]),
        region=region,
    )
    profile_only = features["profile_only"]
    features = {
        **features,
        "profile_only": {**profile_only, "categorical": [*profile_only["categorical"], "region"]},
    }
    params = {**model_selection_params, "n_init": 3}
    segmented, model, _ = train_and_profile(training, features, params, NAMING, k=4)
    return segmented, model, features


def test_profiles_read_categories_as_the_model_on_both_engines(padded, customers, engine):
    segmented, model, features = padded
    profiles = engine.pandas(profile_on_engine(engine.frame(segmented), model, features, NAMING))

    gender = {f"gender={g}" for g in customers["gender"].dropna().unique()}
    assert set(profiles.filter(like="gender=")) == gender | {"gender=missing"}
    known = segmentation.fitted_categories(model)["product_category"]
    assert set(profiles.filter(like="product_category=")) <= {
        f"product_category={c}" for c in known
    }
    assert set(profiles.filter(like="region=")) == {"region=1", "region=2", "region=missing"}
    # Every value of only spaces counts as "missing".
    blank = np.arange(len(segmented)) % 7 == 3
    missing = profiles["gender=missing"] * profiles["customers"]
    assert missing.sum() == pytest.approx(blank.sum())

    on_one_machine = profile_segments(segmented, model, features, NAMING)
    mix = sorted(c for c in on_one_machine.columns if "=" in c)
    assert sorted(c for c in profiles.columns if "=" in c) == mix
    pd.testing.assert_frame_equal(profiles[mix], on_one_machine[mix])


def test_the_sql_reads_a_padded_or_blank_category_as_the_model():
    """Conditions on a text column and on a column of float codes: SQLite
    gives every row of the table as the file holds it the segment the rules
    give it in Python, where categories are read as the model reads them."""
    leaves = [
        {"segment": 1, "conditions": [{"column": "g", "operator": "in", "values": ["Male"]}]},
        {
            "segment": 2,
            "conditions": [
                {"column": "g", "operator": "not in", "values": ["Male", "missing"]},
                {"column": "code", "operator": "in", "values": ["1"]},
            ],
        },
        {
            "segment": 3,
            "conditions": [
                {"column": "g", "operator": "in", "values": ["missing"]},
                {"column": "code", "operator": "not in", "values": ["2", "missing"]},
            ],
        },
    ]
    customers = pd.DataFrame(
        {
            "g": [" Male", "Male  ", "Female", " Female", "   ", None, "   ", "O'Brien "],
            "code": [2.0, 1.0, 1.0, 2.0, 1.0, np.nan, np.nan, 1.0],
        }
    )
    summary = {
        "model_version": None,
        "model_fingerprint": "f",
        "fidelity": 1.0,
        "customers_measured": len(customers),
        "measured_on": "all customers",
        "segments": [],
        "columns": ["g", "code"],
        "columns_not_read": [],
    }
    sql = rules_sql(leaves, 0, {}, {"code"}, summary, {})
    expected = assign_segments(customers, leaves, 0, {})
    assert expected.tolist() == [1, 1, 2, 0, 3, 0, 0, 2]
    assert segments_in_sqlite(customers, sql) == expected.tolist()
    assert '"code" IN (1)' in sql  # codes compare as numbers: 1.0 is "1"
    assert "A category is read without surrounding spaces" in sql


def test_rules_fitted_on_padded_values_agree_in_sqlite_and_say_clean_words():
    """A plan told apart by its value only, written padded in half the
    rows: the rules name the plan as the model knows it, and the SQL run on
    the padded table agrees with the model at the stated fidelity."""
    rng = np.random.default_rng(1)
    n = 100
    plan = pd.Series(
        [*rng.choice(["basic", "plus"], n), *["gold"] * n, *rng.choice(["basic", "gold"], n)]
    )
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(3 * n)],
            "spend": np.round(rng.normal(100, 10, 3 * n), 2),
            "orders": rng.poisson(3, 3 * n).astype(float),
            "plan": plan.mask(np.arange(3 * n) % 2 == 1, " " + plan + " "),
        }
    )
    features = {"id_column": "customer_id", "numeric": ["spend", "orders"], "categorical": ["plan"]}
    preprocessor = segmentation.SegmentPreprocessor(
        numeric=features["numeric"], categorical=["plan"], categorical_weight=3.0
    ).fit(customers)
    kmeans = segmentation.SegmentKMeans(n_clusters=2, n_init=5, random_state=0)
    kmeans.fit(preprocessor.transform(customers))
    model = segmentation.segmentation_model(preprocessor, kmeans)
    segmented = customers.assign(segment=model.predict(customers))
    profiles = pd.DataFrame({"segment": [0, 1], "name": ["a", "b"]})
    rules = {"max_depth": 3, "min_leaf_share": 0.02, "random_seed": 0}
    summary, sql = fit_segment_rules(
        segmented, segmented, model, None, profiles, features, rules, {}
    )

    assert summary["fidelity"] == 1.0
    named = {
        value
        for segment in summary["segments"]
        for conditions in segment["conditions"]
        for condition in conditions
        if condition["column"] == "plan"
        for value in condition["values"]
    }
    assert "gold" in named
    assert named <= set(segmentation.fitted_categories(model)["plan"])  # none padded
    words = [rule for segment in summary["segments"] for rule in segment["rules"]]
    assert any("plan is gold" in rule.lower() for rule in words)
    in_sqlite = np.array(segments_in_sqlite(customers, sql))
    assert (in_sqlite == segmented["segment"].to_numpy()).all()


@pytest.mark.parametrize(
    ("data", "pinned"),
    [
        ([" Male", "Female", "Male "], ["Male", "Female"]),  # the file pads
        (["Male", "Female"], [" Male", "Female"]),  # the parameters pad
        ([1.0, 2.0, np.nan], [1, 2]),  # codes read as floats
    ],
)
def test_a_pinned_category_written_as_the_model_reads_it_is_accepted(data, pinned):
    spec = FeatureSpec.parse(
        {"id_column": "id", "numeric": ["x"], "categorical": ["g"], "categories": {"g": pinned}}
    )
    assert check_pinned_categories(pd.DataFrame({"g": data}), spec) == []
    assert spec.pinned["g"] == tuple(segmentation.category_text(pd.Series(pinned)))


def test_a_pinned_category_in_another_case_is_still_refused():
    spec = FeatureSpec.parse(
        {"id_column": "id", "numeric": ["x"], "categorical": ["g"], "categories": {"g": ["male"]}}
    )
    problems = check_pinned_categories(pd.DataFrame({"g": [" Male", "Female"]}), spec)
    assert problems[0] == (
        "column 'g': pinned category 'male' is written 'Male' in the data; fix features.categories"
    )
    assert "whose values are ['Female', 'Male']" in problems[1]


def test_padded_values_of_pinned_categories_are_no_warning(customers, features, engine, caplog):
    """Only the values the model gives no column are warned about: a
    padded known value is none of them, a blank one (missing) is."""
    raw = customers.drop(columns="persona").assign(
        product_category=_padded(customers["product_category"])
    )
    known = sorted(customers["product_category"].unique())
    pinned = {**features, "categories": {"product_category": [f" {c}" for c in known]}}
    with caplog.at_level(logging.WARNING):
        validate_on_engine(engine.frame(raw), pinned, 10)
    if engine.name == "pandas":  # the warning is logged where the raw table is read
        blanks = int((np.arange(len(raw)) % 7 == 3).sum())
        assert (
            f"Column 'product_category' has {blanks} values that are missing or outside its "
            f"pinned categories {known} (for example ['missing'])"
        ) in caplog.text


def test_a_model_pins_what_the_profiles_show(padded, customers, features, model_selection_params):
    """Pinned categories written padded in the parameters: the model's
    columns and the profile's columns are the categories as read."""
    known = sorted(customers["product_category"].unique())
    pinned = {**features, "categories": {"product_category": [f"{c} " for c in known]}}
    params = {**model_selection_params, "n_init": 2}
    training = customers.assign(product_category=_padded(customers["product_category"]))
    _, model, profiles = train_and_profile(training, pinned, params, NAMING, k=3)
    assert segmentation.fitted_categories(model)["product_category"] == known
    mix = profiles.filter(like="product_category=")
    assert list(mix.columns) == [f"product_category={c}" for c in known]
    assert (mix.sum(axis=1) > 0.8).all()  # only the blanks are in no column


def test_validated_category_codes_read_as_the_model_reads_them_on_both_engines(
    customers, features, engine
):
    """A column of category codes stored as floats (1.0, 2.0; Parquet, a
    database) keeps its values through validation on both engines, so the
    model learns "1" and "2" as scoring reads them; a cast to text on Spark
    made them "1.0" and "2.0", which every scored row then missed."""
    rows = np.arange(len(customers))
    raw = customers.drop(columns="persona").assign(product_category=1.0 + rows % 3)
    validated = engine.pandas(validate_on_engine(engine.frame(raw), features, 10))
    read = category_text(validated["product_category"])
    assert sorted(read.unique()) == ["1", "2", "3"]
