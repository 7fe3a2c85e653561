"""Customer tables in SQL databases: the embedded SQLite example end to end,
and a real PostgreSQL server when one is given (skipped otherwise)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from customer_segmentation.sources import content_hash
from tests.conftest import PROJECT_ROOT, run_session, version_file

pytestmark = pytest.mark.integration

POSTGRES_URL = os.environ.get("POSTGRES_URL")
CDNOW = PROJECT_ROOT / "data" / "01_raw" / "examples" / "cdnow_transactions.txt"


def _summary(project: Path, env_data: str) -> dict:
    path = f"{env_data}/08_reporting/raw_customers_summary.json"
    return json.loads(version_file(project, path).read_text())


def test_sqlite_example_generates_segments_and_scores_from_sql(project_copy):
    """`kedro run --env sqlite_example` writes the synthetic customers into
    SQLite and segments them from there; scoring reads its batch with a query;
    the run records what it read, since a SQL table has no versions."""
    run_session(project_copy, env="sqlite_example")
    database = project_copy / "data" / "01_raw" / "sqlite_example.db"
    with sqlite3.connect(database) as connection:
        table = pd.read_sql("SELECT * FROM customers", connection)
    assert len(table) == 600
    summary = _summary(project_copy, "data/sqlite_example")
    assert summary["rows"] == 600
    assert summary["sha256"] == content_hash(table)
    segments = pd.read_parquet(
        version_file(project_copy, "data/sqlite_example/07_model_output/customer_segments.parquet")
    )
    assert segments["customer_id"].tolist() == table["customer_id"].tolist()

    run_session(project_copy, "scoring", env="sqlite_example", params={})
    scored = pd.read_parquet(
        version_file(project_copy, "data/sqlite_example/07_model_output/scored_customers.parquet")
    )
    expected = table.loc[table["customer_id"] >= "C0001800", "customer_id"]
    assert sorted(scored["customer_id"]) == sorted(expected)
    batch = json.loads(
        version_file(
            project_copy, "data/sqlite_example/08_reporting/customers_to_score_summary.json"
        ).read_text()
    )
    assert batch["rows"] == len(expected)


def test_a_transaction_log_read_with_a_sql_query(project_copy):
    """transactions as a SQL query over a SQLite table holding the CDNOW log:
    the same features as from the text file, and the run records the rows
    and content hash of what the query returned."""
    log = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str})
    database = project_copy / "data" / "01_raw" / "shop.db"
    with sqlite3.connect(database) as connection:
        log.to_sql("purchases", connection, index=False)
    env = project_copy / "conf" / "shop"
    env.mkdir()
    (env / "catalog.yml").write_text(
        "transactions:\n"
        "  type: pandas.SQLQueryDataset\n"
        "  sql: SELECT customer_id, date, dollar_value FROM purchases WHERE dollar_value > 50\n"
        "  credentials: shop_database\n"
    )
    (project_copy / "conf" / "local" / "credentials.yml").write_text(
        f"shop_database:\n  con: sqlite:///{database}\n"
    )
    (env / "globals.yml").write_text("data_dir: data/shop\n")
    cdnow = (project_copy / "conf" / "cdnow_example" / "parameters.yml").read_text()
    (env / "parameters.yml").write_text(cdnow)
    run_session(project_copy, "customer_features", env="shop", params={})
    summary = json.loads(
        version_file(project_copy, "data/shop/08_reporting/transactions_summary.json").read_text()
    )
    columns = ["customer_id", "date", "dollar_value"]
    selected = log.loc[log["dollar_value"] > 50, columns].reset_index(drop=True)
    assert summary["rows"] == len(selected)
    assert summary["sha256"] == content_hash(selected)
    features = pd.read_parquet(
        version_file(project_copy, "data/shop/02_intermediate/customer_features.parquet")
    )
    assert len(features) == selected["customer_id"].nunique()
    assert features["monetary_total"].sum() == pytest.approx(selected["dollar_value"].sum())


@pytest.mark.skipif(
    not POSTGRES_URL,
    reason="no PostgreSQL server given: set POSTGRES_URL=postgresql+psycopg://user:password@"
    "host:5432/database to run this test against one",
)
def test_postgresql_with_credentials_kept_out_of_the_repository_and_the_logs(project_copy):
    """The customer table in PostgreSQL, its connection (password included)
    only in conf/local/credentials.yml: generated into the server, segmented
    from it, and the password in no log line."""
    env = project_copy / "conf" / "postgres"
    env.mkdir()
    (project_copy / "conf" / "local" / "credentials.yml").write_text(
        f"customers_database:\n  con: {POSTGRES_URL}\n"
    )
    (env / "catalog.yml").write_text(
        "raw_customers:\n"
        "  type: pandas.SQLTableDataset\n"
        "  table_name: segmentation_test_customers\n"
        "  credentials: customers_database\n"
        "  save_args: {if_exists: replace, index: false}\n"
        "  metadata: {generated_by: data_generation}\n"
    )
    (env / "globals.yml").write_text("data_dir: data/postgres\n")
    (env / "parameters.yml").write_text("preprocessing:\n  first_line: 1\n")
    run_session(project_copy, env="postgres")
    summary = _summary(project_copy, "data/postgres")
    assert summary["rows"] == 600
    table = pd.read_sql_table("segmentation_test_customers", POSTGRES_URL)
    assert summary["sha256"] == content_hash(table)
    password = POSTGRES_URL.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    logged = "".join(path.read_text() for path in (project_copy / "logs").glob("*.log"))
    assert not password or password not in logged
