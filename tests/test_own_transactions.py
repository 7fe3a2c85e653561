"""`kedro configure-data --transactions`: an environment for a transaction log."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from customer_segmentation.config import ProjectConfigLoader
from customer_segmentation.own_reading import SourceError
from customer_segmentation.own_transactions import write_transactions_environment
from customer_segmentation.parameters import validated_parameters
from customer_segmentation.settings import CONFIG_LOADER_ARGS
from tests.conftest import BASE_CONF, PROJECT_ROOT

CDNOW = PROJECT_ROOT / "data" / "01_raw" / "examples" / "cdnow_transactions.txt"


def _parameters(project, env):
    return yaml.safe_load((project / "conf" / env / "parameters.yml").read_text())


def _merged_parameters(project, env):
    """The parameters a run in ``env`` gets: conf/base merged with the
    environment, as the project's config loader merges them."""
    shutil.copytree(BASE_CONF, project / "conf" / "base", dirs_exist_ok=True)
    loader = ProjectConfigLoader(conf_source=str(project / "conf"), env=env, **CONFIG_LOADER_ARGS)
    return loader["parameters"]


def test_an_invoice_log_like_uci_online_retail(tmp_path):
    """Latin-1, month-first dates with times, float customer ids with gaps,
    cancelled invoices prefixed with C, quantity and unit price."""
    log = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536365", "C536379", "536380"],
            "StockCode": ["85123A", "71053", "D", "22728"],
            "Description": ["CRÈME BRÛLÉE SET", "WHITE METAL LANTERN", "Discount", "ALARM CLOCK"],
            "Quantity": [6, 6, -1, 24],
            "InvoiceDate": [
                "12/1/2010 8:26",
                "12/1/2010 8:26",
                "12/1/2010 9:41",
                "12/13/2010 9:41",
            ],
            "UnitPrice": [2.55, 3.39, 27.5, 3.75],
            "CustomerID": [17850.0, 17850.0, None, 13047.0],
            "Country": ["United Kingdom"] * 4,
        }
    )
    source = tmp_path / "online_retail.csv"
    log.to_csv(source, index=False, encoding="latin-1")
    written, printed = write_transactions_environment(str(source), "retail", tmp_path)
    assert {path.name for path in written} == {"catalog.yml", "parameters.yml", "globals.yml"}
    settings = _parameters(tmp_path, "retail")["customer_features"]
    assert settings["columns"] == {
        "customer_id": "CustomerID",
        "order_id": "InvoiceNo",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
        "timestamp": "InvoiceDate",
        "amount": None,
        "category": None,
        "channel": None,
    }
    assert settings["cancellation_prefix"] == "C"
    assert (settings["dayfirst"], settings["duplicates"]) == (False, "drop")
    catalog = yaml.safe_load((tmp_path / "conf" / "retail" / "catalog.yml").read_text())
    assert catalog["transactions"]["load_args"]["encoding"] == "cp1252"
    assert catalog["transactions"]["load_args"]["dtype"] == {
        "CustomerID": "str",
        "InvoiceNo": "str",
    }
    assert any("segmentation_from_transactions" in line for line in printed)
    assert any(line.strip().endswith("--pipelines scoring") for line in printed)
    # Scoring from a log: the same log until pointed at the nightly one, and
    # `--pipelines scoring` right after training scores the derived features.
    assert catalog["transactions_to_score"] == catalog["transactions"]
    assert catalog["customers_to_score"] == {
        "type": "customer_segmentation.datasets.ParquetDataset",  # previews the newest complete
        "filepath": "${globals:data_dir}/02_intermediate/customer_features.parquet",
        "versioned": True,
    }
    assert _parameters(tmp_path, "retail")["scoring"]["first_line"] == 1
    validated_parameters(_merged_parameters(tmp_path, "retail"))
    with pytest.raises(SourceError, match="already exists"):
        write_transactions_environment(str(source), "retail", tmp_path)


def test_an_excel_workbook_as_uci_publishes_it(tmp_path):
    """Online Retail.xlsx: dates are Excel dates, customer ids numbers."""
    log = pd.DataFrame(
        {
            "InvoiceNo": [536365, 536365, "C536379"],
            "Quantity": [6, 2, -1],
            "InvoiceDate": pd.to_datetime(
                ["2010-12-01 08:26", "2010-12-01 08:26", "2010-12-01 09:41"]
            ),
            "UnitPrice": [2.55, 3.39, 27.5],
            "CustomerID": [17850.0, 17850.0, 14527.0],
        }
    )
    source = tmp_path / "Online Retail.xlsx"
    log.to_excel(source, index=False)
    write_transactions_environment(str(source), "retail", tmp_path)
    catalog = yaml.safe_load((tmp_path / "conf" / "retail" / "catalog.yml").read_text())
    assert catalog["transactions"]["type"] == "pandas.ExcelDataset"
    settings = _parameters(tmp_path, "retail")["customer_features"]
    assert settings["columns"]["timestamp"] == "InvoiceDate"
    assert settings["cancellation_prefix"] == "C"
    assert settings["first_line"] == 2


def test_a_log_without_order_ids_or_times_keeps_equal_lines(tmp_path):
    write_transactions_environment(str(CDNOW), "cdnow", tmp_path)
    parameters = _parameters(tmp_path, "cdnow")
    settings = parameters["customer_features"]
    assert settings["columns"]["customer_id"] == "customer_id"
    assert settings["columns"]["timestamp"] == "date"
    assert settings["columns"]["amount"] == "dollar_value"
    assert settings["duplicates"] == "keep"  # two equal purchases on one day
    assert parameters["features"]["roles"]["recency"] == ["recency_days"]


@pytest.mark.parametrize("env", ["written", "cdnow_example"])
def test_only_frequency_takes_the_frequency_role(tmp_path, env):
    """orders_per_week (orders over tenure) is nearly flat: averaged into the
    frequency role it halved a frequent segment's score, so it stays
    profile-only, without a role, both in what configure-data writes and in
    the CDNOW example."""
    if env == "written":
        source = tmp_path / "log.csv"
        source.write_text(
            "customer_id,date,amount\n1,2024-01-03,10.5\n1,2024-02-03,12.0\n2,2024-01-05,7.25\n"
        )
        write_transactions_environment(str(source), env, tmp_path)
        features = _parameters(tmp_path, env)["features"]
    else:
        features = _parameters(PROJECT_ROOT, env)["features"]
    assert features["roles"]["frequency"] == ["frequency"]
    assert "orders_per_week" in features["profile_only"]["numeric"]
    assert not any("orders_per_week" in names for names in features["roles"].values())


def test_a_log_whose_columns_cannot_be_told_apart_is_explained(tmp_path):
    source = tmp_path / "mystery.csv"
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv(source, index=False)
    with pytest.raises(
        SourceError, match=r"could not tell which columns are the customer_id and timestamp among"
    ):
        write_transactions_environment(str(source), "mystery", tmp_path)


def test_a_log_without_amounts_is_segmented_on_recency_frequency_and_tenure(tmp_path):
    """lifetimes' example_transactions.csv: only a date and a repeated plain
    ``id``. Recency, frequency and tenure need no amount; spend is unknown."""
    source = tmp_path / "example_transactions.csv"
    source.write_text(
        "date,id\n2014-03-08 00:00:00,0\n2014-05-21 00:00:00,1\n"
        "2014-03-14 00:00:00,2\n2014-04-09 00:00:00,2\n2014-05-21 00:00:00,2\n"
    )
    _, printed = write_transactions_environment(str(source), "lifetimes", tmp_path)
    parameters = _parameters(tmp_path, "lifetimes")
    settings, features = parameters["customer_features"], parameters["features"]
    assert settings["columns"] == {
        "customer_id": "id",
        "timestamp": "date",
        "amount": None,
        "quantity": None,
        "unit_price": None,
        "order_id": None,
        "category": None,
        "channel": None,
    }
    assert settings["duplicates"] == "keep"  # midnight on every line: dates without times
    money = {"monetary_total", "average_order_value", "return_share", "category_shares"}
    assert {"recency_days", "frequency", "tenure_days"} <= set(settings["compute"])
    assert not money & set(settings["compute"])
    assert features["numeric"] == ["recency_days", "frequency", "tenure_days"]
    assert not money & set(features["profile_only"]["numeric"])
    assert features["roles"]["monetary"] == []
    assert features["roles"]["frequency"] == ["frequency"]
    assert any("spend is unknown" in line and "rests on frequency" in line for line in printed)
    catalog = yaml.safe_load((tmp_path / "conf" / "lifetimes" / "catalog.yml").read_text())
    assert catalog["transactions"]["load_args"]["dtype"] == {"id": "str"}
    merged = _merged_parameters(tmp_path, "lifetimes")
    validated_parameters(merged)  # base's monetary role is cleared, not merged in
    assert merged["features"]["roles"]["monetary"] == []
    assert merged["customer_features"]["columns"]["amount"] is None


@pytest.mark.parametrize(
    ("columns", "customer_id"),
    [
        (["ID", "InvoiceDate", "Amount"], "ID"),
        (["uid", "timestamp", "value"], "uid"),
        (["id", "order_date", "user_id", "total"], "user_id"),  # named like a customer's first
        (["CLIENTNUM", "date", "spend"], "CLIENTNUM"),
    ],
)
def test_a_log_takes_a_customer_named_column_else_a_plain_id(tmp_path, columns, customer_id):
    values = {
        "date": ["2021-01-04", "2021-01-09", "2021-02-01"],
        "id": ["7", "7", "9"],
        "amount": [12.5, 3.0, 40.0],
    }
    kind = {c: "date" if "date" in c.lower() or "time" in c.lower() else "id" for c in columns}
    kind.update({c: "amount" for c in columns[-1:]})
    pd.DataFrame({c: values[kind[c]] for c in columns}).to_csv(tmp_path / "log.csv", index=False)
    write_transactions_environment(str(tmp_path / "log.csv"), "log", tmp_path)
    settings = _parameters(tmp_path, "log")["customer_features"]
    assert settings["columns"]["customer_id"] == customer_id
    assert settings["columns"]["amount"] == columns[-1]
