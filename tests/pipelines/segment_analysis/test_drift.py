import pandas as pd
import pytest
import yaml

from customer_segmentation.pipelines.segment_analysis.nodes import (
    DriftError,
    measure_drift,
)
from tests.conftest import BASE_CONF, make_customers, train_and_profile

SEGMENT_ANALYSIS = yaml.safe_load((BASE_CONF / "parameters_segment_analysis.yml").read_text())[
    "segment_analysis"
]
DRIFT = SEGMENT_ANALYSIS["drift"]


def _train(customers, features, params, k=5):
    validated, model, _, profiles = train_and_profile(
        customers, features, params, SEGMENT_ANALYSIS["naming"], k
    )
    profiles.attrs["kedro_version"] = "2026-01-01T00.00.00.000Z"
    return validated, model, profiles


@pytest.fixture(scope="module")
def params(model_selection_params):
    return {**model_selection_params, "n_init": 3}


def test_first_run_has_nothing_to_compare(customers, features, params):
    validated, model, profiles = _train(customers, features, params)
    assert measure_drift(validated, model, profiles, None, None, features, DRIFT) == {
        "previous_version": None,
        "drifted": False,
    }


def test_same_customers_same_model_no_drift(customers, features, params):
    validated, model, profiles = _train(customers, features, params)
    report = measure_drift(validated, model, profiles, model, profiles, features, DRIFT)
    assert report["psi"] == pytest.approx(0.0)
    assert report["ari"] == pytest.approx(1.0)
    assert report["max_centre_shift_sd"] == pytest.approx(0.0)
    assert not report["drifted"]
    assert report["previous_version"] == "2026-01-01T00.00.00.000Z"
    assert {s["segment"] for s in report["segments"]} == set(profiles["segment"])


def test_a_changed_customer_base_drifts_and_can_fail_the_run(
    generation_params, features, params, caplog
):
    before = make_customers(generation_params, 800, seed=1)
    personas = {**generation_params["personas"]}
    personas["affluent_loyalists"] = {**personas["affluent_loyalists"], "weight": 2.0}
    after = make_customers({**generation_params, "personas": personas}, 800, seed=2)
    _, old_model, old_profiles = _train(before, features, params)
    validated, new_model, new_profiles = _train(after, features, params, k=4)
    report = measure_drift(
        validated, new_model, new_profiles, old_model, old_profiles, features, DRIFT
    )
    assert report["drifted"]
    assert report["segments_before"] == 5 and report["segments_now"] == 4
    assert "Segmentation drift" in caplog.text
    with pytest.raises(DriftError, match="since the previous version"):
        measure_drift(
            validated,
            new_model,
            new_profiles,
            old_model,
            old_profiles,
            features,
            {**DRIFT, "fail_on_drift": True},
        )


def test_centre_movement_is_in_original_units(customers, features, params):
    validated, model, profiles = _train(customers, features, params)
    moved = profiles.copy()
    moved["annual_income"] += 10_000
    report = measure_drift(validated, model, profiles, model, moved, features, DRIFT)
    assert all(
        s["centre_shift"]["annual_income"] == pytest.approx(-10_000) for s in report["segments"]
    )
    assert isinstance(pd.DataFrame(report["segments"]), pd.DataFrame)
