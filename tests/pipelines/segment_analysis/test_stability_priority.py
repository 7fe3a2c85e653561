"""Segment stability in the analysis: the profiles' stability column, the
priority rule (an unstable segment is never acted on first), the export
and the words on the cards."""

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.features import FeatureSpec
from customer_segmentation.pipelines.preprocessing.nodes import (
    encode_features,
    fit_preprocessor,
    validate_customers,
)
from customer_segmentation.pipelines.segment_analysis import create_pipeline
from customer_segmentation.pipelines.segment_analysis.recommendations import recommend_actions
from customer_segmentation.pipelines.segment_analysis.report_sections import (
    cards,
    stability_text,
    warning_texts,
)
from customer_segmentation.pipelines.segment_analysis.targets import stability_number
from tests.conftest import fit, node_function

FEATURES = {
    "id_column": "id",
    "numeric": ["spend", "orders", "age"],
    "roles": {"monetary": ["spend"], "frequency": ["orders"], "demographic": ["age"]},
}


@pytest.fixture
def settings(segment_analysis_params) -> dict:
    return segment_analysis_params


def _profiles(stability: list, spend: list, orders: list) -> pd.DataFrame:
    rows = len(spend)
    return pd.DataFrame(
        {
            "segment": range(rows),
            "name": [f"S{i}" for i in range(rows)],
            "customers": [100] * rows,
            "share": [1 / rows] * rows,
            "stability": stability,
            "spend": [100.0] * rows,
            "orders": [3.0] * rows,
            "age": [40.0] * rows,
            "spend_z": spend,
            "orders_z": orders,
            "age_z": [0.0] * rows,
        }
    )


def _recommend(profiles: pd.DataFrame, settings: dict, **targeting) -> pd.DataFrame:
    return recommend_actions(
        profiles,
        settings["recommendations"],
        FEATURES,
        settings["naming"],
        {**settings["targeting"], **targeting},
    ).set_index("segment")


# Segment 0 is the most valuable (loyal, big spenders) but unstable; 1 and 2
# rest on evidence too; 3 meets only the catch-all rule.
CASE = {
    "stability": [0.55, 0.92, 0.81, 0.95],
    "spend": [1.2, 0.8, 0.4, 0.0],
    "orders": [1.2, 0.8, -0.1, 0.1],
}


def test_an_unstable_segment_ranks_after_every_stable_one_and_is_never_priority_1(settings):
    table = _recommend(_profiles(**CASE), settings)
    assert table["evidence"].to_dict() == {0: True, 1: True, 2: True, 3: False}
    assert table["unstable"].to_dict() == {0: True, 1: False, 2: False, 3: False}
    # Stable segments first (with evidence before without), the unstable one last.
    assert table["priority"].to_dict() == {1: 1, 2: 2, 3: 3, 0: 4}
    assert table.loc[0, "stability"] == 0.55


def test_min_stability_zero_flags_nothing_and_value_decides_again(settings):
    table = _recommend(_profiles(**CASE), settings, min_stability=0.0)
    assert not table["unstable"].any()
    assert table["priority"].to_dict() == {0: 1, 1: 2, 2: 3, 3: 4}
    assert table.loc[0, "targeted"]


def test_all_segments_unstable_keep_the_usual_order_among_them(settings):
    case = {**CASE, "stability": [0.3, 0.4, 0.5, 0.2]}
    table = _recommend(_profiles(**case), settings)
    assert table["unstable"].all()
    assert table["priority"].to_dict() == {0: 1, 1: 2, 2: 3, 3: 4}
    assert not table["targeted"].any()


def test_unmeasured_stability_flags_nothing(settings):
    case = {**CASE, "stability": [np.nan] * 4}
    table = _recommend(_profiles(**case), settings)
    assert not table["unstable"].any()
    assert table["priority"].to_dict()[0] == 1


def test_an_unstable_segment_is_not_exported_by_priority_and_says_why(settings):
    table = _recommend(_profiles(**CASE), settings, top_priorities=3, max_share=1.0)
    assert table["targeted"].to_dict() == {0: False, 1: True, 2: True, 3: False}
    assert table.loc[0, "targeting"] == (
        "Not exported: unstable, so not exported first: it comes back on resampled "
        "customers at only 0.55, under targeting.min_stability (0.6), and may not hold up "
        "(list it in targeting.segments to export it anyway)."
    )


def test_a_listed_unstable_segment_is_exported_with_a_warning(settings):
    table = _recommend(_profiles(**CASE), settings, segments=[0])
    assert table["targeted"].to_dict() == {0: True, 1: False, 2: False, 3: False}
    assert table.loc[0, "targeting"].startswith(
        "Exported: listed in targeting.segments, though unstable: it comes back on resampled "
        "customers at only 0.55"
    )


@pytest.mark.parametrize(
    ("stability", "unstable", "text"),
    [
        (0.912, False, "Comes back on resampled customers: 0.91 (stable)"),
        (0.75, False, "Comes back on resampled customers: 0.75 (stable)"),
        (0.7499, False, "Comes back on resampled customers: 0.74 (fairly stable)"),
        (0.55, True, "Comes back on resampled customers: 0.55: this segment may not hold up"),
        # Rounded down: 0.5996 is under 0.6, and never shows as 0.60.
        (0.5996, True, "Comes back on resampled customers: 0.59: this segment may not hold up"),
        (0.42, False, "Comes back on resampled customers: 0.42 (dissolves on resampled customers)"),
        (np.nan, False, None),
    ],
)
def test_card_words_for_stability(stability, unstable, text):
    assert stability_text(stability, unstable) == text


def test_stability_number_never_rounds_up_across_a_threshold():
    assert stability_number(0.5999) == "0.59"
    assert stability_number(1.0) == "1.00"
    assert stability_number(0.6) == "0.60"


def test_cards_and_warnings_flag_the_unstable_segment(settings):
    profiles = _profiles(**CASE)
    recommendations = _recommend(profiles, settings).reset_index()
    customers = pd.DataFrame(
        {"id": range(8), "spend": [100.0] * 8, "orders": [3.0] * 8, "age": [40.0] * 8}
    )
    spec = FeatureSpec.parse(FEATURES)
    shown = cards(profiles, recommendations, customers, spec, pd.DataFrame(), [], {}, [])
    by_segment = {card["segment"]: card for card in shown}
    assert by_segment[0]["unstable"] and not by_segment[1]["unstable"]
    assert by_segment[0]["stability"].endswith("0.55: this segment may not hold up")
    assert by_segment[1]["stability"].endswith("0.92 (stable)")
    warnings = warning_texts({}, recommendations, profiles, spec, {})
    flagged = [w for w in warnings if "may not hold up" in w]
    assert flagged == [
        "Segment 0 (0.55) may not hold up: repeating the analysis on resampled customers "
        "brings it back under targeting.min_stability. It is ranked after every other "
        "segment and not exported by priority; treat it with caution."
    ]


profile_on_engine = node_function(create_pipeline(), "profile_segments")


def test_profiles_carry_each_segments_stability_on_both_engines(
    customers, features, preprocessing_params, model_selection_params, settings, engine
):
    validated = validate_customers(customers, features, 10)
    preprocessor = fit_preprocessor(validated, features, preprocessing_params)
    encoded = encode_features(validated, preprocessor, "customer_id")
    model, segments = fit(encoded, preprocessor, 3, {**model_selection_params, "n_init": 2})
    segmented = validated.assign(segment=segments["segment"].to_numpy())
    # As model_selection_metrics.json keeps it: segment numbers as text.
    metrics = {"segment_stability": {"0": 0.93, "1": 0.41, "2": None}}
    profiles = profile_on_engine(
        engine.frame(segmented), model, features, settings["naming"], metrics
    )
    assert profiles["stability"].tolist()[:2] == [0.93, 0.41]
    assert np.isnan(profiles["stability"].iloc[2])
