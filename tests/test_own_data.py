"""Your own data: `kedro configure-data` infers an environment from a file,
and the environment segments and scores that file as a user would run it."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import adjusted_rand_score

from customer_segmentation.own_data import inspect_source, write_environment
from customer_segmentation.own_reading import SourceError
from tests.conftest import PROJECT_ROOT, kedro_in_process, run_session, version_file, versions

EXAMPLES = PROJECT_ROOT / "data" / "01_raw" / "examples"


def _roles(inspection) -> dict[str, str]:
    return {column.name: column.role for column in inspection.columns}


def test_a_semicolon_crm_export_with_a_byte_order_mark():
    inspection = inspect_source(str(EXAMPLES / "marketing_campaign.csv"))
    assert inspection.load_args["sep"] == ";"
    assert inspection.load_args["encoding"] == "utf-8-sig"
    assert inspection.load_args["dtype"] == {"ID": "str"}
    roles = _roles(inspection)
    assert roles["ID"] == "id"
    assert roles["Z_CostContact"] == roles["Z_Revenue"] == "dropped"  # constant
    assert roles["Dt_Customer"] == "dropped"  # a date
    assert roles["Response"] == roles["AcceptedCmp1"] == roles["Complain"] == "profile_numeric"
    assert roles["Education"] == "categorical"
    assert roles["Marital_Status"] == "profile_categorical"  # a status: described, not clustered
    assert roles["Income"] == roles["MntWines"] == "numeric"
    meanings = {c.name: c.meaning for c in inspection.columns}
    assert meanings["MntWines"] == meanings["MntGoldProds"] == "monetary"
    assert meanings["NumStorePurchases"] == "frequency"
    assert meanings["NumWebVisitsMonth"] is None  # browsing the website, not buying
    assert meanings["Recency"] == "recency"
    assert meanings["Income"] == meanings["Year_Birth"] == meanings["Kidhome"] == "demographic"
    assert meanings["Response"] is None
    # Spend lines, income and channels move together (rank correlation up to 0.85, below
    # the 0.95 of a near-duplicate): all stay features.
    assert not [c.name for c in inspection.columns if c.why.startswith("moves with")]


def test_a_table_without_ids_and_with_label_codes():
    inspection = inspect_source(str(EXAMPLES / "wholesale_customers.csv"))
    assert inspection.id_column is None
    roles = _roles(inspection)
    assert roles["Channel"] == roles["Region"] == "profile_categorical"
    assert inspection.named("numeric") == [
        "Fresh",
        "Milk",
        "Grocery",
        "Frozen",
        "Detergents_Paper",
        "Delicassen",
    ]
    assert all(c.bounds == (0, None) for c in inspection.columns if c.role == "numeric")
    assert all("skewed" in c.why for c in inspection.columns if c.role == "numeric")


def test_ids_with_leading_zeros_free_text_gaps_and_missing_markers(tmp_path):
    rows = 60
    table = pd.DataFrame(
        {
            "client_ref": [f"{i:05d}" for i in range(rows)],
            "email": [f"person{i}@example.com" for i in range(rows)],
            "age": [20 + i % 50 for i in range(rows)],
            "spend": [str(10 * i) if i % 10 else "?" for i in range(rows)],
            "notes": [None] * (rows - 5) + ["vip"] * 5,
            "segment_code": [1 + i % 3 for i in range(rows)],
            "plan": ["basic", "plus", "premium"] * (rows // 3),
        }
    )
    source = tmp_path / "clients.tsv"
    table.to_csv(source, sep="\t", index=False)
    inspection = inspect_source(str(source))
    roles = _roles(inspection)
    assert inspection.load_args["sep"] == "\t"
    assert roles["client_ref"] == "id" and inspection.load_args["dtype"] == {"client_ref": "str"}
    assert roles["email"] == "dropped"  # free text
    assert roles["notes"] == "dropped"  # mostly empty
    assert roles["segment_code"] == "profile_categorical"
    assert roles["plan"] == "categorical"
    assert roles["spend"] == "numeric" and inspection.load_args["na_values"] == ["?"]
    ages = next(c for c in inspection.columns if c.name == "age")
    assert ages.bounds == (0, 120)
    assert {c.name: c.meaning for c in inspection.columns if c.meaning} == {
        "age": "demographic",
        "spend": "monetary",
    }


def test_the_source_is_never_written_and_an_environment_never_overwritten(tmp_path):
    source = tmp_path / "customers.csv"
    shutil.copy(EXAMPLES / "wholesale_customers.csv", source)
    before = source.read_bytes()
    inspection = inspect_source(str(source))
    written = write_environment(inspection, "mine", tmp_path)
    assert source.read_bytes() == before
    assert {p.name for p in written} == {"catalog.yml", "parameters.yml", "globals.yml"}
    parameters = yaml.safe_load((tmp_path / "conf/mine/parameters.yml").read_text())
    assert parameters["features"]["id_column"] is None
    # Spend per product group, but not named as spend: no role is proposed.
    assert parameters["features"]["roles"] == dict.fromkeys(
        ["monetary", "frequency", "recency", "tenure", "demographic"], []
    )
    assert "customer value cannot be judged" in (tmp_path / "conf/mine/parameters.yml").read_text()
    with pytest.raises(SourceError, match="already exists"):
        write_environment(inspection, "mine", tmp_path)
    with pytest.raises(SourceError, match="cannot be an environment name"):
        write_environment(inspection, "base", tmp_path)


@pytest.mark.integration
def test_leading_zero_ids_round_trip_through_training_targets_and_scoring(project_copy, customers):
    """`kedro configure-data` -> segmentation -> scoring on the same file, no
    hand edits: every id keeps its zeros, byte for byte."""
    table = customers.drop(columns="persona")
    table["customer_id"] = [f"{i:06d}" for i in range(len(table))]
    source = project_copy / "data" / "01_raw" / "clients.csv"
    table.to_csv(source, index=False)
    configured = kedro_in_process(project_copy, "configure-data", str(source), "--env", "clients")
    assert configured.returncode == 0, configured.stderr
    assert "customer_id" in configured.stdout and "kedro run --env clients" in configured.stdout

    run_session(project_copy, "segmentation", env="clients", params={})
    run_session(project_copy, "scoring", env="clients", params={})

    data = project_copy / "data" / "clients"
    ids = table["customer_id"].tolist()
    segments = pd.read_parquet(version_file(data, "07_model_output/customer_segments.parquet"))
    assert segments["customer_id"].tolist() == ids
    targets = version_file(data, "07_model_output/target_customers.csv").read_text()
    target_ids = [row[0] for row in list(csv.reader(io.StringIO(targets)))[1:]]
    assert targets.splitlines()[1].startswith('"0')  # text ids are quoted in the file
    assert target_ids and set(target_ids) <= set(ids) and target_ids[0].startswith("0")
    result = pd.read_parquet(version_file(data, "07_model_output/scored_customers.parquet"))
    assert result["customer_id"].tolist() == ids  # the training file: every row scored
    assert versions(data, "08_reporting/scoring_rejects.csv")


@pytest.mark.integration
def test_a_batch_with_half_its_rows_bad_fails_after_writing_the_rejects(trained_project):
    batch = pd.read_csv(EXAMPLES / "customers_to_score.csv", dtype={"customer_id": str})
    batch = batch.astype({"age": object})
    batch.loc[::2, "age"] = "unknown"
    (trained_project / "data" / "01_raw" / "examples" / "customers_to_score.csv").write_text(
        batch.to_csv(index=False)
    )
    result = kedro_in_process(trained_project, "run", "--pipelines", "scoring")
    assert result.returncode != 0
    assert "Error (TooManyRejectsError): Scoring rejected" in result.stderr
    assert "Traceback" not in result.stderr
    rejects = pd.read_csv(version_file(trained_project, "data/08_reporting/scoring_rejects.csv"))
    assert len(rejects) >= len(batch) // 2
    assert "Scoring rejected" in (trained_project / "logs" / "info.log").read_text()


@pytest.mark.integration
def test_wholesale_customers_from_file_to_report_without_hand_edits(project_copy):
    """The known two channels come out of the six skewed spend columns (the
    CLI itself is run by the leading-zero test)."""
    source = "data/01_raw/examples/wholesale_customers.csv"
    inspection = inspect_source(source)
    write_environment(inspection, "wholesale", project_copy)
    assert any("No id column found" in note for note in inspection.notes)
    run_session(project_copy, "segmentation", env="wholesale", params={})
    run_session(project_copy, "scoring", env="wholesale", params={})
    data = project_copy / "data" / "wholesale"
    metrics = json.loads(
        version_file(data, "08_reporting/model_selection_metrics.json").read_text()
    )
    assert metrics["clear_structure"] is True  # hotels/restaurants against retail
    assert metrics["k_choice"]["smallest_share"] >= 0.02
    segments = pd.read_parquet(version_file(data, "07_model_output/customer_segments.parquet"))
    channel = pd.read_csv(PROJECT_ROOT / source)["Channel"]
    assert adjusted_rand_score(channel, segments["segment"]) > 0.45  # plain KMeans: 0.21
    scored = pd.read_parquet(version_file(data, "07_model_output/scored_customers.parquet"))
    assert scored["row_number"].tolist() == [str(i) for i in range(1, 441)]
    profiles = pd.read_csv(version_file(data, "08_reporting/segment_profiles.csv"))
    assert {"Channel=1", "Channel=2"} <= set(profiles.columns)  # profiled, not clustered on
    assert Path(version_file(data, "08_reporting/segment_report.html")).stat().st_size > 10_000


def test_camel_case_ids_text_outcomes_and_blank_numbers(tmp_path):
    """A telecom churn export: customerID, a 0/1 flag, a Yes/No outcome, and
    a money column with a few blanks written as a space."""
    rows = 100
    table = pd.DataFrame(
        {
            "customerID": [f"{i:04d}-QWERT" for i in range(rows)],
            "SeniorCitizen": [i % 2 for i in range(rows)],
            "tenure": [i % 72 for i in range(rows)],
            "TotalCharges": [" " if i < 3 else f"{20.5 * i:.2f}" for i in range(rows)],
            "Churn": ["Yes" if i % 4 == 0 else "No" for i in range(rows)],
        }
    )
    source = tmp_path / "churn.csv"
    table.to_csv(source, index=False)
    inspection = inspect_source(str(source))
    roles = _roles(inspection)
    assert roles == {
        "customerID": "id",
        "SeniorCitizen": "profile_numeric",
        "tenure": "numeric",
        "TotalCharges": "numeric",
        "Churn": "profile_categorical",
    }
    assert inspection.load_args["na_values"] == [" "]


def test_a_sql_table_gets_a_catalog_entry_and_local_credentials(tmp_path, customers):
    database = tmp_path / "shop.db"
    url = f"sqlite:///{database}"
    customers.drop(columns="persona").astype({"product_category": str}).to_sql(
        "customers", url, index=False
    )
    inspection = inspect_source(url, table="customers")
    assert inspection.kind == "sql" and inspection.id_column == "customer_id"
    write_environment(inspection, "shop", tmp_path)
    catalog = yaml.safe_load((tmp_path / "conf/shop/catalog.yml").read_text())
    assert catalog["raw_customers"] == {
        "type": "pandas.SQLTableDataset",
        "table_name": "customers",
        "credentials": "shop_database",
    }
    credentials = yaml.safe_load((tmp_path / "conf/local/credentials.yml").read_text())
    assert credentials == {"shop_database": {"con": url}}
    parameters = yaml.safe_load((tmp_path / "conf/shop/parameters.yml").read_text())
    assert parameters["preprocessing"]["first_line"] == 1  # rows, not lines
    with pytest.raises(SourceError, match="name the table with --table"):
        inspect_source(url)


def test_a_row_counter_is_never_a_feature(tmp_path):
    """The unnamed index column of a pandas export: the id when nothing else
    is, never a feature."""
    rows = 50
    table = pd.DataFrame(
        {"spend": [float(i % 7) for i in range(rows)], "age": [30 + i % 20 for i in range(rows)]}
    )
    table.to_csv(tmp_path / "with_index.csv")  # writes an unnamed 0, 1, 2, ... column
    inspection = inspect_source(str(tmp_path / "with_index.csv"))
    assert inspection.id_column == "Unnamed: 0"
    table.insert(0, "client_id", [f"c{i}" for i in range(rows)])
    table.to_csv(tmp_path / "with_ids.csv")
    roles = _roles(inspect_source(str(tmp_path / "with_ids.csv")))
    assert roles["client_id"] == "id" and roles["Unnamed: 0"] == "dropped"


def test_known_labels_are_never_clustered_on(tmp_path):
    """A demographics file that carries a previous segmentation (A to D) and
    an id named CLIENTNUM: the labels are profiled, the id is the id."""
    rows = 80
    table = pd.DataFrame(
        {
            "CLIENTNUM": [700_000_000 + 37 * i for i in range(rows)],
            "Gender": ["Male", "Female"] * (rows // 2),
            "Age": [20 + i % 50 for i in range(rows)],
            "Profession": ["Artist", "Doctor", "Engineer", "Lawyer"] * (rows // 4),
            "Segmentation": ["A", "B", "C", "D"] * (rows // 4),
        }
    )
    table.to_csv(tmp_path / "demographics.csv", index=False)
    roles = _roles(inspect_source(str(tmp_path / "demographics.csv")))
    assert roles == {
        "CLIENTNUM": "id",
        "Gender": "profile_categorical",  # a sensitive attribute (own_sensitive)
        "Age": "numeric",
        "Profession": "categorical",
        "Segmentation": "profile_categorical",
    }
