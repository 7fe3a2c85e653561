import pytest
import yaml

from customer_segmentation.pipelines.segment_analysis.drift import DriftError, measure_drift
from tests.conftest import BASE_CONF, make_customers, train_and_profile

SEGMENT_ANALYSIS = yaml.safe_load((BASE_CONF / "parameters_segment_analysis.yml").read_text())[
    "segment_analysis"
]
DRIFT = SEGMENT_ANALYSIS["drift"]


def _train(customers, features, params, k=5):
    segmented, model, profiles = train_and_profile(
        customers, features, params, SEGMENT_ANALYSIS["naming"], k
    )
    return segmented, model, profiles


V1, V2 = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"


def _drift(segmented, profiles, previous_model, previous_profiles, features, drift=DRIFT):
    """measure_drift with this run's model at V2 and the previous one at V1."""
    return measure_drift(
        segmented, profiles, previous_model, previous_profiles, V2, V1, V1, features, drift
    )


@pytest.fixture(scope="module")
def params(model_selection_params):
    return {**model_selection_params, "n_init": 3}


def test_first_run_has_nothing_to_compare(customers, features, params):
    validated, model, profiles = _train(customers, features, params)
    assert measure_drift(validated, profiles, None, None, V2, None, None, features, DRIFT) == {
        "previous_version": None,
        "drifted": False,
    }


def test_same_customers_same_model_no_drift(customers, features, params):
    validated, model, profiles = _train(customers, features, params)
    report = _drift(validated, profiles, model, profiles, features)
    assert report["psi"] == pytest.approx(0.0)
    assert report["ari"] == pytest.approx(1.0)
    assert report["max_centre_shift_sd"] == pytest.approx(0.0)
    assert not report["drifted"]
    assert (report["model_version"], report["previous_model_version"]) == (V2, V1)
    assert report["previous_version"] == V1
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
    report = _drift(validated, new_profiles, old_model, old_profiles, features)
    assert report["drifted"]
    assert report["segments_before"] == 5 and report["segments_now"] == 4
    assert "Segmentation drift" in caplog.text
    with pytest.raises(DriftError, match="since the previous version"):
        _drift(
            validated,
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
    report = _drift(validated, profiles, model, moved, features)
    assert all(
        s["centre_shift"]["annual_income"] == pytest.approx(-10_000) for s in report["segments"]
    )
    spread = validated["annual_income"].std(ddof=0)
    assert report["max_centre_shift_sd"] == pytest.approx(10_000 / spread)


def test_agreement_is_measured_on_a_sample_of_large_tables(customers, features, params):
    validated, model, profiles = _train(customers, features, params)
    report = _drift(
        validated, profiles, model, profiles, features, {**DRIFT, "ari_sample_size": 50}
    )
    assert report["ari"] == pytest.approx(1.0)
    shuffled = validated.assign(
        segment=validated["segment"].sample(frac=1, random_state=0).to_numpy()
    )
    assert _drift(shuffled, profiles, model, profiles, features)["ari"] < 0.2
