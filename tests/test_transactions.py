"""From a transaction log to segments: the CDNOW worked example end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest

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
