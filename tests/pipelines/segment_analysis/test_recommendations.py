"""Segment names, recommendations, the target export, the new plots and the report."""

import base64
import io
import re

import pandas as pd
import pytest
import yaml

from customer_segmentation.pipelines.segment_analysis.nodes import (
    name_segments,
    recommend_actions,
    select_target_customers,
)
from customer_segmentation.pipelines.segment_analysis.plots import (
    plot_profile_heatmap,
    plot_segment_map,
    plot_segment_scatter,
    plot_segment_sizes,
)
from customer_segmentation.pipelines.segment_analysis.report import build_segment_report
from tests.conftest import BASE_CONF, train_and_profile

SEGMENT_ANALYSIS = yaml.safe_load((BASE_CONF / "parameters_segment_analysis.yml").read_text())[
    "segment_analysis"
]
NAMING = SEGMENT_ANALYSIS["naming"]
RECOMMENDATIONS = SEGMENT_ANALYSIS["recommendations"]


def _png(figure) -> bytes:
    """The PNG bytes the catalog's FigureDataset saves and loads back."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def analysed(customers, features, model_selection_params):
    params = {**model_selection_params, "n_init": 3}
    segmented, model, profiles = train_and_profile(customers, features, params, NAMING)
    recommendations = recommend_actions(profiles, RECOMMENDATIONS, features, NAMING)
    segments = segmented[["customer_id", "segment"]]
    return segmented, model, segments, profiles, recommendations


def test_names_come_from_the_largest_differences_and_are_unique(analysed):
    profiles = analysed[3]
    assert profiles["name"].is_unique
    assert all(name[0].isupper() for name in profiles["name"])
    # The affluent persona's segment differs most on income: its name says so.
    richest = profiles.loc[profiles["annual_income_z"].idxmax()]
    assert richest["annual_income_z"] >= 1.5
    assert richest["name"].lower().startswith("high income")


def test_name_rules():
    profiles = pd.DataFrame(
        {
            "segment": [0, 1, 2, 3],
            "income_z": [1.2, 1.2, 0.1, -0.8],
            "spend_z": [0.9, 0.9, 0.2, 0.1],
            "age_z": [0.0, -0.6, 0.3, 0.0],
        }
    )
    naming = {"threshold": 0.5, "max_terms": 2, "labels": {"spend": "spending"}}
    names = name_segments(
        profiles, naming, {"id_column": "id", "numeric": ["income", "spend", "age"]}
    )
    assert names[0] == "High income, high spending"
    assert names[1] == "High income, high spending, low age"  # a clash takes a further term
    assert names[2] == "Typical customers"
    assert names[3] == "Low income"


def test_priorities_are_a_permutation_by_value(analysed):
    recommendations = analysed[4]
    k = len(recommendations)
    assert sorted(recommendations["priority"]) == list(range(1, k + 1))
    assert recommendations["value"].is_monotonic_decreasing
    assert recommendations["action"].notna().all()
    assert all(
        reason.endswith(".") and reason.count(". ") == 0 for reason in recommendations["reason"]
    )
    assert set(recommendations["name"]) == set(analysed[3]["name"])


def test_first_matching_rule_wins_and_missing_columns_never_match(features):
    profiles = pd.DataFrame(
        {
            "segment": [0, 1],
            "name": ["A", "B"],
            "customers": [10, 20],
            "share": [1 / 3, 2 / 3],
            "annual_income_z": [1.5, -0.5],
        }
    )
    recommendations = {
        "value_weights": {"annual_income": 1.0, "not_in_data": 5.0},
        "rules": [
            {"action": "never", "why": "Needs a missing column", "when": {"shoe_size": ">= 0"}},
            {"action": "premium", "why": "Rich", "when": {"value": ">= 1.0"}},
            {"action": "default", "why": "Everyone else", "when": {}},
        ],
    }
    table = recommend_actions(
        profiles, recommendations, {"id_column": "id", "numeric": ["annual_income"]}, {}
    )
    assert table.set_index("segment")["action"].to_dict() == {0: "premium", 1: "default"}
    assert table.set_index("segment")["priority"].to_dict() == {0: 1, 1: 2}
    assert "customer value +1.5 SD" in table.loc[0, "reason"]


def test_bad_rule_condition_and_missing_catch_all_are_explained(features):
    profiles = pd.DataFrame(
        {"segment": [0], "name": ["A"], "customers": [1], "share": [1.0], "annual_income_z": [0.0]}
    )
    rules = {"value_weights": {"annual_income": 1.0}}
    with pytest.raises(ValueError, match="'about 0.5' must be an operator"):
        recommend_actions(
            profiles,
            {**rules, "rules": [{"action": "a", "why": "b", "when": {"value": "about 0.5"}}]},
            features,
            {},
        )
    with pytest.raises(
        ValueError, match="No segment_analysis.recommendations rule matches segment 0"
    ):
        recommend_actions(
            profiles,
            {**rules, "rules": [{"action": "a", "why": "b", "when": {"value": "> 9"}}]},
            features,
            {},
        )


def test_target_export_has_every_chosen_customer_exactly_once(analysed, features):
    _, _, segments, _, recommendations = analysed
    targets = select_target_customers(
        segments, recommendations, "customer_id", {"segments": [], "top_priorities": 2}
    )
    chosen = set(recommendations.loc[recommendations["priority"] <= 2, "segment"])
    expected = segments[segments["segment"].isin(chosen)]["customer_id"]
    assert targets["customer_id"].is_unique
    assert sorted(targets["customer_id"]) == sorted(expected)
    assert set(targets["priority"]) == {1, 2}
    assert list(targets.columns) == ["customer_id", "segment", "segment_name", "action", "priority"]

    explicit = select_target_customers(
        segments, recommendations, "customer_id", {"segments": [4], "top_priorities": 2}
    )
    assert set(explicit["segment"]) == {4}
    assert len(explicit) == (segments["segment"] == 4).sum()
    with pytest.raises(ValueError, match=r"names \[9\]"):
        select_target_customers(
            segments, recommendations, "customer_id", {"segments": [9], "top_priorities": 1}
        )


def test_new_plots(analysed, features):
    validated, model, segments, profiles, _ = analysed
    sizes = plot_segment_sizes(profiles).axes[0]
    assert len(sizes.patches) == 5
    heatmap = plot_profile_heatmap(profiles, features, NAMING).axes[0]
    labels = [t.get_text() for t in heatmap.get_yticklabels()]
    assert labels[0] == "income"
    scatter = {**SEGMENT_ANALYSIS["scatter"], "max_points": 200}
    segment_map = plot_segment_map(validated, model, scatter).axes[0]
    assert sum(len(c.get_offsets()) for c in segment_map.collections) == 200
    assert "principal component" in segment_map.get_xlabel()


def test_report_is_self_contained_and_warns(analysed, features):
    validated, model, segments, profiles, recommendations = analysed
    metrics = {
        "selected_k": 5,
        "criterion": "consensus",
        "clear_structure": False,
        "structure": {"best_silhouette": 0.2, "reference_silhouette": 0.18},
        "choice_per_criterion": {"silhouette": 5, "elbow": 4},
        "selected_k_stable": True,
        "feature_separation": {"categorical_share": 0.1},
        "scores": [
            {
                "k": k,
                "silhouette": 0.1,
                "calinski_harabasz": 1.0,
                "davies_bouldin": 1.0,
                "stability_mean": 0.9,
            }
            for k in range(2, 7)
        ],
    }
    pictures = {
        name: _png(figure)
        for name, figure in {
            "segment_sizes_plot": plot_segment_sizes(profiles),
            "profile_heatmap_plot": plot_profile_heatmap(profiles, features, NAMING),
            "segment_map_plot": plot_segment_map(validated, model, SEGMENT_ANALYSIS["scatter"]),
            "segment_scatter_plot": plot_segment_scatter(
                validated, features, SEGMENT_ANALYSIS["scatter"]
            ),
        }.items()
    }
    html = build_segment_report(
        profiles,
        recommendations,
        metrics,
        validated,
        **pictures,
        features=features,
        labels=NAMING["labels"],
        highlight_columns=[],
    )
    assert "No clear segment structure" in html
    assert "elbow prefers k = 4" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 4
    assert all(base64.b64decode(image)[:4] == b"\x89PNG" for image in images)
    assert "http" not in html.split("<body>")[1]  # nothing to fetch when opened from an email
    for row in recommendations.itertuples():
        assert row.name in html
        assert row.action[0].upper() + row.action[1:] in html
