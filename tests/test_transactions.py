"""From a transaction log to segments, and scoring the customers of another
log: the CDNOW worked example end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from customer_segmentation.pipeline_registry import register_pipelines
from tests.conftest import PROJECT_ROOT, run_session, version_file

pytestmark = pytest.mark.integration

CDNOW = PROJECT_ROOT / "data" / "01_raw" / "examples" / "cdnow_transactions.txt"
OUTPUT = "data/cdnow_example"


def test_cdnow_log_to_customer_features_segments_and_report(project_copy):
    run_session(project_copy, "segmentation_from_transactions", env="cdnow_example", params={})
    log = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str})
    summary = json.loads(
        version_file(project_copy, f"{OUTPUT}/08_reporting/transactions_summary.json").read_text()
    )
    assert summary["rows"] == len(log) == 69_659
    free = log["dollar_value"] == 0  # the only dirt in this log: $0 lines
    assert summary["lines_per_rule"]["zero_or_negative_price"] == free.sum()
    assert summary["lines_per_rule"]["duplicate"] == 0  # kept: equal purchases on one day
    rejects = pd.read_csv(
        version_file(project_copy, f"{OUTPUT}/02_intermediate/transaction_rejects.csv"),
        dtype={"customer_id": str},
    )
    assert rejects["line"].tolist() == (log.index[free] + 2).tolist()

    features = pd.read_parquet(
        version_file(project_copy, f"{OUTPUT}/02_intermediate/customer_features.parquet")
    ).set_index("customer_id")
    bought = log[~free]
    assert len(features) == bought["customer_id"].nunique()
    assert features.index[0] == "00001"  # zero-padded ids stay text
    # Customer 00002 bought twice on 1997-01-12: one order of $89.
    two = features.loc["00002"]
    assert (two["frequency"], two["monetary_total"]) == (1, pytest.approx(89.0))
    assert two["recency_days"] == (pd.Timestamp("1998-07-01") - pd.Timestamp("1997-01-12")).days
    orders = bought.drop_duplicates(["customer_id", "date"]).groupby("customer_id").size()
    pd.testing.assert_series_equal(
        features["frequency"], orders.rename("frequency"), check_names=False, check_dtype=False
    )

    recommendations = pd.read_csv(
        version_file(project_copy, f"{OUTPUT}/08_reporting/segment_recommendations.csv")
    )
    assert recommendations["action"].nunique() >= 2  # RFM roles drive the actions
    assert recommendations["customers"].sum() == len(features)
    report = version_file(project_copy, f"{OUTPUT}/08_reporting/segment_report.html").read_text()
    assert all(name in report for name in recommendations["name"])


def test_customers_of_a_new_log_are_scored_or_rejected(project_copy):
    """Train on the CDNOW log, then score the customers of the log as it
    stood a month earlier (a log holds each customer's whole history), with
    a big spender and a customer with only a return: every customer with a
    purchase is scored or rejected, never both."""
    run_session(project_copy, "segmentation_from_transactions", env="cdnow_example", params={})
    log = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str})
    nightly = pd.concat(
        [
            log[log["date"] < 19980601],
            pd.DataFrame(
                {
                    "customer_id": ["88888", "77777"],
                    "date": [19970115, 19980520],
                    "number_of_cds": [1, -1],
                    "dollar_value": [10_000_000.0, -15.0],  # a big spender; a return only
                }
            ),
        ],
        ignore_index=True,
    )
    nightly.to_csv(project_copy / "data" / "01_raw" / "nightly.txt", sep=" ", index=False)
    catalog_file = project_copy / "conf" / "cdnow_example" / "catalog.yml"
    catalog = yaml.safe_load(catalog_file.read_text())
    catalog["transactions_to_score"]["filepath"] = "data/01_raw/nightly.txt"
    catalog_file.write_text(yaml.safe_dump(catalog))

    run_session(project_copy, "scoring_from_transactions", env="cdnow_example", params={})
    summary = json.loads(
        version_file(
            project_copy, f"{OUTPUT}/08_reporting/transactions_to_score_summary.json"
        ).read_text()
    )
    assert summary["rows"] == len(nightly)
    assert summary["revenue"]["returns"] == pytest.approx(15.0)
    features = pd.read_parquet(
        version_file(project_copy, f"{OUTPUT}/02_intermediate/features_to_score.parquet")
    )
    bought = nightly[nightly["dollar_value"] > 0]
    assert sorted(features["customer_id"]) == sorted(bought["customer_id"].unique())
    # Recency from the nightly log's own last day, not the training log's.
    assert features["recency_days"].min() == 1
    scored = pd.read_parquet(
        version_file(project_copy, f"{OUTPUT}/07_model_output/scored_customers.parquet")
    )
    rejects = pd.read_csv(
        version_file(project_copy, f"{OUTPUT}/08_reporting/scoring_rejects.csv"),
        dtype={"customer_id": str},
    )
    assert len(scored) > 0.95 * len(features)
    assert not set(scored["customer_id"]) & set(rejects["customer_id"])
    assert sorted([*scored["customer_id"], *rejects["customer_id"]]) == sorted(
        features["customer_id"]
    )


def test_the_report_reads_the_summary_of_its_source_and_a_log_can_be_scored():
    pipelines = register_pipelines()
    for name in ("segment_analysis", "segmentation", "__default__"):
        assert "raw_customers_summary" in pipelines[name].all_inputs()
        assert "source_summary" not in pipelines[name].all_inputs()
    from_log = pipelines["segmentation_from_transactions"]
    assert "transactions_summary" in from_log.all_inputs()
    assert "raw_customers_summary" not in from_log.all_inputs()  # written, not reported
    scoring = pipelines["scoring_from_transactions"]
    assert "transactions_to_score" in scoring.inputs()
    assert {"features_to_score", "transactions_to_score_rejects"} <= scoring.all_outputs()
    assert {"transactions", "customers_to_score", "customer_features"}.isdisjoint(
        scoring.all_inputs() | scoring.all_outputs()
    )
