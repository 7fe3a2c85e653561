"""The segments as rules (``rules.py``): the SQL run in SQLite assigns
customers exactly as the tree does and agrees with the model at the stated
fidelity; NULLs, unseen categories and quotes are handled as the tree
handles them; the words use the column labels and the report's numbers."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from customer_segmentation import model as segmentation
from customer_segmentation.parameters import SegmentRules
from customer_segmentation.pipelines.segment_analysis import create_pipeline
from customer_segmentation.pipelines.segment_analysis.report_sections import rules_section
from customer_segmentation.pipelines.segment_analysis.rules import (
    assign_segments,
    fit_segment_rules,
    fit_tree,
    leaf_words,
    model_medians,
    round_threshold,
    rules_sql,
)
from tests.conftest import segments_in_sqlite

RULES = {"max_depth": 3, "min_leaf_share": 0.02, "random_seed": 42}
# A column name with a double quote, a category with a single quote.
BASKET = 'avg "basket"'
FEATURES = {
    "id_column": "customer_id",
    "numeric": ["spend", "orders", BASKET],
    "categorical": ["plan"],
}


def _customers(seed: int = 0) -> pd.DataFrame:
    """Three groups of customers: low spenders with few orders, big
    spenders, and frequent buyers on the O'Brien plan; a few blanks."""
    rng = np.random.default_rng(seed)
    n = 120
    spend = np.concatenate([rng.normal(100, 20, n), rng.normal(900, 90, n), rng.normal(400, 60, n)])
    orders = np.concatenate([rng.poisson(2, n), rng.poisson(4, n), rng.poisson(15, n)])
    plans = np.array(["basic", "plus", "O'Brien"])
    plan = np.concatenate(
        [
            rng.choice(plans[:2], n),
            rng.choice(plans[:2], n),
            rng.choice(plans, n, p=[0.1, 0.1, 0.8]),
        ]
    )
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(3 * n)],
            "spend": np.round(spend, 2),
            "orders": orders.astype(float),
            BASKET: np.round(spend / np.maximum(orders, 1), 2),
            "plan": pd.Series(plan, dtype=object),
        }
    )
    customers.loc[[3, 150, 300], "spend"] = np.nan
    customers.loc[[5, 260], "plan"] = None
    return customers


def _fitted(customers: pd.DataFrame, k: int = 3):
    """The deployed model (preprocessor and KMeans) and every customer's segment."""
    preprocessor = segmentation.SegmentPreprocessor(
        numeric=FEATURES["numeric"], categorical=FEATURES["categorical"]
    ).fit(customers)
    kmeans = segmentation.SegmentKMeans(n_clusters=k, n_init=5, random_state=0)
    kmeans.fit(preprocessor.transform(customers))
    model = segmentation.segmentation_model(preprocessor, kmeans)
    segmented = customers.assign(segment=model.predict(customers))
    profiles = pd.DataFrame({"segment": range(k), "name": [f"group {s}" for s in range(k)]})
    return model, segmented, profiles


def test_sql_in_sqlite_assigns_as_the_tree_at_the_stated_fidelity():
    model, segmented, profiles = _fitted(_customers())
    summary, sql = fit_segment_rules(
        segmented, segmented, model, "2026-01-01T00.00.00.000Z", profiles, FEATURES, RULES, {}
    )
    in_sqlite = np.array(segments_in_sqlite(segmented.drop(columns="segment"), sql))

    medians = model_medians(model, FEATURES["numeric"])
    categories = {"plan": segmentation.fitted_categories(model)["plan"]}
    tree, table, _ = fit_tree(segmented, FEATURES["numeric"], categories, medians, RULES)
    assert in_sqlite.tolist() == tree.predict(table.to_numpy(float)).tolist()

    agreement = float((in_sqlite == segmented["segment"].to_numpy()).mean())
    assert summary["fidelity"] == pytest.approx(agreement, abs=0.01)
    assert summary["fidelity"] >= 0.9
    for segment in summary["segments"]:
        own = segmented["segment"].to_numpy() == segment["segment"]
        assert segment["fidelity"] == pytest.approx(
            float((in_sqlite[own] == segment["segment"]).mean()), abs=0.01
        )
        assert segment["name"] == f"group {segment['segment']}"
    assert summary["measured_on"] == "all customers"
    assert summary["customers_measured"] == len(segmented)
    assert summary["columns"] == ["spend", "orders"]
    assert summary["columns_not_read"] == [BASKET, "plan"]
    # The header states the fidelity, the model version and the columns read.
    header = [line for line in sql.splitlines() if line.startswith("--")]
    assert any("2026-01-01T00.00.00.000Z" in line for line in header)
    assert any(f"{summary['fidelity']:.0%}" in line for line in header)
    assert any('"avg ""basket"""' in line and '"plan"' in line for line in header)
    assert "ELSE " + str(summary["else_segment"]) in sql


def test_the_rules_treat_a_missing_number_as_the_training_median():
    model, segmented, profiles = _fitted(_customers())
    summary, sql = fit_segment_rules(
        segmented, segmented, model, None, profiles, FEATURES, RULES, {}
    )
    medians = model_medians(model, FEATURES["numeric"])
    assert summary["missing_numbers"]["spend"] == medians["spend"]
    blank = segmented.head(1).assign(spend=np.nan)
    filled = blank.assign(spend=medians["spend"])
    assert (
        segments_in_sqlite(blank.drop(columns="segment"), sql)[0]
        == segments_in_sqlite(filled.drop(columns="segment"), sql)[0]
    )
    assert f'COALESCE("spend", {medians["spend"]!r})' in sql


def test_every_kind_of_condition_in_sql_as_in_python():
    """Numbers, category in and not in a set, NULLs, an unseen category,
    quotes in names and values, and a categorical column of number codes:
    SQLite gives every row the segment the rules give it in Python."""
    leaves = [
        {
            "segment": 1,
            "conditions": [
                {"column": 'pla"n', "operator": "in", "values": ["O'Brien", "missing"]},
                {"column": "spend", "operator": ">", "value": 10.0},
            ],
        },
        {
            "segment": 2,
            "conditions": [
                {"column": 'pla"n', "operator": "not in", "values": ["O'Brien", "missing"]},
                {"column": "region", "operator": "not in", "values": ["1"]},
            ],
        },
        {
            "segment": 3,
            "conditions": [
                {"column": 'pla"n', "operator": "not in", "values": ["O'Brien", "missing"]},
                {"column": "region", "operator": "in", "values": ["1"]},
                {"column": "spend", "operator": "<=", "value": 2.5},
            ],
        },
    ]
    customers = pd.DataFrame(
        {
            'pla"n': ["O'Brien", None, "basic", "basic", "never seen", "basic", "O'Brien"],
            "region": [1, 2, 1, None, 1, 1, 3],
            "spend": [20.0, 50.0, 1.0, None, 9.0, 2.5, 5.0],
        }
    )
    medians = {"spend": 3.0}
    sql = rules_sql(
        leaves,
        0,
        medians,
        {"region"},
        {
            "model_version": None,
            "model_fingerprint": "f",
            "fidelity": 1.0,
            "customers_measured": 7,
            "measured_on": "all customers",
            "segments": [],
            "columns": ['pla"n', "region", "spend"],
            "columns_not_read": [],
        },
        {},
    )
    expected = assign_segments(customers, leaves, 0, medians)
    assert expected.tolist() == [1, 1, 3, 2, 0, 3, 0]
    assert segments_in_sqlite(customers, sql) == expected.tolist()
    assert "'O''Brien'" in sql and '"pla""n"' in sql and '"region" IN (1)' in sql


def test_a_segment_the_model_knows_by_a_category_is_ruled_by_it():
    """Two groups alike in numbers, told apart by their plan only: the
    rules test the plan, quote "O'Brien" for SQL and agree with the model."""
    rng = np.random.default_rng(1)
    n = 100
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(3 * n)],
            "spend": np.round(
                np.concatenate([rng.normal(100, 10, 2 * n), rng.normal(900, 50, n)]), 2
            ),
            "orders": rng.poisson(3, 3 * n).astype(float),
            BASKET: np.round(rng.normal(30, 3, 3 * n), 2),
            "plan": [
                *rng.choice(["basic", "plus"], n),
                *["O'Brien"] * n,
                *rng.choice(["basic", "plus", "O'Brien"], n),
            ],
        }
    )
    preprocessor = segmentation.SegmentPreprocessor(
        numeric=FEATURES["numeric"], categorical=["plan"], categorical_weight=3.0
    ).fit(customers)
    kmeans = segmentation.SegmentKMeans(n_clusters=3, n_init=5, random_state=0)
    kmeans.fit(preprocessor.transform(customers))
    model = segmentation.segmentation_model(preprocessor, kmeans)
    segmented = customers.assign(segment=model.predict(customers))
    profiles = pd.DataFrame({"segment": range(3), "name": ["a", "b", "c"]})
    summary, sql = fit_segment_rules(
        segmented, segmented, model, None, profiles, FEATURES, RULES, {}
    )
    assert "'O''Brien'" in sql.split("CASE")[1]
    assert any("plan is" in rule.lower() for s in summary["segments"] for rule in s["rules"])
    in_sqlite = np.array(segments_in_sqlite(segmented.drop(columns="segment"), sql))
    assert summary["fidelity"] >= 0.95
    assert (in_sqlite == segmented["segment"].to_numpy()).mean() == pytest.approx(
        summary["fidelity"], abs=0.01
    )
    # A plan never seen in training is none of the known ones, in SQL as in the tree.
    unseen = segmented.drop(columns="segment").head(1).assign(plan="platinum")
    basic = unseen.assign(plan="basic")
    assert segments_in_sqlite(unseen, sql) == segments_in_sqlite(basic, sql)


def test_thresholds_are_the_roundest_that_split_the_customers_alike():
    whole = np.array([3.0, 6_880.0, 6_999.0, 7_200.0, 9_000.0])
    assert round_threshold(whole, 7_099.5) == 7_000.0
    cents = np.array([12.3, 42.44, 42.45, 50.0])
    assert round_threshold(cents, 42.44499969482422) == 42.44
    assert round_threshold(np.array([1.0, 2.0, 3.0]), 1.5) == 1.0
    # Nothing on one side: the tree's own threshold.
    assert round_threshold(np.array([1.0, 2.0]), 5.0) == 5.0


def test_rules_in_words_use_labels_and_the_report_numbers():
    conditions = [
        {"column": "Grocery", "operator": ">", "value": 7_000.0},
        {"column": "Grocery", "operator": "<=", "value": 12_500.0},
        {"column": "Detergents_Paper", "operator": ">", "value": 2_500.0},
        {"column": "avg_basket", "operator": "<=", "value": 42.4},
        {"column": "plan", "operator": "in", "values": ["gold"]},
        {"column": "Region", "operator": "not in", "values": ["1", "2", "3"]},
    ]
    words = leaf_words(conditions, {"avg_basket": "basket"})
    assert words == (
        "Grocery above 7,000 and at most 12,500 and detergents paper above 2,500 and "
        "basket at most 42.40 and plan is gold and region is not 1, 2 or 3"
    )
    assert leaf_words([], {}) == "Every customer"


def test_the_depth_of_the_rules_is_at_most_three():
    assert SegmentRules().max_depth == 3
    with pytest.raises(ValidationError):
        SegmentRules(max_depth=4)


def test_the_pipeline_writes_the_rules_and_their_sql():
    node = next(n for n in create_pipeline().nodes if n.name.endswith("fit_segment_rules"))
    assert node.outputs == ["segment_rules", "segment_rules_sql"]
    assert "segmented_customers" in node.inputs


def test_the_report_shows_the_fidelity_and_each_segments_rules():
    model, segmented, profiles = _fitted(_customers())
    summary, _ = fit_segment_rules(segmented, segmented, model, None, profiles, FEATURES, RULES, {})
    section = rules_section(summary)
    assert section["fidelity"] == f"{summary['fidelity']:.0%}"
    assert section["customers"] == "360"
    for segment in summary["segments"]:
        shown = section["segments"][segment["segment"]]
        assert shown["lines"] == segment["rules"] and shown["lines"]
        assert shown["fidelity"].endswith("%")
    assert rules_section(None) is None


def test_on_spark_the_rules_are_fitted_and_measured_on_the_collected_sample():
    spark_nodes = pytest.importorskip(
        "customer_segmentation.pipelines.segment_analysis.spark_nodes"
    )
    model, segmented, profiles = _fitted(_customers())
    sample = segmented.sample(200, random_state=0)
    # The distributed table is never read: only the collected sample is.
    summary, sql = spark_nodes.fit_segment_rules(
        None, sample, model, None, profiles, FEATURES, RULES, {}
    )
    assert summary["measured_on"] == "a seeded sample of 200 customers"
    assert summary["customers_measured"] == 200
    in_sqlite = np.array(segments_in_sqlite(sample.drop(columns="segment"), sql))
    assert summary["fidelity"] == pytest.approx(
        float((in_sqlite == sample["segment"].to_numpy()).mean()), abs=0.01
    )
