"""A priority is an order to act ("priority 1: do this first"), so only a
ranked table has one: when no segment's action rests on evidence ("no
action ranked" everywhere, or only the catch-all rule held) every priority
is empty, in the recommendations, their CSV, the run's summary, the report
and the target export alike; a ranked table keeps priorities 1 to k."""

import re

import pandas as pd

from customer_segmentation.datasets import CSVDataset
from customer_segmentation.parameters import Features
from customer_segmentation.pipelines.segment_analysis.recommendations import (
    NO_ACTION,
    recommend_actions,
)
from customer_segmentation.pipelines.segment_analysis.report import build_segment_report
from customer_segmentation.pipelines.segment_analysis.targets import targeted_segments
from customer_segmentation.run_summary import segment_lines
from tests.conftest import base_parameters, filled

SEGMENT_ANALYSIS = base_parameters()["segment_analysis"]
RECOMMENDATIONS = SEGMENT_ANALYSIS["recommendations"]
TARGETING = SEGMENT_ANALYSIS["targeting"]
NAMING = {**SEGMENT_ANALYSIS["naming"], "labels": {}}
PNG = b"\x89PNG\r\n\x1a\n"

# A credit table: income and age are demographics, limit has no role; no
# spend or frequency column and no outcome, so nothing ranks the segments.
DEMOGRAPHIC = filled(
    Features,
    {
        "id_column": "id",
        "numeric": ["income", "limit", "age"],
        "roles": {"demographic": ["income", "age"]},
    },
)
# Spend and orders: value can be judged, so the rules rank the segments.
VALUED = filled(
    Features,
    {
        "id_column": "id",
        "numeric": ["spend", "orders", "age"],
        "roles": {"monetary": ["spend"], "frequency": ["orders"], "demographic": ["age"]},
    },
)


def _profiles(customers: list[int], **z: list[float]) -> pd.DataFrame:
    """Segment profiles with each column's z-score and, for the report's
    cards, its mean (the z-score itself)."""
    return pd.DataFrame(
        {
            "segment": range(len(customers)),
            "name": [f"S{i}" for i in range(len(customers))],
            "customers": customers,
            "share": [c / sum(customers) for c in customers],
            **{f"{column}_z": values for column, values in z.items()},
            **z,
        }
    )


def _saved(table: pd.DataFrame, tmp_path) -> tuple[str, pd.DataFrame]:
    """The CSV text of ``table`` as the catalog writes segment_recommendations,
    and the table as the next nodes load it."""
    dataset = CSVDataset(
        filepath=str(tmp_path / "segment_recommendations.csv"),
        neutralise_formulas=True,
        save_args={"index": False, "float_format": "%.4f"},
    )
    dataset.save(table)
    return (tmp_path / "segment_recommendations.csv").read_text(), dataset.load()


def _report(profiles: pd.DataFrame, recommendations: pd.DataFrame, features: dict) -> str:
    customers = profiles[[c for c in features["numeric"]]]
    html = build_segment_report(
        profiles,
        recommendations,
        {
            "selected_k": len(profiles),
            "criterion": "silhouette",
            "scores": [{"k": len(profiles), "silhouette": 0.3}],
        },
        customers,
        PNG,
        PNG,
        PNG,
        PNG,
        {"previous_version": None, "drifted": False},
        {"rows": int(profiles["customers"].sum()), "columns": ["id"], "sha256": "ab" * 32},
        features,
        {},
        [],
    )
    return re.sub(r"\s+", " ", html)


def test_no_action_ranked_means_no_priority_anywhere(tmp_path):
    profiles = _profiles(
        [30, 50, 20], income=[1.0, -0.5, -0.2], limit=[1.2, -0.8, 0.1], age=[0.3, -0.1, -0.2]
    )
    table = recommend_actions(profiles, RECOMMENDATIONS, DEMOGRAPHIC, NAMING, TARGETING)
    assert set(table["action"]) == {NO_ACTION}
    assert table["priority"].isna().all()
    assert table["segment"].tolist() == [1, 0, 2]  # listed by size
    assert not table["targeted"].any()

    text, loaded = _saved(table, tmp_path)
    header, *rows = text.splitlines()
    assert header.startswith("priority,segment,")
    assert [row.split(",")[:2] for row in rows] == [["", "1"], ["", "0"], ["", "2"]]

    lines = segment_lines(loaded)
    assert len(lines) == 3 and not any("Priority" in line for line in lines)
    assert all(line.endswith(f": {NO_ACTION}") for line in lines)

    chosen, details = targeted_segments(loaded)
    assert chosen == [] and details["priority"].isna().all()

    report = _report(profiles, loaded, DEMOGRAPHIC)
    assert "No action can be ranked" in report
    assert "Priority" not in report and "<th>priority</th>" not in report


def test_a_listed_segment_of_an_unranked_table_is_exported_without_a_priority(tmp_path):
    profiles = _profiles(
        [30, 50, 20], income=[1.0, -0.5, -0.2], limit=[1.2, -0.8, 0.1], age=[0.3, -0.1, -0.2]
    )
    listed = {**TARGETING, "segments": [0]}
    table = recommend_actions(profiles, RECOMMENDATIONS, DEMOGRAPHIC, NAMING, listed)
    row = table.set_index("segment").loc[0]
    assert row["targeted"] and row["targeting"] == "Exported: listed in targeting.segments."
    _, loaded = _saved(table, tmp_path)
    chosen, details = targeted_segments(loaded)
    assert chosen == [0] and pd.isna(details.loc[0, "priority"])


def test_only_the_catch_all_rule_held_means_no_priority_either(tmp_path):
    """An outcome no segment differs on and no value column: every segment
    gets the catch-all action, on no evidence, and no priority."""
    churn = filled(
        Features,
        {
            "id_column": "id",
            "numeric": ["age"],
            "profile_only": {"numeric": ["Exited"]},
            "roles": {"demographic": ["age"]},
            "outcomes": {"Exited": {"kind": "churn", "positive": 1}},
        },
    )
    profiles = _profiles([40, 30, 30], age=[1.0, 0.0, -1.0]).assign(Exited=[0.14, 0.16, 0.18])
    table = recommend_actions(profiles, RECOMMENDATIONS, churn, NAMING, TARGETING)
    assert not table["evidence"].any()
    assert table["action"].nunique() == 1 and NO_ACTION not in set(table["action"])
    assert table["priority"].isna().all()
    _, loaded = _saved(table, tmp_path)
    assert not any("Priority" in line for line in segment_lines(loaded))


def test_a_ranked_table_keeps_priorities_1_to_k_with_and_without_evidence(tmp_path):
    """Value roles present, some segments acted on and one on the catch-all
    rule only: every segment has its priority, the catch-all one last."""
    profiles = _profiles(
        [20, 30, 25, 25],
        spend=[1.2, 0.8, -0.9, 0.0],
        orders=[1.2, 0.9, -0.8, 0.1],
        age=[0.0, 0.2, -0.1, 0.0],
    )
    table = recommend_actions(profiles, RECOMMENDATIONS, VALUED, NAMING, TARGETING)
    assert table["evidence"].tolist() == [True, True, True, False]
    assert table["priority"].tolist() == [1, 2, 3, 4]
    assert table.loc[0, "targeting"] == "Exported: priority 1, with evidence (20% of customers)."

    text, loaded = _saved(table, tmp_path)
    assert [row.split(",")[0] for row in text.splitlines()[1:]] == ["1", "2", "3", "4"]
    lines = segment_lines(loaded)
    assert [line.split(":")[0].strip() for line in lines] == [f"Priority {p}" for p in range(1, 5)]
    chosen, details = targeted_segments(loaded)
    assert chosen and details.loc[chosen, "priority"].tolist() == list(range(1, len(chosen) + 1))
    assert "Priority 1 · " in _report(profiles, loaded, VALUED)
