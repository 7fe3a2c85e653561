"""The HTML segment report: claims only from the data present, outcomes
first, the target export, drift and where the numbers come from."""

import re

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.features import FeatureSpec
from customer_segmentation.figures import number_text as _format
from customer_segmentation.model import SegmentPreprocessor
from customer_segmentation.pipelines.segment_analysis.report import build_segment_report
from customer_segmentation.pipelines.segment_analysis.report_sections import (
    flag_columns,
    note_texts,
    varies_most,
    warning_texts,
)

PNG = b"\x89PNG\r\n\x1a\n"
FIRST_RUN = {"previous_version": None, "drifted": False}
TABLE_SUMMARY = {"rows": 100, "columns": ["id", "visits", "age"], "sha256": "ab" * 32}
# No monetary or frequency role: spend must never be claimed.
FEATURES = {
    "id_column": "id",
    "numeric": ["visits", "age"],
    "categorical": ["gender"],
    "profile_only": {"numeric": [], "categorical": []},
    "roles": {"monetary": [], "frequency": [], "demographic": ["age"]},
    "outcomes": {},
}


def _profiles() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": [0, 1, 2],
            "name": ["High visits", "Low visits", "Typical customers"],
            "customers": [50, 30, 20],
            "share": [0.5, 0.3, 0.2],
            "visits": [12.0, 3.0, 6.0],
            "age": [40.0, 41.0, 39.0],
            "visits_z": [1.2, -1.5, -0.75],
            "age_z": [0.1, -0.1, 0.2],
            # 50.4% is shown as "50%": no clear majority.
            "gender=Male": [0.504, 0.9, 0.3],
            "gender=Female": [0.496, 0.1, 0.7],
            "churned=Yes": [0.2, 0.6, 0.1],
            "churned=No": [0.8, 0.4, 0.9],
        }
    )


def _recommendations(evidence=(True, True, False), targeted=(True, False, False)):
    return pd.DataFrame(
        {
            "priority": [1, 2, 3],
            "segment": [0, 1, 2],
            "name": ["High visits", "Low visits", "Typical customers"],
            "customers": [50, 30, 20],
            "share": [0.5, 0.3, 0.2],
            "value": [np.nan] * 3,
            "action": ["reward loyalty", "win back", "nurture"],
            "reason": ["Frequent visitors.", "Churn is high.", "No strong signal yet."],
            "evidence": list(evidence),
            "stability": [0.95, 0.9, 0.8],
            "unstable": [False] * 3,
            "targeted": list(targeted),
            "targeting": ["priority 1.", "not in the top priorities.", "no evidence."],
        }
    )


def _metrics(**extra) -> dict:
    return {
        "selected_k": 3,
        "criterion": "silhouette",
        "clear_structure": True,
        "scores": [{"k": k, "silhouette": 0.3} for k in (2, 3, 4)],
        **extra,
    }


def _report(
    features=FEATURES,
    profiles=None,
    recommendations=None,
    metrics=None,
    drift=FIRST_RUN,
    source=TABLE_SUMMARY,
    customers=None,
    highlight=(),
) -> str:
    profiles = _profiles() if profiles is None else profiles
    if customers is None:
        customers = pd.DataFrame({"visits": [12.0, 3.0, 6.0, 7.0], "age": [40.0, 41, 39, 40]})
    html = build_segment_report(
        profiles,
        _recommendations() if recommendations is None else recommendations,
        _metrics() if metrics is None else metrics,
        customers,
        PNG,
        PNG,
        PNG,
        PNG,
        drift,
        source,
        features,
        {},
        list(highlight),
    )
    return re.sub(r"\s+", " ", html)


def test_the_no_structure_warning_names_the_column_that_varies_most_never_spend():
    text = _report(metrics=_metrics(clear_structure=False))
    assert "useful cuts of a continuum (from low to high visits, say)" in text
    assert "high spend" not in text
    # Without any numeric feature there is no example at all. A features
    # block without one is refused (features.numeric needs at least one), so
    # the case that reaches the report is no numeric feature profiled.
    categorical_only = {**FEATURES, "numeric": [], "roles": {}}
    with pytest.raises(ValueError, match="numeric"):
        FeatureSpec.parse(categorical_only)
    unprofiled = _profiles().drop(columns=["visits_z", "age_z"])
    assert varies_most(unprofiled, FeatureSpec.parse(FEATURES)) is None
    assert varies_most(_profiles(), FeatureSpec.parse(FEATURES)) == "visits"


def test_the_skewed_columns_note_is_true_for_any_column():
    transforms = {"visits": {"transform": "log1p"}, "age": {"transform": "yeo-johnson"}}
    metrics = _metrics(preprocessing={"transforms": transforms})
    note = (
        "Skewed columns were compared on a log-like scale, so that ten times more counts "
        "as one step, not as ten: visits, age."
    )
    assert note in _report(metrics=metrics)
    with_spend = {**FEATURES, "roles": {**FEATURES["roles"], "monetary": ["visits"]}}
    text = _report(features=with_spend, metrics=metrics)
    assert note in text and "spending" not in text and "ten times the" not in text


def test_mostly_only_for_a_clear_majority_as_shown():
    text = _report()
    assert "gender: largest group Male (50%)" in text
    assert "mostly Male (50%)" not in text
    assert "gender: mostly Male (90%)" in text


def test_outcomes_come_first_against_the_whole_base_and_not_as_a_mix():
    features = {
        **FEATURES,
        "profile_only": {"numeric": [], "categorical": ["churned"]},
        "outcomes": {"churned": {"kind": "churn", "positive": "Yes"}},
    }
    text = _report(features=features)
    # The base rate: (0.2*50 + 0.6*30 + 0.1*20) / 100 = 30%.
    table = text.split("<h2>Outcomes by segment</h2>")[1].split("</table>")[0]
    assert 'churned<br><span class="muted">all customers 30%</span>' in table
    rows = re.findall(
        r"<tr><td>(\d): [^<]*</td><td>(\d+)</td><td>(\d+%)</td> <td>(\d+%)</td>", table
    )
    assert rows == [("0", "50", "50%", "20%"), ("1", "30", "30%", "60%"), ("2", "20", "20%", "10%")]
    assert "<td>Win back</td><td>2</td>" in table
    # Each card opens with its outcome rate against the base, before the action.
    card = text.split("<h3>Segment 1: Low visits</h3>")[1].split("</div>", 2)[1]
    assert card.lstrip().startswith('<p class="outcome">churned 60% (all customers 30%)</p>')
    assert "churned: mostly" not in text and "churned: largest group" not in text


def test_the_report_says_how_many_customers_were_exported_and_why():
    text = _report(recommendations=_recommendations(targeted=(True, True, False)))
    assert "80 of 100 customers (80%) are exported to target_customers, from segments 0, 1." in text
    assert "Segment 2 (Typical customers): no evidence." in text
    none = _report(recommendations=_recommendations(targeted=(False, False, False)))
    assert "No customer is exported to target_customers." in none


def test_without_evidence_the_report_says_once_that_no_action_can_be_ranked():
    unranked = _recommendations(evidence=(False, False, False), targeted=(False,) * 3)
    text = _report(recommendations=unranked)
    assert text.count("No action can be ranked") == 1
    assert "no column is marked as spend (monetary) or purchase frequency in features.roles" in (
        text
    )
    assert "no outcome column (churn, campaign response) is named in features.outcomes" in text
    assert "Nurture" not in text  # the catch-all action is not repeated on every card
    ranked = _report()
    assert "No action can be ranked" not in ranked
    assert '<span class="action">Reward loyalty</span> · exported as targets' in ranked


def test_drift_is_shown_with_its_thresholds_and_a_verdict():
    assert "First run: nothing to compare." in _report()
    drift = {
        "previous_version": "2026-01-01T00.00.00.000Z",
        "segments_before": 4,
        "segments_now": 3,
        "psi": 0.31,
        "ari": 0.91,
        "max_centre_shift_sd": 0.2,
        "thresholds": {"max_psi": 0.25, "min_ari": 0.8, "max_centre_shift_sd": 0.5},
        "drifted": True,
        "breaches": ["segment shares shifted (PSI 0.310 > 0.25)"],
        "segments": [
            {"segment": 0, "previous_segment": 1, "centre_shift_sd": 0.2},
            {"segment": 1, "previous_segment": 0, "centre_shift_sd": 0.1},
        ],
    }
    text = _report(drift=drift)
    assert "Previous version 2026-01-01T00.00.00.000Z (4 segments then, 3 now)." in text
    assert (
        "<td>Shift of segment shares (PSI)</td><td>0.310</td><td>at most 0.25</td> "
        '<td class="breach">beyond</td>' in text
    )
    assert "<td>0.20 SD (segment 0, was 1)</td><td>at most 0.5 SD</td>" in text
    assert '<td>0.91</td><td>at least 0.8</td> <td class="">within</td>' in text
    assert "Changed since the previous run: segment shares shifted (PSI 0.310 &gt; 0.25)." in text
    calm = {**drift, "psi": 0.01, "drifted": False, "breaches": [], "segments_before": 3}
    text = _report(drift=calm)
    # Only what was measured: nothing about campaigns the previous run may not have had.
    assert "Stable: the segments are much as in the previous run (PSI 0.010, ARI 0.91)." in text
    assert "campaigns carry over" not in text
    assert "segments then" not in text


def test_where_the_numbers_come_from():
    assert "100 rows read from the customer table (content hash abababababab" in _report()
    summary = {
        "rows": 1000,
        "columns": ["customer_id", "date", "amount"],
        "sha256": "cd" * 32,
        "lines_per_rule": {"duplicate": 5, "future": 0, "return": 20},
        "purchase_lines": 975,
        "return_lines": 20,
        "revenue": {"gross": 12345.5, "returns": 400.25, "net": 11945.25},
        "rules": [
            {
                "rule": "duplicate",
                "description": "duplicate of an earlier line",
                "lines": 5,
                "value": 99.0,
            },
            {
                "rule": "future",
                "description": "dated after the snapshot date",
                "lines": 0,
                "value": 0.0,
            },
            {
                "rule": "return",
                "description": "return or cancellation",
                "lines": 20,
                "value": 400.25,
            },
        ],
    }
    text = _report(source=summary)
    section = text.split("Where the numbers come from</h2>")[1].split("<h2>")[0]
    assert "<td>Lines read from the transaction log</td><td>1,000</td>" in section
    assert "<td>Duplicate of an earlier line</td><td>5</td><td>99.00</td>" in section
    assert "dated after" not in section  # a rule that removed nothing is not listed
    assert "<td>Purchase lines kept</td><td>975</td>" in section
    assert "<td>12,345.50</td>" in section and "<td>\u2212400.25</td>" in section
    assert "<b>11,945.25</b>" in section
    assert "rows read from the customer table" not in section


def test_everything_from_the_data_is_escaped():
    profiles = _profiles()
    profiles["name"] = ["<script>x</script>", "Low visits", "Typical customers"]
    recommendations = _recommendations()
    recommendations["name"] = profiles["name"]
    text = _report(profiles=profiles, recommendations=recommendations)
    assert "<script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text


@pytest.mark.parametrize("share, word", [(0.554, "largest group"), (0.56, "mostly")])
def test_mostly_threshold(share, word):
    profiles = _profiles()
    profiles["gender=Male"] = [share, 0.9, 0.3]
    profiles["gender=Female"] = 1 - profiles["gender=Male"]
    assert f"gender: {word} Male ({share:.0%})" in _report(profiles=profiles)


@pytest.mark.parametrize(
    "value, column, shown",
    [(1970.4, "Year_Birth", "1970"), (1970.4, "Income", "1,970"), (52_247.3, "Income", "52,247")],
)
def test_years_are_not_written_with_a_thousands_separator(value, column, shown):
    assert _format(value, column) == shown


def _card(text: str, segment: int) -> str:
    return text.split(f"<h3>Segment {segment}: ")[1].split("</table>", maxsplit=1)[0]


def test_a_missing_mean_or_z_score_is_a_dash_never_nan():
    features = {**FEATURES, "numeric": ["visits", "age", "days_between_orders"]}
    profiles = _profiles()
    # Segment 1 holds one-order customers: no time between orders, no z-score.
    profiles["days_between_orders"] = [30.0, np.nan, 60.0]
    profiles["days_between_orders_z"] = [-0.5, np.nan, 0.5]
    customers = pd.DataFrame(
        {"visits": [12.0, 3, 6], "age": [40.0, 41, 39], "days_between_orders": [30, np.nan, 60]}
    )
    text = _report(features=features, profiles=profiles, customers=customers)
    assert "nan" not in text.lower()
    card = _card(text, 1)
    assert "<td>days between orders</td><td>\u2013</td>" in card
    row = card.split("<td>days between orders</td>")[1].split("</tr>")[0]
    assert row.endswith("<td>\u2013</td>")  # no made-up "+0.0" SD


def test_flags_read_as_percents_of_customers():
    features = {
        **FEATURES,
        "profile_only": {"numeric": ["owns_home"], "categorical": []},
    }
    profiles = _profiles()
    profiles["owns_home"] = [0.2, 0.38, 0.5]
    profiles["owns_home_z"] = [-0.4, 0.0, 0.3]
    customers = pd.DataFrame(
        {"visits": [12.0, 3, 6, 7], "age": [40.0, 41, 39, 40], "owns_home": [0, 1, 1, np.nan]}
    )
    text = _report(
        features=features, profiles=profiles, customers=customers, highlight=["owns_home"]
    )
    assert "<td>owns home</td><td>20%</td><td>67%</td>" in _card(text, 0)
    # A column with other values stays a number.
    assert "<td>visits</td><td>12</td><td>7</td>" in _card(text, 0)


def test_flag_columns_are_the_zero_one_columns_of_the_data():
    customers = pd.DataFrame(
        {
            "flag": [0, 1, np.nan],
            "yes": [True, False, True],
            "count": [0, 1, 2],
            "share": [0.2, 0.5, 1.0],
            "empty": [np.nan] * 3,
        }
    )
    assert flag_columns(customers, list(customers) + ["absent"]) == {"flag", "yes"}


@pytest.mark.parametrize(
    ("clear", "stable", "caution"),
    [
        (False, True, "but these segments are not clearly separate: check them before a campaign."),
        (
            True,
            False,
            "but these segments are not a stable split as a whole: check them before a campaign.",
        ),
        (
            False,
            False,
            "but these segments are not clearly separate or a stable split as a whole: check them before a campaign.",
        ),
    ],
)
def test_targets_of_doubtful_segments_repeat_the_caution(clear, stable, caution):
    metrics = _metrics(clear_structure=clear, selected_k_stable=stable)
    targets = _report(metrics=metrics).split("<h2>Customers to target</h2>")[1].split("</p>")[0]
    assert targets.strip().startswith("<p>50 of 100 customers (50%) are exported")
    assert targets.endswith(caution)
    sure = _report(metrics=_metrics(selected_k_stable=True))
    assert "check them before a campaign" not in sure


def test_no_priority_is_shown_when_nothing_is_ranked():
    features = {
        **FEATURES,
        "profile_only": {"numeric": [], "categorical": ["churned"]},
        "outcomes": {"churned": {"kind": "churn", "positive": "Yes"}},
    }
    unranked = _recommendations(evidence=(False, False, False), targeted=(False,) * 3)
    text = _report(features=features, recommendations=unranked)
    assert "Priority" not in text and "priority</th>" not in text
    assert '<div class="muted">50 customers (50%)</div>' in text
    ranked = _report(features=features)
    assert '<div class="muted">Priority 1 · 50 customers (50%)</div>' in ranked
    assert "<th>priority</th>" in ranked


def test_the_global_stability_warning_is_about_the_split_as_a_whole():
    """The split's bootstrap agreement (0.62) and each segment's Jaccard on
    its card (0.80, 0.75: stable) are different measures: the warning must
    not call "the 2 segments" unstable beside cards calling each stable."""
    metrics = {
        "selected_k": 2,
        "selected_k_stable": False,
        "scores": [{"k": 2, "stability_mean": 0.6234}, {"k": 3, "stability_mean": 0.9}],
        "algorithm": {"thresholds": {"min_stability": 0.8}},
    }
    recommendations = pd.DataFrame(
        {
            "segment": [0, 1],
            "unstable": [False, False],
            "evidence": [True, True],
            "value": [1.0, 2.0],
        }
    )
    warnings = warning_texts(
        metrics, recommendations, pd.DataFrame(), FeatureSpec.parse(FEATURES), {}
    )
    assert warnings == [
        "Repeating the analysis on resampled customers gives a noticeably different split as "
        "a whole (agreement 0.62, under 0.8): treat the boundaries with caution; each "
        "segment's own stability is on its card."
    ]


def test_the_outliers_note_says_what_was_clipped_in_the_columns_own_units():
    """Fixed quantiles of every column are clipped, not "a few unusual
    customers"; a whole-number column's bound reads as a whole number."""
    customers = pd.DataFrame(
        {"age": np.arange(18, 118, dtype=float), "salary": np.linspace(1000.0, 5000.0, 100)}
    )
    preprocessor = SegmentPreprocessor(numeric=["age", "salary"], clip_quantile=0.02).fit(customers)
    outliers = preprocessor.describe()["outliers"]
    assert outliers["age"]["above"]["bound"] == 115.0
    assert outliers["age"]["below"]["bound"] == 20.0
    notes = note_texts({"preprocessing": preprocessor.describe()}, {})
    assert notes[0].startswith(
        "Values beyond the 2% and 98% points of each column were held at those points, so that "
        "a few extreme values cannot form a segment of their own: 2 with age below 20; "
        "2 with age above 115; 2 with salary below 1,"
    )
    assert "unusual customers" not in notes[0]
