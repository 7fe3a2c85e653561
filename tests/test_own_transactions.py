"""`kedro configure-data --transactions`: an environment for a transaction log."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from customer_segmentation.own_data import SourceError
from customer_segmentation.own_transactions import write_transactions_environment
from tests.conftest import PROJECT_ROOT

CDNOW = PROJECT_ROOT / "data" / "01_raw" / "examples" / "cdnow_transactions.txt"


def _parameters(project, env):
    return yaml.safe_load((project / "conf" / env / "parameters.yml").read_text())


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
        "type": "pandas.ParquetDataset",
        "filepath": "${globals:data_dir}/02_intermediate/customer_features.parquet",
        "versioned": True,
    }
    assert _parameters(tmp_path, "retail")["scoring"]["first_line"] == 1
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


def test_a_log_whose_columns_cannot_be_told_apart_is_explained(tmp_path):
    source = tmp_path / "mystery.csv"
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv(source, index=False)
    with pytest.raises(SourceError, match="could not tell which columns are the customer_id"):
        write_transactions_environment(str(source), "mystery", tmp_path)
