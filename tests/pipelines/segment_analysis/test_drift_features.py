"""Drift against a previous run that clustered on other features: not
comparable, and the report says so instead of "stable"."""

import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from customer_segmentation.pipelines.segment_analysis.drift import (
    FEATURES_CHANGED,
    feature_change,
    measure_drift,
)
from customer_segmentation.pipelines.segment_analysis.report_sections import drift_section
from tests.conftest import base_parameters, train_and_profile

SEGMENT_ANALYSIS = base_parameters()["segment_analysis"]
DRIFT = SEGMENT_ANALYSIS["drift"]
V1, V2 = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"


def _fewer(features: dict) -> dict:
    """``features`` with average_order_value and product_category profiled
    instead of clustered on, as a user who moves two columns out does."""
    return {
        **features,
        "numeric": [c for c in features["numeric"] if c != "average_order_value"],
        "categorical": [],
        "profile_only": {
            "numeric": [*features["profile_only"]["numeric"], "average_order_value"],
            "categorical": [*features["profile_only"]["categorical"], "product_category"],
        },
    }


@pytest.fixture(scope="module")
def runs(customers, features, model_selection_params):
    """The previous run on every feature, and this run on fewer, k = 4 each."""
    params = {**model_selection_params, "n_init": 2}
    naming = SEGMENT_ANALYSIS["naming"]
    _, old_model, old_profiles = train_and_profile(customers, features, params, naming, k=4)
    segmented, _, profiles = train_and_profile(customers, _fewer(features), params, naming, k=4)
    return segmented, profiles, old_model, old_profiles


def test_other_features_are_not_comparable_and_never_stable(runs, features):
    segmented, profiles, old_model, old_profiles = runs
    strict = {**DRIFT, "fail_on_drift": True, "max_psi": 0.0, "max_centre_shift_sd": 0.0}
    report = measure_drift(
        segmented, profiles, old_model, old_profiles, V2, V1, V1, _fewer(features), strict
    )
    assert report["comparable"] is False
    assert report["comparability_note"] == FEATURES_CHANGED
    assert report["features_added"] == []
    assert report["features_removed"] == ["average_order_value", "product_category"]
    # A new feature set is no drift: no breach, even at thresholds of zero.
    assert not report["drifted"] and report["breaches"] == []
    section = drift_section(report)
    assert section["verdict"].startswith(
        "Not comparable with the previous run: it clustered on other features "
        "(removed average_order_value, product_category)"
    )
    assert "Stable" not in section["verdict"]
    assert section["rows"] == [
        {
            "measure": "Features clustered on",
            "value": "Removed average_order_value, product_category",
            "limit": "the same as in the previous run",
            "ok": False,
        }
    ]


def test_the_same_features_are_compared(runs, features):
    segmented, profiles, old_model, old_profiles = runs
    # The features the previous model clustered on: comparable.
    assert feature_change(old_model, old_profiles, features) == {"added": [], "removed": []}
    report = measure_drift(
        segmented, profiles, old_model, old_profiles, V2, V1, V1, features, DRIFT
    )
    assert report["comparable"] is True and report["comparability_note"] is None


def test_a_model_of_an_older_release_says_its_features_by_their_names(features):
    # A plain scikit-learn pipeline, as an older release saved it: the
    # columns it was fitted on are the features it clustered on.
    rows = pd.DataFrame({"annual_income": [1.0, 2.0, 3.0, 4.0], "age": [20, 30, 40, 50]})
    old = make_pipeline(StandardScaler(), KMeans(2, n_init=1, random_state=0)).fit(rows)
    changed = feature_change(old, pd.DataFrame({"segment": [0, 1]}), features)
    assert changed["removed"] == []
    assert changed["added"] == [
        c for c in [*features["numeric"], *features["categorical"]] if c not in rows
    ]
