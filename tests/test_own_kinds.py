"""`kedro configure-data` on the kinds of customer tables users bring: small
tables with the real column names and realistic values of a bank churn
table, a telecom churn table, a credit-card behaviour table, a mall loyalty
table and a demographics table (ids, units and roles, outcomes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro_datasets.pandas import CSVDataset

from customer_segmentation.features import (
    FeatureSpec,
    InvalidCustomerDataError,
    validate_customer_table,
)
from customer_segmentation.own_data import inspect_source, write_environment
from customer_segmentation.own_units import as_numbers, unit_of
from tests.conftest import PROJECT_ROOT

ROWS = 40


def _bank() -> pd.DataFrame:
    """Like Kaggle's Churn_Modelling: a row counter beside the customer id."""
    r = np.random.default_rng(4)
    return pd.DataFrame(
        {
            "RowNumber": range(1, ROWS + 1),
            "CustomerId": 15634602 + r.permutation(ROWS) * 1371,
            "Surname": r.choice(["Hargrave", "Hill", "Onio", "Boni", "Chu"], ROWS),
            "CreditScore": r.integers(350, 850, ROWS),
            "Geography": r.choice(["France", "Spain", "Germany"], ROWS),
            "Age": r.integers(18, 92, ROWS),
            "Tenure": r.integers(0, 10, ROWS),
            "Balance": np.where(r.random(ROWS) < 0.3, 0.0, r.uniform(3e3, 2.5e5, ROWS).round(2)),
            "NumOfProducts": r.integers(1, 4, ROWS),
            "HasCrCard": r.choice([0, 1], ROWS),
            "EstimatedSalary": r.uniform(11, 199992, ROWS).round(2),
            "Exited": r.choice([0, 0, 0, 1], ROWS),
        }
    )


def _telco() -> pd.DataFrame:
    """Like IBM's Telco churn: customerID, a Yes/No outcome, blanks in TotalCharges."""
    r = np.random.default_rng(3)
    tenure = r.integers(0, 72, ROWS)
    monthly = r.uniform(18, 118, ROWS).round(2)
    return pd.DataFrame(
        {
            "customerID": [f"{7590 + i}-VHVEG" for i in range(ROWS)],
            "SeniorCitizen": r.choice([0, 1], ROWS),
            "tenure": tenure,
            "Contract": r.choice(["Month-to-month", "One year", "Two year"], ROWS),
            "MonthlyCharges": monthly,
            "TotalCharges": [" " if t == 0 else f"{m * t:.2f}" for m, t in zip(monthly, tenure)],
            "Churn": r.choice(["No", "No", "Yes"], ROWS),
        }
    )


def _card() -> pd.DataFrame:
    """Like Kaggle's CC GENERAL: money, 0-1 frequency scores, counts, a share."""
    r = np.random.default_rng(2)
    purchases = (r.gamma(1.0, 1000, ROWS) * 100).round() / 100
    purchases[0] = 49039.57
    return pd.DataFrame(
        {
            "CUST_ID": [f"C{10001 + i}" for i in range(ROWS)],
            "BALANCE": r.gamma(1.0, 1500, ROWS).round(6),
            "BALANCE_FREQUENCY": r.choice([0.818182, 0.909091, 1.0, 0.636364], ROWS),
            "PURCHASES": purchases,
            # One-off purchases are a part of purchases, a different part per customer.
            "ONEOFF_PURCHASES": (purchases * r.choice([0.0, 0.3, 0.8, 1.0], ROWS)).round(2),
            "CASH_ADVANCE": r.gamma(0.5, 900, ROWS).round(6),
            "PURCHASES_FREQUENCY": r.choice([0.0, 0.083333, 0.5, 1.0], ROWS),
            "CASH_ADVANCE_FREQUENCY": r.choice([0.0, 0.166667, 0.25], ROWS),
            "CASH_ADVANCE_TRX": r.integers(0, 20, ROWS),
            "PURCHASES_TRX": r.integers(0, 60, ROWS),
            "CREDIT_LIMIT": r.choice([1000.0, 7000.0, 2500.0, 12000.0], ROWS),
            "PAYMENTS": r.gamma(1.0, 1700, ROWS).round(6),
            "PRC_FULL_PAYMENT": r.choice([0.0, 0.222222, 0.5, 1.0], ROWS),
            "TENURE": r.choice([12, 12, 12, 8, 6], ROWS),
        }
    )


def _mall() -> pd.DataFrame:
    """Like Kaggle's Mall_Customers: the customer id is 1..n."""
    r = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "CustomerID": range(1, ROWS + 1),
            "Gender": r.choice(["Male", "Female"], ROWS),
            "Age": r.integers(18, 70, ROWS),
            "Annual Income (k$)": r.integers(15, 137, ROWS),
            "Spending Score (1-100)": r.integers(1, 100, ROWS),
        }
    )


def _inspect(tmp_path, table: pd.DataFrame, name: str = "customers.csv"):
    table.to_csv(tmp_path / name, index=False)
    return inspect_source(str(tmp_path / name))


def _columns(inspection) -> dict:
    return {c.name: (c.role, c.meaning) for c in inspection.columns}


def test_a_customer_id_beats_a_row_counter_and_names_are_never_features(tmp_path):
    inspection = _inspect(tmp_path, _bank())
    columns = _columns(inspection)
    assert inspection.id_column == "CustomerId"
    assert columns["RowNumber"][0] == columns["Surname"][0] == "dropped"
    assert columns["Exited"][0] == "profile_numeric"
    assert columns["EstimatedSalary"] == ("numeric", "demographic")
    assert columns["Balance"] == columns["CreditScore"] == ("numeric", None)
    assert "RowNumber" not in inspection.named("numeric")
    why = {c.name: c.why for c in inspection.columns}
    assert "counts rows" in why["RowNumber"] and "name" in why["Surname"]


def test_other_id_named_columns_are_dropped_with_the_reason(tmp_path):
    table = _mall().assign(
        account_no=lambda t: 9_000_000 + t["CustomerID"] * 37, zip_code=range(10_000, 10_040)
    )
    inspection = _inspect(tmp_path, table)
    columns = _columns(inspection)
    assert inspection.id_column == "CustomerID"  # customer-named, though it counts 1..n
    assert columns["account_no"][0] == columns["zip_code"][0] == "dropped"
    assert not {"account_no", "zip_code", "CustomerID"} & set(inspection.named("numeric"))


def test_a_repeated_id_stays_the_id_is_named_and_stops_the_run(tmp_path):
    table = _telco()
    table.loc[[5, 17], "customerID"] = table.loc[3, "customerID"]
    inspection = _inspect(tmp_path, table)
    assert inspection.id_column == "customerID"
    note = next(n for n in inspection.notes if "repeats" in n)
    assert table.loc[3, "customerID"] in note and "lines 5, 7, 19" in note
    write_environment(inspection, "telco", tmp_path)
    catalog = yaml.safe_load((tmp_path / "conf/telco/catalog.yml").read_text())
    parameters = yaml.safe_load((tmp_path / "conf/telco/parameters.yml").read_text())
    assert parameters["features"]["id_column"] == "customerID"
    entry = catalog["raw_customers"]
    loaded = CSVDataset(
        filepath=str(tmp_path / entry["filepath"]), load_args=entry["load_args"]
    ).load()
    with pytest.raises(InvalidCustomerDataError, match="customerID.*duplicate id.*line 5"):
        validate_customer_table(
            loaded, FeatureSpec.parse(parameters["features"]), 3, "raw_customers", 2
        )


def test_units_and_roles_of_a_credit_card_table(tmp_path):
    inspection = _inspect(tmp_path, _card())
    columns = _columns(inspection)
    assert inspection.id_column == "CUST_ID"
    assert columns["PURCHASES"] == columns["ONEOFF_PURCHASES"] == ("numeric", "monetary")
    assert columns["PAYMENTS"] == ("numeric", "monetary")
    assert columns["PRC_FULL_PAYMENT"] == ("numeric", None)  # a share, never money
    assert columns["PURCHASES_TRX"] == columns["PURCHASES_FREQUENCY"] == ("numeric", "frequency")
    for not_purchases in ("BALANCE_FREQUENCY", "CASH_ADVANCE_FREQUENCY", "CASH_ADVANCE_TRX"):
        assert columns[not_purchases] == ("numeric", None)
    assert columns["BALANCE"] == columns["CREDIT_LIMIT"] == ("numeric", None)
    assert columns["TENURE"] == ("numeric", "tenure")
    why = {c.name: c.why for c in inspection.columns}
    assert why["PURCHASES"].startswith("money (decimal amounts up to 49,040; name says purchases)")
    assert why["PRC_FULL_PAYMENT"].startswith("share 0-1")
    assert why["PURCHASES_TRX"].startswith("count (whole numbers")
    assert why["PURCHASES_FREQUENCY"].startswith("how-often score 0-1")
    write_environment(inspection, "card", tmp_path)
    text = (tmp_path / "conf/card/parameters.yml").read_text()
    assert (
        "  #   PRC_FULL_PAYMENT: share 0-1 (decimals from 0 to 1; name says prc): no role" in text
    )
    roles = yaml.safe_load(text)["features"]["roles"]
    assert roles["monetary"] == ["PURCHASES", "ONEOFF_PURCHASES", "PAYMENTS"]


def test_income_is_demographic_and_a_spending_score_is_no_spend(tmp_path):
    columns = _columns(_inspect(tmp_path, _mall()))
    assert columns["Annual Income (k$)"] == ("numeric", "demographic")
    assert columns["Spending Score (1-100)"] == ("numeric", None)
    assert columns["Age"] == ("numeric", "demographic")


@pytest.mark.parametrize(
    ("values", "positive"),
    [
        (["Existing Customer", "Attrited Customer", "Existing Customer"], "Attrited Customer"),
        (["No", "Yes", "No"], "Yes"),
        (["False", "True", "False"], True),  # pandas reads these as booleans
        (["stayed", "gone", "stayed"], "gone"),  # the rarer value
    ],
)
def test_text_outcomes_and_their_positive_value(tmp_path, values, positive):
    table = _mall().assign(Attrition_Flag=(values * ROWS)[:ROWS])
    inspection = _inspect(tmp_path, table)
    write_environment(inspection, "mall", tmp_path)
    features = yaml.safe_load((tmp_path / "conf/mall/parameters.yml").read_text())["features"]
    assert features["outcomes"] == {"Attrition_Flag": {"kind": "churn", "positive": positive}}
    assert features["profile_only"]["categorical"] == ["Gender", "Attrition_Flag"]


def test_outcomes_of_churn_tables_and_a_crm_export(tmp_path):
    bank = _inspect(tmp_path, _bank(), "bank.csv")
    assert {c.name: c.outcome for c in bank.columns if c.outcome} == {"Exited": ("churn", 1)}
    telco = _inspect(tmp_path, _telco(), "telco.csv")
    assert {c.name: c.outcome for c in telco.columns if c.outcome} == {"Churn": ("churn", "Yes")}
    crm = inspect_source(str(PROJECT_ROOT / "data/01_raw/examples/marketing_campaign.csv"))
    outcomes = {c.name: c.outcome for c in crm.columns if c.outcome}
    assert outcomes["Response"] == outcomes["AcceptedCmp1"] == ("response", 1)
    assert outcomes["Complain"] == ("churn", 1)
    write_environment(crm, "crm", tmp_path)
    features = yaml.safe_load((tmp_path / "conf/crm/parameters.yml").read_text())["features"]
    assert set(features["outcomes"]) <= set(features["profile_only"]["numeric"])
    assert features["outcomes"]["Response"] == {"kind": "response", "positive": 1}


def _credit() -> pd.DataFrame:
    """Like Greene's credit-card expenditure data: income in $10,000s and its
    square, average monthly expenditure in dollars and cents, counts and flags."""
    r = np.random.default_rng(6)
    income = r.uniform(1.5, 10.0, ROWS).round(4)
    income[:2] = [10.0, 0.6325]
    return pd.DataFrame(
        {
            "MDR": r.integers(0, 8, ROWS),
            "ACC": r.integers(0, 10, ROWS),
            "AGE": r.uniform(20, 70, ROWS).round(4),
            "INCOME": income,
            "AVGEXP": r.gamma(1.0, 190, ROWS).round(2),
            "OWNRENT": r.integers(0, 2, ROWS),
            "INCOMESQ": (income**2).round(4),
        }
    )


def test_a_feature_that_moves_with_an_earlier_one_is_profiled_not_clustered(tmp_path):
    inspection = _inspect(tmp_path, _credit())
    columns = _columns(inspection)
    assert columns["INCOME"] == ("numeric", "demographic")
    assert columns["INCOMESQ"] == ("profile_numeric", None)  # counted once, in value too
    assert "INCOMESQ" not in inspection.named("numeric")
    why = {c.name: c.why for c in inspection.columns}
    assert why["INCOMESQ"].startswith(
        "moves with INCOME (rank correlation 1.00): profiled, not clustered on, "
        "so it does not count twice"
    )
    write_environment(inspection, "credit", tmp_path)
    features = yaml.safe_load((tmp_path / "conf/credit/parameters.yml").read_text())["features"]
    assert "INCOMESQ" in features["profile_only"]["numeric"]
    FeatureSpec.parse(features)


def test_near_duplicates_keep_the_first_and_compare_with_kept_features_only(tmp_path):
    """A rank transform (a square, a log, a total of twelve months) moves
    together; a merely related column does not."""
    r = np.random.default_rng(7)
    spend = r.gamma(2.0, 300, 200).round(2)
    table = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(200)],
            "monthly_spend": spend,
            "annual_spend": spend * 12,
            "log_spend": np.log1p(spend).round(6),
            "visits": (spend / 50 + r.normal(0, 6, 200)).clip(0).round(),
        }
    )
    inspection = _inspect(tmp_path, table)
    moved = {c.name for c in inspection.columns if c.why.startswith("moves with monthly_spend")}
    assert moved == {"annual_spend", "log_spend"}
    assert inspection.named("numeric") == ["monthly_spend", "visits"]


def test_decimals_are_not_called_amounts_unless_money(tmp_path):
    why = {c.name: c.why for c in _inspect(tmp_path, _credit().drop(columns="INCOME")).columns}
    assert why["INCOMESQ"].startswith("number (decimals from 0.4 to 100)")
    assert why["AGE"].startswith("an age (decimals from")


@pytest.mark.parametrize(
    "name", ["AVGEXP", "TOTEXP", "monthly_exp", "Expenditure", "TotalExpenses"]
)
def test_expenditure_names_are_spend(tmp_path, name):
    table = _credit().rename(columns={"AVGEXP": name}).assign(Work_Experience=range(ROWS))
    columns = _columns(_inspect(tmp_path, table))
    assert columns[name] == ("numeric", "monetary")
    assert columns["Work_Experience"][1] is None  # experience is no expenditure


def test_money_without_a_spend_name_is_named_in_the_note(tmp_path):
    table = (
        _credit()
        .drop(columns="AVGEXP")
        .assign(Q4=np.random.default_rng(8).gamma(1.0, 400, ROWS).round(2) + 100)
    )
    inspection = _inspect(tmp_path, table)
    assert _columns(inspection)["Q4"] == ("numeric", None)
    assert (
        "Q4 reads as money but its name does not say spend: if it is what customers spend, "
        "list it under features.roles.monetary." in inspection.notes
    )
    assert not any("INCOME reads as money" in note for note in inspection.notes)


def test_an_id_counter_is_the_id_because_of_its_name(tmp_path):
    inspection = _inspect(tmp_path, _credit().assign(ID=range(1, ROWS + 1)))
    assert inspection.id_column == "ID"
    why = {c.name: c.why for c in inspection.columns}
    assert why["ID"] == "named like an id: the customer id, as text"
    counter = _inspect(tmp_path, _credit().assign(line=range(1, ROWS + 1)), "counted.csv")
    assert counter.id_column == "line"
    assert "a row counter" in {c.name: c.why for c in counter.columns}["line"]


def test_infinite_numbers_are_not_read_as_a_range_or_a_unit():
    numbers, texts = as_numbers(pd.Series(["12.50", "inf", "30.25", "-Infinity", "7.10"]))
    assert texts == [] and numbers.isna().tolist() == [False, True, False, True, False]
    unit, why = unit_of("total spend", numbers)
    assert unit == "money" and "inf" not in why and "30" in why
