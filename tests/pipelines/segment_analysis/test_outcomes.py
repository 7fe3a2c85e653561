"""Outcome rates, outcome-first actions and priorities, claims only from the
data present, and which segments are exported to target_customers."""

import re

import pandas as pd
import pytest
from pydantic import ValidationError

from customer_segmentation.features import FeatureSpec
from customer_segmentation.parameters import Features
from customer_segmentation.pipelines.segment_analysis.kernels import OutcomeError, outcome_rates
from customer_segmentation.pipelines.segment_analysis.recommendations import recommend_actions
from tests.conftest import base_parameters, filled

# As nodes receive them: validated, every default filled in.
SEGMENT_ANALYSIS = base_parameters()["segment_analysis"]
RECOMMENDATIONS = SEGMENT_ANALYSIS["recommendations"]
TARGETING = SEGMENT_ANALYSIS["targeting"]
# Segment naming without any column labels: reasons use the column names.
NO_LABELS = {**SEGMENT_ANALYSIS["naming"], "labels": {}}


def _features(roles: dict, outcomes: dict | None = None, **profile_only) -> dict:
    return filled(
        Features,
        {
            "id_column": "id",
            "numeric": ["spend", "orders", "days_since", "age"],
            "profile_only": {"numeric": [], "categorical": [], **profile_only},
            "roles": roles,
            "outcomes": outcomes or {},
        },
    )


def _profiles(customers: list[int], **columns) -> pd.DataFrame:
    total = sum(customers)
    return pd.DataFrame(
        {
            "segment": range(len(customers)),
            "name": [f"S{i}" for i in range(len(customers))],
            "customers": customers,
            "share": [c / total for c in customers],
            **columns,
        }
    )


def test_outcomes_must_be_profile_only_columns_of_a_known_kind():
    base = {"id_column": "id", "numeric": ["spend"]}
    parsed = Features.model_validate(
        {
            **base,
            "profile_only": {"numeric": ["Exited"], "categorical": ["Churn"]},
            "outcomes": {
                "Exited": {"kind": "churn", "positive": 1},
                "Churn": {"kind": "churn", "positive": "Yes"},
            },
        }
    )
    assert parsed.outcomes["Churn"].positive == "Yes"
    with pytest.raises(
        ValidationError, match="outcomes names 'spend', which is not a profile-only"
    ):
        Features.model_validate({**base, "outcomes": {"spend": {"kind": "churn", "positive": 1}}})
    with pytest.raises(ValidationError, match="kind"):
        Features.model_validate(
            {
                **base,
                "profile_only": {"numeric": ["Exited"]},
                "outcomes": {"Exited": {"kind": "lapsed", "positive": 1}},
            }
        )
    exited = {"Exited": {"kind": "churn", "positive": 1}}
    # FeatureSpec.parse validates as Features does.
    with pytest.raises(ValueError, match="outcomes names 'Exited', which is not a profile-only"):
        FeatureSpec.parse({**base, "outcomes": exited, "profile_only": {}})
    spec = FeatureSpec.parse({**base, "outcomes": exited, "profile_only": {"numeric": ["Exited"]}})
    assert spec.outcomes == {"Exited": ("churn", 1)}
    assert FeatureSpec.parse(base).outcomes == {}


@pytest.mark.parametrize("positive", [1, "1", True, 1.0])
def test_rate_of_a_numeric_outcome_is_its_mean_and_the_base_is_weighted_by_size(positive):
    features = _features(
        {}, {"Exited": {"kind": "churn", "positive": positive}}, numeric=["Exited"]
    )
    profiles = _profiles([100, 300], Exited=[0.4, 0.2])
    rates, base = outcome_rates(profiles, features)
    assert rates["Exited"].to_dict() == {0: pytest.approx(0.4), 1: pytest.approx(0.2)}
    assert base["Exited"] == pytest.approx((40 + 60) / 400)  # not the plain mean 0.3


@pytest.mark.parametrize("positive", [0, "0", False])
def test_a_numeric_outcome_whose_positive_value_is_zero(positive):
    features = _features(
        {}, {"Active": {"kind": "churn", "positive": positive}}, numeric=["Active"]
    )
    rates, _ = outcome_rates(_profiles([10, 10], Active=[0.9, 0.25]), features)
    assert rates["Active"].tolist() == pytest.approx([0.1, 0.75])


def test_rate_of_a_text_outcome_leaves_out_unknown_outcomes():
    features = _features({}, {"Churn": {"kind": "churn", "positive": "yes"}}, categorical=["Churn"])
    profiles = _profiles(
        [100, 100],
        **{
            "Churn=No": [0.4, 0.9],
            "Churn=Yes": [0.4, 0.1],
            "Churn=missing": [0.2, 0.0],
        },
    )
    rates, base = outcome_rates(profiles, features)
    assert rates["Churn"].tolist() == pytest.approx([0.5, 0.1])  # 0.4 of the 0.8 known
    assert base["Churn"] == pytest.approx((40 + 10) / (80 + 100))


def test_outcomes_that_do_not_fit_their_column_are_explained():
    text = _features({}, {"Churn": {"kind": "churn", "positive": "Gone"}}, categorical=["Churn"])
    with pytest.raises(OutcomeError, match=r"positive is 'Gone', which no customer has in Churn"):
        outcome_rates(_profiles([5], **{"Churn=Yes": [0.5], "Churn=No": [0.5]}), text)
    counts = _features({}, {"Calls": {"kind": "churn", "positive": 1}}, numeric=["Calls"])
    with pytest.raises(OutcomeError, match="Calls is not a 0/1 column"):
        outcome_rates(_profiles([5, 5], Calls=[0.5, 3.2]), counts)
    word = _features({}, {"Exited": {"kind": "churn", "positive": "Yes"}}, numeric=["Exited"])
    with pytest.raises(OutcomeError, match="give positive: 1"):
        outcome_rates(_profiles([5], Exited=[0.5]), word)


TELECOM = _features(
    {"monetary": ["spend"]}, {"Churn": {"kind": "churn", "positive": 1}}, numeric=["Churn"]
)


def test_a_segment_that_churns_far_more_is_retained_first():
    # Three segments churn at 43%, 15% and 7%; the first spends the least.
    profiles = _profiles([1500, 2500, 3000], Churn=[0.43, 0.15, 0.07], spend_z=[-0.6, 0.7, 0.1])
    table = recommend_actions(profiles, RECOMMENDATIONS, TELECOM, NO_LABELS, TARGETING)
    table = table.set_index("segment")
    assert table.loc[0, "action"].startswith("retain:")
    assert table.loc[0, "reason"] == (
        "They leave far more often than other customers "
        "(churn 43% against 18% across all customers)."
    )
    assert table.loc[0, "priority"] == 1  # outcome first, although it spends the least
    assert table.loc[1, "action"] == "upsell premium products"  # value rules still apply
    assert table.loc[2, "action"].startswith("protect and grow")
    assert "churn 7.0% against 18%" in table.loc[2, "reason"]
    assert table["evidence"].all()


def test_a_tiny_segment_never_triggers_an_outcome_action_on_noise():
    # 3 of 8 customers churned (38% against 20%): not far from the base.
    profiles = _profiles([8, 5000], Churn=[3 / 8, 0.2], spend_z=[0.0, 0.0])
    table = recommend_actions(profiles, RECOMMENDATIONS, TELECOM, NO_LABELS, TARGETING)
    assert not table["action"].str.startswith("retain").any()


def test_response_far_above_the_base_targets_first_and_excess_customers_rank():
    features = _features(
        {"monetary": ["spend"]},
        {
            "Response": {"kind": "response", "positive": 1},
            "Complain": {"kind": "churn", "positive": 1},
        },
        numeric=["Response", "Complain"],
    )
    profiles = _profiles(
        [2000, 1000, 3000],
        Response=[0.30, 0.10, 0.05],
        Complain=[0.01, 0.08, 0.01],
        spend_z=[0.2, 0.9, -0.4],
    )
    table = recommend_actions(profiles, RECOMMENDATIONS, features, NO_LABELS, TARGETING)
    by_segment = table.set_index("segment")
    assert by_segment.loc[0, "action"] == "target first and find look-alikes"
    assert by_segment.loc[1, "action"].startswith("retain:")
    # Excess customers: segment 0 has 2000 x (0.30 - 0.1333) = 333 more
    # responders, segment 1 has 1000 x (0.08 - 0.0283) = 52 more complaints.
    assert table["segment"].tolist()[:2] == [0, 1]
    assert "responded" not in by_segment.loc[2, "reason"]


def test_claims_name_only_the_roles_the_data_has():
    spend_only = _features({"monetary": ["spend"]})
    profiles = _profiles([10, 10], spend_z=[-0.9, 0.0])
    reason = recommend_actions(profiles, RECOMMENDATIONS, spend_only, NO_LABELS, TARGETING)
    low = reason.set_index("segment").loc[0, "reason"]
    assert low == "Below-average customer value (spend -0.90 SD against all customers)."
    assert "frequency" not in " ".join(reason["reason"])

    both = _features({"monetary": ["spend"], "frequency": ["orders"]})
    profiles = _profiles([10, 10], spend_z=[-0.9, 0.0], orders_z=[-0.7, 0.1])
    low = recommend_actions(profiles, RECOMMENDATIONS, both, NO_LABELS, TARGETING)
    assert low.set_index("segment").loc[0, "reason"] == (
        "Below-average customer value "
        "(spend -0.90 SD, purchase frequency -0.70 SD against all customers)."
    )

    frequency_only = _features({"frequency": ["orders"]})
    profiles = _profiles([10, 10], orders_z=[-0.8, 0.8])
    text = " ".join(
        recommend_actions(profiles, RECOMMENDATIONS, frequency_only, NO_LABELS, TARGETING)["reason"]
    )
    assert "spend" not in text and "purchase frequency -0.80 SD" in text


# Words that claim a role; a default rule's `why` may use them only when its
# conditions test that role (or customer value, made of monetary and frequency).
CLAIMS = {
    "monetary": r"spend|money|valuable|value",
    "frequency": r"buy often|frequent|repeat|valuable|value",
    "recency": r"recent|while|quiet|lapse",
    "tenure": r"\bnew\b|habit",
    "churn": r"leave",
    "response": r"respond",
}


def test_default_rules_claim_only_what_they_test():
    for rule in RECOMMENDATIONS["rules"]:
        tested = {key.removesuffix("_median") for key in rule["when"]}
        if "value" in tested:
            tested |= {"monetary", "frequency"}
        for role, words in CLAIMS.items():
            if re.search(words, rule["why"], re.IGNORECASE):
                assert role in tested, f"{rule['why']!r} claims {role} without testing it"
    assert RECOMMENDATIONS["rules"][-1]["when"] == {}
    assert "champion" not in " ".join(
        rule["action"] for rule in RECOMMENDATIONS["rules"] if "recency" not in rule["when"]
    )


def test_champions_need_recent_and_repeat_orders():
    roles = {"monetary": ["spend"], "frequency": ["orders"], "recency": ["days_since"]}
    profiles = _profiles(
        [10, 10, 10],
        spend_z=[1.0, 1.0, 1.0],
        orders_z=[1.0, 1.0, 1.0],
        days_since_z=[-0.5, -0.5, -0.5],
        orders_median=[3.0, 1.0, 3.0],
        days_since_median=[30.0, 30.0, 150.0],
    )
    table = recommend_actions(profiles, RECOMMENDATIONS, _features(roles), NO_LABELS, TARGETING)
    actions = table.set_index("segment")["action"]
    assert actions[0].startswith("reward as champions")
    assert not actions[1].startswith("reward as champions")  # one order
    assert not actions[2].startswith("reward as champions")  # 150 days ago
    assert "median orders 3; median days since 30" in table.set_index("segment").loc[0, "reason"]


def _targets(shares: list[float], evidence_z: list[float], targeting: dict) -> pd.DataFrame:
    """Segments sized by ``shares`` (of 1000 customers), high spend where
    ``evidence_z`` is >= 0.3 (upsell, with evidence), none otherwise."""
    customers = [int(share * 1000) for share in shares]
    profiles = _profiles(customers, spend_z=evidence_z)
    features = _features({"monetary": ["spend"]})
    return recommend_actions(profiles, RECOMMENDATIONS, features, NO_LABELS, targeting).set_index(
        "segment"
    )


def test_only_segments_with_evidence_are_targeted_and_never_over_the_cap():
    # k = 2: the bigger segment alone is 60% of all customers.
    table = _targets([0.6, 0.4], [0.5, 0.0], TARGETING)
    assert table["targeted"].to_dict() == {0: False, 1: False}
    assert table.loc[0, "targeting"] == (
        "Not exported: its 60% of customers would take the export to 60%, above "
        "targeting.max_share (50%)."
    )
    assert table.loc[1, "targeting"] == "Not exported: its action rests on no evidence in the data."

    table = _targets([0.3, 0.25, 0.25, 0.2], [0.9, 0.8, 0.7, 0.6], TARGETING)
    # 30% + 25% would pass 50%: those are skipped, the next that fits taken.
    assert table["targeted"].to_dict() == {0: True, 1: False, 2: False, 3: True}
    assert "would take the export to 55%" in table.loc[1, "targeting"]
    assert table.loc[0, "targeting"] == "Exported: priority 1, with evidence (30% of customers)."
    table = _targets([0.2, 0.15, 0.1, 0.55], [0.9, 0.8, 0.7, 0.0], TARGETING)
    assert table["targeted"].to_dict() == {0: True, 1: True, 2: False, 3: False}
    assert table.loc[2, "targeting"].startswith("Not exported: the targeting.top_priorities (2)")

    everyone = _targets([0.6, 0.4], [0.5, 0.0], {**TARGETING, "max_share": 1.0})
    assert everyone["targeted"].to_dict() == {0: True, 1: False}


def test_listed_segments_are_exported_as_asked_within_the_cap():
    listed = {**TARGETING, "segments": [1, 0]}
    table = _targets([0.6, 0.4], [0.5, 0.0], listed)
    assert table["targeted"].to_dict() == {0: False, 1: True}  # no evidence needed; cap holds
    table = _targets([0.6, 0.4], [0.5, 0.0], {**listed, "max_share": 1.0})
    assert table["targeted"].to_dict() == {0: True, 1: True}
    assert set(table["targeting"]) == {"Exported: listed in targeting.segments."}


def test_a_high_base_rate_segment_far_above_in_points_is_retained_and_exported():
    # 27% churn overall; segment 0 (46% of customers) churns 38%: 1.41 x the
    # base, under min_lift, but 11 points above it and holding most churners.
    profiles = _profiles([320, 200, 176], Churn=[0.38, 0.18, 0.17], spend_z=[-0.2, 0.1, 0.2])
    table = recommend_actions(profiles, RECOMMENDATIONS, TELECOM, NO_LABELS, TARGETING)
    table = table.set_index("segment")
    assert table.loc[0, "action"].startswith("retain:")
    assert "churn 38% against 27% across all customers" in table.loc[0, "reason"]
    assert table.loc[0, "priority"] == 1
    assert table.loc[0, "targeted"]


def test_a_targeting_share_never_rounds_onto_or_across_the_cap():
    table = _targets([0.504, 0.496], [0.5, 0.0], TARGETING)
    assert table.loc[0, "targeting"] == (
        "Not exported: its 50.4% of customers would take the export to 50.4%, above "
        "targeting.max_share (50%)."
    )
    table = _targets([0.496, 0.504], [0.5, 0.0], TARGETING)
    assert table.loc[0, "targeting"] == "Exported: priority 1, with evidence (49.6% of customers)."
