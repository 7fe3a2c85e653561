"""The report's sentences on the deployed algorithm and on the customers
that sit on a boundary between segments, the confidence they read (kept by
the join of customers and segments) and the run summary's first line."""

import re

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.pipelines.segment_analysis.nodes import segment_customers
from customer_segmentation.pipelines.segment_analysis.report import build_segment_report
from customer_segmentation.pipelines.segment_analysis.report_sections import (
    algorithm_text,
    boundary_text,
)
from customer_segmentation.run_summary import structure_line

THRESHOLDS = {
    "min_bic_gain_per_1000": 10.0,
    "max_silhouette_loss": 0.05,
    "min_stability": 0.8,
    "min_segment_share": 0.02,
}
EVIDENCE = {
    "covariance_type": "full",
    "bic_gain_over_spherical_per_1000": 184.3,
    "stability": 0.934,
    "smallest_share": 0.31,
    "silhouette": 0.21,
}


def _choice(chosen: str, reason: str, **evidence) -> dict:
    return {
        "chosen": chosen,
        "reason": reason,
        "rule": "the rule in words",
        "setting": "auto" if reason != "forced" else chosen,
        "thresholds": THRESHOLDS,
        "kmeans": {"k": 2, "silhouette": 0.35},
        "gaussian_mixture": {**EVIDENCE, **evidence},
    }


def test_the_mixture_sentence_says_why_it_beat_round_segments():
    text = algorithm_text({"algorithm": _choice("gaussian_mixture", "shaped")})
    assert text == (
        "The segments come from a Gaussian mixture with full covariances (segments of any "
        "shape and tilt): it fits these customers clearly better than round segments (BIC "
        "better by 184 per 1,000 customers) and comes back on resampled customers (0.93); "
        "KMeans would draw round segments."
    )


@pytest.mark.parametrize(
    ("reason", "evidence", "words"),
    [
        (
            "round",
            {"bic_gain_over_spherical_per_1000": 3.24},
            "hardly better than round segments (BIC better by 3.2 per 1,000 customers, under 10)",
        ),
        (
            "not_reproducible",
            {"stability": 0.41},
            "does not come back on resampled customers (0.41, under 0.80)",
        ),
        ("small_component", {"smallest_share": 0.01}, "would hold only 1% of them (under 2%)"),
        ("less_separated", {}, "less distinct than KMeans's (silhouette 0.21 against 0.35)"),
    ],
)
def test_the_kmeans_sentence_names_the_test_the_mixture_failed(reason, evidence, words):
    text = algorithm_text({"algorithm": _choice("kmeans", reason, **evidence)})
    assert text.startswith("The segments come from KMeans (round segments): ")
    assert words in text


def test_a_forced_algorithm_says_it_was_set_and_old_metrics_say_nothing():
    forced = algorithm_text({"algorithm": _choice("gaussian_mixture", "forced")})
    assert forced.startswith("The segments come from a Gaussian mixture with full covariances")
    assert forced.endswith("as set in model_selection.algorithm.")
    assert "KMeans" in algorithm_text({"algorithm": _choice("kmeans", "forced")})
    assert algorithm_text({"selected_k": 2}) is None


def test_the_boundary_sentence_counts_customers_under_0_6_and_says_what_confidence_is():
    customers = pd.DataFrame({"confidence": [0.99, 0.55, 0.59, 0.6, 0.97]})
    mixture = {"algorithm": {"chosen": "gaussian_mixture"}}
    text = boundary_text(customers, mixture, total=5)
    assert text.startswith("2 of the 5 customers (40%) sit on a boundary between segments")
    assert "the mixture's probability that the customer belongs to its segment" in text
    kmeans = boundary_text(customers, {"algorithm": {"chosen": "kmeans"}}, total=5)
    assert "nearer the customer is to its segment's centre" in kmeans
    # On a sample of a larger base the share is an estimate, and says so.
    sampled = boundary_text(customers, mixture, total=5000)
    assert sampled.startswith("About 40% of the customers (2 of a sample of 5)")
    assert boundary_text(customers.drop(columns="confidence"), mixture, total=5) is None
    assert boundary_text(customers.assign(confidence=np.nan), mixture, total=5) is None


def test_the_boundary_sentence_says_whether_the_targets_leave_such_customers_out():
    """At the default min_confidence of 0 they are exported: the report must
    not say they are left out."""
    customers = pd.DataFrame({"confidence": [0.99, 0.55, 0.59, 0.6, 0.97]})
    kmeans = {"algorithm": {"chosen": "kmeans"}}
    default = boundary_text(customers, kmeans, total=5)
    assert default.endswith(
        "target_customers includes them, as segment_analysis.targeting.min_confidence is 0: "
        "set it (to 0.6, say) to leave such customers out."
    )
    assert "leaves out" not in default
    assert boundary_text(customers, kmeans, total=5, min_confidence=0.7).endswith(
        "target_customers leaves out those under segment_analysis.targeting.min_confidence (0.7)."
    )


def test_the_report_shows_both_sentences():
    profiles = pd.DataFrame(
        {
            "segment": [0, 1],
            "name": ["High visits", "Low visits"],
            "customers": [3, 1],
            "share": [0.75, 0.25],
            "visits": [10.0, 2.0],
            "visits_z": [1.0, -1.0],
        }
    )
    recommendations = pd.DataFrame(
        {
            "priority": [1, 2],
            "segment": [0, 1],
            "name": ["High visits", "Low visits"],
            "customers": [3, 1],
            "share": [0.75, 0.25],
            "value": [np.nan] * 2,
            "action": ["reward", "nurture"],
            "reason": ["Frequent.", "Rare."],
            "evidence": [False, False],
            "stability": [0.9, 0.9],
            "unstable": [False, False],
            "targeted": [False, False],
            "targeting": ["no evidence.", "no evidence."],
        }
    )
    metrics = {
        "selected_k": 2,
        "criterion": "silhouette",
        "clear_structure": True,
        "scores": [{"k": 2, "silhouette": 0.3}],
        "algorithm": _choice("gaussian_mixture", "shaped"),
    }
    customers = pd.DataFrame(
        {"visits": [9.0, 10, 11, 2], "segment": [0, 0, 0, 1], "confidence": [0.9, 0.5, 1, 1]}
    )
    features = {
        "id_column": "id",
        "numeric": ["visits"],
        "categorical": [],
        "profile_only": {"numeric": [], "categorical": []},
        "roles": {},
        "outcomes": {},
    }
    html = build_segment_report(
        profiles,
        recommendations,
        metrics,
        customers,
        b"",
        b"",
        b"",
        b"",
        {"previous_version": None, "drifted": False},
        {"rows": 4, "columns": ["id", "visits"], "sha256": "ab" * 32},
        features,
        {},
        [],
    )
    text = re.sub(r"\s+", " ", html)
    assert "The segments come from a Gaussian mixture with full covariances" in text
    assert "1 of the 4 customers (25%) sits on a boundary between segments" in text


@pytest.mark.parametrize("order", ["same", "shuffled"])
def test_segmented_customers_keep_each_customers_confidence(order):
    customers = pd.DataFrame({"id": ["a", "b", "c"], "visits": [1.0, 2.0, 3.0]})
    segments = pd.DataFrame(
        {"id": ["a", "b", "c"], "segment": [1, 0, 1], "confidence": [0.7, 0.99, 0.51]}
    )
    if order == "shuffled":
        segments = segments.iloc[[2, 0, 1]]
    joined = segment_customers(customers, segments, "id")
    assert joined["segment"].tolist() == [1, 0, 1]
    assert joined["confidence"].tolist() == [0.7, 0.99, 0.51]
    assert list(customers.columns) == ["id", "visits"]  # the input is not modified


def test_the_summary_names_the_deployed_algorithm_first():
    line = structure_line(
        {
            "selected_k": 2,
            "clear_structure": True,
            "algorithm": {"chosen": "gaussian_mixture"},
        }
    )
    assert line == "k = 2 segments (Gaussian mixture); clear structure"
    assert structure_line({"selected_k": 3, "algorithm": {"chosen": "kmeans"}}) == (
        "k = 3 segments (KMeans)"
    )
    assert structure_line({"selected_k": 3}) == "k = 3 segments"
