"""`kedro configure-data` on tables shaped like ISLP's Wage: a calendar
year is profiled, not clustered on (a birth year stays an age); health is a
sensitive attribute (a health insurance holding and look-alikes are not);
yes/no flags numbered like a form's answers ("1. Yes"/"2. No") are flags
and outcomes, their values kept as the file has them; and of a column and
its log, the raw one is clustered on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from customer_segmentation.own_columns import inspect_column
from customer_segmentation.own_data import inspect_source, write_environment
from customer_segmentation.own_units import ROLE_NAMES, role_of

ROWS = 80


def _wage() -> pd.DataFrame:
    """Shaped like ISLP's Wage: survey year, numbered answers, wage and its log."""
    r = np.random.default_rng(0)
    wage = r.lognormal(4.6, 0.4, ROWS).round(2)
    return pd.DataFrame(
        {
            "year": r.integers(2003, 2010, ROWS),
            "age": r.integers(18, 81, ROWS),
            "education": r.choice(["1. < HS Grad", "2. HS Grad", "3. Some College"], ROWS),
            "health": r.choice(["1. <=Good", "2. >=Very Good"], ROWS),
            "health_ins": r.choice(["1. Yes", "2. No"], ROWS, p=[0.7, 0.3]),
            "logwage": np.log(wage),
            "wage": wage,
        }
    )


def _inspect(tmp_path, table: pd.DataFrame):
    table.to_csv(tmp_path / "customers.csv", index=False)
    return inspect_source(str(tmp_path / "customers.csv"))


def _roles(inspection) -> dict[str, str]:
    return {c.name: c.role for c in inspection.columns}


def test_a_wage_table_clusters_on_who_the_customer_is(tmp_path):
    inspection = _inspect(tmp_path, _wage())
    roles, why = _roles(inspection), {c.name: c.why for c in inspection.columns}
    assert inspection.named("numeric") == ["age", "wage"]
    assert inspection.named("categorical") == ["education"]
    assert roles["year"] == "profile_numeric"
    assert "calendar year" in why["year"]
    assert "move it from features.profile_only.numeric to features.numeric" in why["year"]
    assert why["logwage"].startswith("moves with wage")
    assert [c.sensitive for c in inspection.columns if c.name == "health"] == ["health"]
    flag = next(c for c in inspection.columns if c.name == "health_ins")
    assert flag.role == "profile_categorical"
    assert flag.flag[0] == "1. Yes" and flag.sensitive is None
    write_environment(inspection, "wage", tmp_path)
    parameters = yaml.safe_load((tmp_path / "conf/wage/parameters.yml").read_text())
    profiled = parameters["features"]["profile_only"]
    assert profiled["numeric"] == ["year", "logwage"]
    assert "health_ins" in profiled["categorical"]


@pytest.mark.parametrize("name", ["Year_Birth", "birth_year", "YearOfBirth", "year_born"])
def test_a_birth_year_stays_a_feature(name):
    years = pd.Series(np.random.default_rng(1).integers(1940, 2001, ROWS))
    column, _ = inspect_column(name, years)
    assert column.role == "numeric"
    assert column.unit == "year"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("health", "health"),
        ("Health_Status", "health"),
        ("medical_condition", "health"),
        ("chronic_disease_flag", "health"),
        ("diagnosis_code", "health"),
        ("MentalHealth", "health"),
        ("trade_union_member", "trade-union membership"),
        ("health_ins", None),
        ("health_insurance", None),
        ("health_score", None),
        ("account_health", None),
        ("customer_health", None),
        ("healthy_snacks_spend", None),
        ("credit_union_member", None),
    ],
)
def test_health_and_union_membership_are_sensitive_by_name(name, kind):
    values = pd.Series(np.random.default_rng(2).choice(["A", "B", "C"], ROWS))
    column, _ = inspect_column(name, values)
    assert column.sensitive == kind


@pytest.mark.parametrize(
    ("yes", "no"),
    [("1. Yes", "2. No"), ("1) yes", "2) no"), ("01 - Y", "02 - N"), ("2. True", "1. False")],
)
def test_numbered_yes_no_answers_are_flags_kept_as_written(yes, no):
    values = pd.Series(np.random.default_rng(3).choice([yes, no], ROWS, p=[0.2, 0.8]))
    column, _ = inspect_column("has_card", values)
    assert column.role == "profile_categorical"
    assert column.flag[0] == yes
    churn, _ = inspect_column("churn", values)
    assert churn.outcome == ("churn", yes)


def test_a_number_before_only_some_values_is_data():
    values = pd.Series(np.random.default_rng(4).choice(["1) Yes", "No"], ROWS))
    column, _ = inspect_column("plan", values)
    assert column.flag is None


@pytest.mark.parametrize(
    ("transformed", "raw"),
    [("log_income", "income"), ("sales_ln", "sales"), ("LogWage", "Wage"), ("sqrt_spend", "spend")],
)
def test_the_raw_column_is_kept_over_its_transform_whichever_comes_first(
    tmp_path, transformed, raw
):
    r = np.random.default_rng(5)
    amounts = r.lognormal(5, 1, ROWS).round(2)
    table = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(ROWS)],
            transformed: np.log(amounts),
            "tenure": r.integers(1, 60, ROWS),
            raw: amounts,
        }
    )
    inspection = _inspect(tmp_path, table)
    assert inspection.named("numeric") == ["tenure", raw]
    assert next(c for c in inspection.columns if c.name == transformed).why.startswith(
        f"moves with {raw}"
    )


def test_without_a_transform_name_the_earlier_column_is_kept(tmp_path):
    r = np.random.default_rng(6)
    amounts = r.lognormal(5, 1, ROWS).round(2)
    table = pd.DataFrame(
        {"customer_id": [f"C{i}" for i in range(ROWS)], "spend": amounts, "login": amounts * 2}
    )
    assert _inspect(tmp_path, table).named("numeric") == ["spend"]


@pytest.mark.parametrize("name", ["wage", "Wages", "hourly_wage", "earnings"])
def test_a_wage_is_a_demographic_not_spend(name):
    """A wage, like an income or a salary, says who the customer is; it is
    no spend, and no action reads it as one."""
    assert ROLE_NAMES["demographic"].search(name)


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("NumWebVisitsMonth", None),  # browsing a website, not buying
        ("app_sessions", None),
        ("online_visits", None),
        ("NumWebPurchases", "frequency"),  # buying on the web is buying
        ("store_visits", "frequency"),
        ("NumStorePurchases", "frequency"),
    ],
)
def test_visits_of_a_website_are_no_purchase_frequency(name, role):
    assert role_of(name, "count") == role
