"""Segment names, recommendations, the target export, the new plots and the report."""

import base64
import io
import re

import pandas as pd
import pytest

from customer_segmentation.features import FeatureSpec
from customer_segmentation.parameters import Features, Naming
from customer_segmentation.pipelines.segment_analysis import create_pipeline
from customer_segmentation.pipelines.segment_analysis.names import column_label, name_segments
from customer_segmentation.pipelines.segment_analysis.plots import (
    plot_profile_heatmap,
    plot_segment_map,
    plot_segment_scatter,
    plot_segment_sizes,
)
from customer_segmentation.pipelines.segment_analysis.recommendations import (
    NO_ACTION,
    recommend_actions,
)
from customer_segmentation.pipelines.segment_analysis.report import build_segment_report
from customer_segmentation.pipelines.segment_analysis.report_sections import warning_texts
from tests.conftest import base_parameters, filled, node_function, train_and_profile

# The node as the pipeline wires it, for the test run on both engines.
select_on_engine = node_function(create_pipeline(), "select_target_customers")

# As nodes receive them: validated, every default filled in.
SEGMENT_ANALYSIS = base_parameters()["segment_analysis"]
NAMING = SEGMENT_ANALYSIS["naming"]
RECOMMENDATIONS = SEGMENT_ANALYSIS["recommendations"]
TARGETING = SEGMENT_ANALYSIS["targeting"]
# Segment naming without any column labels: reasons use the column names.
NO_LABELS = {**NAMING, "labels": {}}


def _png(figure) -> bytes:
    """The PNG bytes the catalog's FigureDataset saves and loads back."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def analysed(customers, features, model_selection_params):
    params = {**model_selection_params, "n_init": 3}
    segmented, model, profiles = train_and_profile(customers, features, params, NAMING)
    recommendations = recommend_actions(profiles, RECOMMENDATIONS, features, NAMING, TARGETING)
    # customer_segments as the model_selection pipeline writes it.
    segments = segmented[["customer_id", "segment", "confidence"]]
    return segmented, model, segments, profiles, recommendations


def test_names_come_from_the_largest_differences_and_are_unique(analysed):
    profiles = analysed[3]
    assert profiles["name"].is_unique
    assert all(name[0].isupper() for name in profiles["name"])
    # The affluent persona's segment differs most on income: its name says so.
    richest = profiles.loc[profiles["annual_income_z"].idxmax()]
    assert richest["annual_income_z"] >= 1.5
    assert richest["name"].lower().startswith("high income")
    # Tech enthusiasts (80% electronics) are named by their category too.
    electronics = profiles.loc[profiles["product_category=electronics"].idxmax()]
    assert "product category electronics" in electronics["name"]


def test_name_rules():
    profiles = pd.DataFrame(
        {
            "segment": [0, 1, 2, 3],
            "customers": [100, 100, 100, 100],
            "income_z": [1.2, 1.2, 0.1, -0.8],
            "spend_z": [0.9, 0.9, 0.2, 0.1],
            "age_z": [0.0, -0.6, 0.3, 0.0],
            # The base is half male; segment 3 is 95% male, segment 2 "mostly"
            # nothing: 49% male is no majority.
            "gender=male": [0.3, 0.3, 0.49, 0.95],
            "gender=female": [0.7, 0.7, 0.51, 0.05],
            "gender=other": [0.0, 0.0, 0.0, 0.0],
        }
    )
    naming = filled(
        Naming,
        {
            "threshold": 0.5,
            "max_terms": 2,
            "max_categories": NAMING["max_categories"],
            "labels": {"spend": "spending"},
        },
    )
    spec = filled(
        Features,
        {"id_column": "id", "numeric": ["income", "spend", "age"], "categorical": ["gender"]},
    )
    names = name_segments(profiles, naming, spec)
    assert names[0] == "High income, high spending"
    assert names[1] == "High income, high spending, low age"  # a clash takes a further term
    assert names[2] == "Typical customers"
    assert names[3] == "Gender male, low income"  # (0.95 - 0.5) / 0.5 = 0.9 SD beats 0.8
    labelled = {**naming, "labels": {"gender=male": "men"}}
    assert name_segments(profiles, labelled, spec)[3] == "Men, low income"


def test_names_are_unique_as_sets_of_terms_not_as_word_orders():
    # Segments 0 and 1 differ most on the same two features, in another
    # order; what really separates them is orders (+0.8 against -1.0 SD).
    profiles = pd.DataFrame(
        {
            "segment": [0, 1, 2, 3],
            "customers": [100, 100, 100, 100],
            "recency_z": [1.5, 1.2, 0.0, 1.2],
            "tenure_z": [1.2, 1.5, 0.0, 1.5],
            "orders_z": [0.8, -1.0, 0.0, -1.0],
        }
    )
    naming = filled(
        Naming,
        {
            "threshold": 0.5,
            "max_terms": 2,
            "max_categories": NAMING["max_categories"],
            "labels": {},
        },
    )
    spec = filled(Features, {"id_column": "id", "numeric": ["recency", "tenure", "orders"]})
    names = name_segments(profiles, naming, spec)
    assert names[0] == "High recency, high tenure"
    assert names[1] == "High tenure, high recency, low orders"
    # Every term already taken as a set: only then the segment number.
    assert names[3] == "High tenure, high recency, low orders (segment 3)"
    assert names.is_unique


@pytest.mark.parametrize(
    ("column", "label"),
    [
        ("AVGEXP", "avgexp"),  # all capitals: a shouted name, not an acronym
        ("INCOMESQ", "incomesq"),
        ("PURCHASES_TRX", "purchases trx"),
        ("BALANCE2", "balance2"),
        ("CustomerID", "customer ID"),  # an acronym in a mixed-case name stays
        ("HTTPRequests", "HTTP requests"),
        ("MntMeatProducts", "mnt meat products"),
        ("mnt_meat_products", "mnt meat products"),
        ("T", "T"),  # one letter stays as written
        ("x", "x"),
    ],
)
def test_column_labels(column, label):
    assert column_label(column, {}) == label
    assert column_label(column, {column: "own words"}) == "own words"


def test_a_reason_never_rounds_its_number_across_a_threshold():
    profiles = _profiles(spend=[0.4999, 0.2, -0.9], orders=[0.0, 0.45, -0.9], age=[0.0] * 3)
    recommendations = {
        "outcomes": RECOMMENDATIONS["outcomes"],
        "rules": [
            {"action": "low", "why": "Spend below half an SD", "when": {"monetary": "< 0.5"}},
        ],
    }
    table = recommend_actions(profiles, recommendations, ROLES, NO_LABELS, TARGETING)
    # Two decimals would show +0.50, which is not below 0.5.
    assert "(spend +0.4999 SD against all customers)" in table.set_index("segment").loc[0, "reason"]
    assert "(spend -0.90 SD against all customers)" in table.set_index("segment").loc[2, "reason"]
    # The catch-all rule compared nothing: its reason quotes no number (the
    # 0.45 of segment 1 rounded to one decimal read as the 0.5 of loyalty).
    table = recommend_actions(profiles, RECOMMENDATIONS, ROLES, NO_LABELS, TARGETING)
    caught = table.set_index("segment").loc[1]
    assert not caught["evidence"]
    assert caught["reason"] == "No strong signal in the data."


def test_segments_with_evidence_rank_before_segments_without():
    # Segment 0 meets only the catch-all rule but has the most value;
    # segments 1 and 2 rest on evidence (low value, lapsed).
    profiles = _profiles(
        spend=[0.25, -0.9, 0.0],
        orders=[0.2, -0.9, -0.1],
        days_since=[0.0, 0.0, 0.9],
        age=[0.0] * 3,
    )
    profiles["customers"] = [50, 10, 20]
    table = recommend_actions(profiles, RECOMMENDATIONS, ROLES, NO_LABELS, TARGETING)
    by_segment = table.set_index("segment")
    assert by_segment["evidence"].to_dict() == {0: False, 1: True, 2: True}
    # With evidence first, then by value (-0.05 before -0.9); the catch-all last.
    assert by_segment["priority"].to_dict() == {2: 1, 1: 2, 0: 3}


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


ROLES = filled(
    Features,
    {
        "id_column": "id",
        "numeric": ["spend", "orders", "age"],
        "profile_only": {"numeric": ["days_since"]},
        "roles": {
            "monetary": ["spend"],
            "frequency": ["orders"],
            "recency": ["days_since"],
            "demographic": ["age"],
        },
    },
)


def _profiles(medians: dict | None = None, **z) -> pd.DataFrame:
    rows = len(next(iter(z.values())))
    return pd.DataFrame(
        {
            "segment": range(rows),
            "name": [f"S{i}" for i in range(rows)],
            "customers": [10] * rows,
            "share": [1 / rows] * rows,
            **{f"{column}_z": values for column, values in z.items()},
            **{f"{column}_median": values for column, values in (medians or {}).items()},
        }
    )


def test_default_rules_follow_the_rfm_playbook_by_roles():
    profiles = _profiles(
        spend=[1.0, 0.8, 0.1, 0.9, -0.9, 0.0, 1.0],
        orders=[1.0, 0.6, 1.0, -0.2, -0.8, 0.0, 1.0],
        days_since=[-0.5, 0.9, 0.0, 0.0, 1.0, 0.0, -0.5],
        age=[0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0],
        # Segment 6 scores like the champions, but its typical customer
        # bought once, 200 days ago: no champion.
        medians={"orders": [4, 3, 5, 1, 1, 2, 1], "days_since": [20, 200, 60, 60, 300, 60, 200]},
    )
    table = recommend_actions(profiles, RECOMMENDATIONS, ROLES, NO_LABELS, TARGETING).set_index(
        "segment"
    )
    actions = table["action"].str.split().str[:3].str.join(" ")
    assert actions.to_dict() == {
        0: "reward as champions",
        1: "win back before",
        2: "reward loyalty and",
        3: "upsell premium products",
        4: "reactivate at low",
        5: "nurture with newsletters",  # older, and nothing else: age is not value
        6: "reward loyalty and",  # high scores, one order: not even "reward loyalty with perks"
    }
    assert table.loc[0, "reason"] == (
        "They buy often and recently and spend the most (spend +1.00 SD, purchase frequency "
        "+1.00 SD, days since last purchase -0.50 SD against all customers; median orders 4; "
        "median days since 20)."
    )
    # Value is spend and frequency only: the older segment 5 is not valuable.
    assert table.loc[5, "value"] == pytest.approx(0.0)
    assert table["priority"].to_dict()[0] == 1
    # The catch-all rule rests on no evidence; every other rule does.
    assert table["evidence"].to_dict() == {s: s != 5 for s in range(7)}


def test_without_monetary_frequency_or_outcome_no_action_is_ranked(caplog):
    demographics = {**ROLES, "roles": {"demographic": ["age"], "recency": ["days_since"]}}
    profiles = _profiles(spend=[1.5, -1.5], orders=[1.0, -1.0], age=[2.0, -2.0])
    profiles["customers"] = [10, 30]
    table = recommend_actions(profiles, RECOMMENDATIONS, demographics, NO_LABELS, TARGETING)
    assert table["value"].isna().all()
    assert table["segment"].tolist() == [1, 0] and table["priority"].isna().all()  # by size
    assert set(table["action"]) == {NO_ACTION}
    assert not table["evidence"].any() and not table["targeted"].any()
    assert all("Customer value cannot be judged" in reason for reason in table["reason"])
    assert caplog.text.count("No action is ranked") == 1


def test_an_outcome_no_segment_differs_on_is_named_with_its_range():
    exited = filled(
        Features,
        {
            "id_column": "id",
            "numeric": ["age"],
            "profile_only": {"numeric": ["Exited"]},
            "roles": {"demographic": ["age"]},
            "outcomes": {"Exited": {"kind": "churn", "positive": 1}},
        },
    )
    profiles = _profiles(age=[1.0, 0.0, -1.0]).assign(Exited=[0.14, 0.16, 0.18])
    table = recommend_actions(profiles, RECOMMENDATIONS, exited, NO_LABELS, TARGETING)
    assert not table["evidence"].any()
    (warning,) = warning_texts({}, table, profiles, FeatureSpec.parse(exited), {})
    assert warning.startswith(
        "No action can be ranked: the outcome was compared and no segment differs enough "
        "from all customers for a recommendation rule to hold (exited 14% to 18% across "
        "segments, all customers 16%); no column is marked as spend (monetary) or purchase "
        "frequency in features.roles. To rank the segments, list spend and order-count "
        "columns under features.roles monetary and frequency."
    )
    assert "features.outcomes" not in warning


def test_first_matching_rule_wins_and_missing_columns_never_match():
    profiles = _profiles(spend=[1.5, -0.5], orders=[1.5, -0.5], age=[0.0, 0.0])
    recommendations = {
        "outcomes": RECOMMENDATIONS["outcomes"],
        "rules": [
            {"action": "never", "why": "Needs a missing column", "when": {"shoe_size": ">= 0"}},
            {"action": "never", "why": "Needs a role the data lacks", "when": {"tenure": "<= 9"}},
            {"action": "premium", "why": "Rich", "when": {"value": ">= 1.0"}},
            {"action": "default", "why": "Everyone else", "when": {}},
        ],
    }
    table = recommend_actions(profiles, recommendations, ROLES, NO_LABELS, TARGETING)
    assert table.set_index("segment")["action"].to_dict() == {0: "premium", 1: "default"}
    assert table.set_index("segment")["priority"].to_dict() == {0: 1, 1: 2}
    # A value condition's evidence names the value roles the data has.
    assert (
        "(spend +1.50 SD, purchase frequency +1.50 SD against all customers)"
        in (table.loc[0, "reason"])
    )


def test_bad_rule_condition_and_missing_catch_all_are_explained(features):
    profiles = _profiles(spend=[0.0], orders=[0.0], age=[0.0])
    with pytest.raises(ValueError, match="'about 0.5' must be an operator"):
        recommend_actions(
            profiles,
            {
                **RECOMMENDATIONS,
                "rules": [{"action": "a", "why": "b", "when": {"value": "about 0.5"}}],
            },
            ROLES,
            NO_LABELS,
            TARGETING,
        )
    with pytest.raises(
        ValueError, match="No segment_analysis.recommendations rule matches segment 0"
    ):
        recommend_actions(
            profiles,
            {**RECOMMENDATIONS, "rules": [{"action": "a", "why": "b", "when": {"value": "> 9"}}]},
            ROLES,
            NO_LABELS,
            TARGETING,
        )


def test_target_export_has_every_targeted_customer_exactly_once(analysed, features, engine):
    _, _, segments, profiles, recommendations = analysed
    targets = engine.pandas(
        select_on_engine(
            engine.frame(segments), recommendations, "customer_id", TARGETING["min_confidence"]
        )
    )
    chosen = set(recommendations.loc[recommendations["targeted"], "segment"])
    assert chosen  # the synthetic personas give segments worth a campaign
    expected = segments[segments["segment"].isin(chosen)]["customer_id"]
    assert targets["customer_id"].is_unique
    assert sorted(targets["customer_id"]) == sorted(expected)
    assert len(targets) <= 0.5 * len(segments)  # targeting.max_share
    assert list(targets.columns) == [
        "customer_id",
        "segment",
        "confidence",
        "segment_name",
        "action",
        "priority",
    ]

    explicit = recommend_actions(
        profiles, RECOMMENDATIONS, features, NAMING, {**TARGETING, "segments": [4]}
    )
    assert explicit.set_index("segment")["targeted"].to_dict() == {s: s == 4 for s in range(5)}
    exported = engine.pandas(
        select_on_engine(
            engine.frame(segments), explicit, "customer_id", TARGETING["min_confidence"]
        )
    )
    assert set(exported["segment"]) == {4}
    assert len(exported) == (segments["segment"] == 4).sum()
    with pytest.raises(ValueError, match=r"names \[9\]"):
        recommend_actions(
            profiles, RECOMMENDATIONS, features, NAMING, {**TARGETING, "segments": [9]}
        )


def test_new_plots(analysed, features):
    validated, model, segments, profiles, _ = analysed
    sizes = plot_segment_sizes(profiles).axes[0]
    assert len(sizes.patches) == 5
    heatmap = plot_profile_heatmap(profiles, features, NAMING).axes[0]
    labels = [t.get_text() for t in heatmap.get_yticklabels()]
    assert labels[0] == "income"
    scatter = {**SEGMENT_ANALYSIS["scatter"], "max_points": 200}
    segment_map = plot_segment_map(validated, profiles, model, scatter).axes[0]
    assert sum(len(c.get_offsets()) for c in segment_map.collections) == 200
    legend = [text.get_text() for text in segment_map.get_legend().get_texts()]
    assert legend[0].startswith(f"0: {profiles.loc[0, 'name'][:20]}")
    assert "principal component" in segment_map.get_xlabel()


def test_report_is_self_contained_and_warns(analysed, features):
    validated, model, segments, profiles, recommendations = analysed
    metrics = {
        "selected_k": 5,
        "criterion": "consensus",
        "k_choice": {
            "rule": "best_silhouette_none_stable",
            "min_segment_share": 0.02,
            "ineligible_k": {6: 0.004},
        },
        "clear_structure": False,
        "choice_per_criterion": {"silhouette": 5, "elbow": 4},
        "selected_k_stable": False,
        "feature_separation": {"categorical_share": 0.1},
        "preprocessing": {
            "transforms": {
                "annual_income": {"transform": "log1p"},
                "age": {"transform": "none"},
            },
            "outliers": {"annual_income": {"above": {"customers": 3, "bound": 178220.2}}},
        },
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
            "segment_map_plot": plot_segment_map(
                validated, profiles, model, SEGMENT_ANALYSIS["scatter"]
            ),
            "segment_scatter_plot": plot_segment_scatter(
                validated, profiles, features, SEGMENT_ANALYSIS["scatter"]
            ),
        }.items()
    }
    html = build_segment_report(
        profiles,
        recommendations,
        metrics,
        validated,
        **pictures,
        drift_report={"previous_version": None, "drifted": False},
        source_summary={"rows": len(validated), "sha256": "0" * 64},
        features=features,
        labels=NAMING["labels"],
        highlight_columns=[],
    )
    text = re.sub(r"\s+", " ", html)
    # Plain words first: what is wrong, how the data was read, why this many segments.
    assert "do not fall into clearly separate groups" in text
    assert "gives a noticeably different split as a whole" in text
    # income is no spend column: the note speaks of income, not of spending.
    assert "compared on a log-like scale, so that ten times more counts as one step" in text
    assert "Skewed columns" in text and ": income." in text
    assert "3 with income above 178,220" in text
    assert "Splits into 6 segments were not considered" in text
    assert "No split came back the same" in text  # the fallback, not the consensus rule
    assert "For analysts: Selected k = 5; silhouette also points to it; elbow prefers k = 4" in (
        text
    )
    # Cards in segment order, headed by the numbers the pictures use.
    headings = re.findall(r"<h3>Segment (\d+): ", html)
    assert headings == [str(s) for s in sorted(profiles["segment"])]
    assert "mostly" not in text or re.search(r"mostly \S+ \((5[1-9]|[6-9]\d|100)%\)", text)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 4
    assert all(base64.b64decode(image)[:4] == b"\x89PNG" for image in images)
    assert "http" not in html.split("<body>")[1]  # nothing to fetch when opened from an email
    for row in recommendations.itertuples():
        assert row.name in html
        assert row.action[0].upper() + row.action[1:] in html
