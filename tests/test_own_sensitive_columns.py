"""`kedro configure-data` keeps sensitive personal attributes (gender,
ethnicity, marital status, ...) profile-only: described per segment, never
clustered on, not needed to score a batch; found by name and by values, and
never by a word that only contains one (``Sexton_street``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from customer_segmentation.features import FeatureSpec
from customer_segmentation.own_columns import inspect_column
from customer_segmentation.own_data import inspect_source, summary, write_environment
from customer_segmentation.pipelines.scoring.kernels import check_batch_columns

ROWS = 60


def _credit() -> pd.DataFrame:
    """Shaped like ISLP's Credit table: " Male" carries a leading space."""
    r = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "ID": range(1, ROWS + 1),
            "Income": r.uniform(10, 180, ROWS).round(3),
            "Limit": r.integers(800, 14_000, ROWS),
            "Cards": r.integers(1, 9, ROWS),
            "Age": r.integers(23, 98, ROWS),
            "Education": r.integers(5, 20, ROWS),
            "Gender": r.choice([" Male", "Female"], ROWS),
            "Student": r.choice(["No", "No", "No", "Yes"], ROWS),
            "Married": r.choice(["Yes", "No"], ROWS),
            "Ethnicity": r.choice(["Caucasian", "Asian", "African American"], ROWS),
            "Balance": r.integers(0, 2_000, ROWS),
        }
    )


def _role(name: str, values: list) -> str:
    column, _ = inspect_column(name, pd.Series(values * (ROWS // len(values))))
    return column.role


def test_a_credit_table_is_segmented_without_gender_ethnicity_or_marital_status(tmp_path):
    _credit().to_csv(tmp_path / "Credit.csv", index=False)
    inspection = inspect_source(str(tmp_path / "Credit.csv"))
    written = write_environment(inspection, "credit", tmp_path)
    features = yaml.safe_load((tmp_path / "conf/credit/parameters.yml").read_text())["features"]
    assert features["categorical"] == []
    assert features["numeric"] == ["Income", "Limit", "Cards", "Age", "Education", "Balance"]
    assert features["profile_only"]["categorical"] == ["Gender", "Student", "Married", "Ethnicity"]
    # A scoring batch without the sensitive columns is complete.
    spec = FeatureSpec.parse(features)
    check_batch_columns(["ID", *features["numeric"]], spec)

    printout = summary(inspection, "credit", written)
    rows = {line.split()[0]: line for line in printout.splitlines() if line.startswith("  ")}
    for name, kind in [("Gender", "gender"), ("Married", "marital status")]:
        assert f"sensitive attribute ({kind}, by its name)" in rows[name]
        assert (
            "move it from features.profile_only.categorical to features.categorical" in (rows[name])
        )
    assert (
        "Sensitive attributes, profile-only: Gender (gender), Married (marital status), "
        "Ethnicity (ethnicity)." in printout
    )
    assert (
        "To cluster on one anyway, move it from features.profile_only.categorical to "
        "features.categorical in conf/credit/parameters.yml." in printout
    )
    # Married is a sensitive attribute, not a flag that might be an outcome.
    assert "Yes/no flags, profiled: Student (" in printout and "Married (Yes" not in printout


@pytest.mark.parametrize(
    "name",
    [
        *("sex", "SEX", "Gender", "GENDER_CD", "CODE_GENDER", "CustomerGender", "Sex (M/F)"),
        *("is_female", "Gender_Male", "race_ethnicity", "Race/Ethnicity", "ethnic_group"),
        *("Marital_Status", "marital-status", "maritl", "NAME_FAMILY_STATUS", "Religion"),
        *("Nationality", "citizenship", "CountryOfBirth", "native-country", "foreign_worker"),
        *("has_disability", "sexual_orientation", "pregnant", "political_party"),
    ],
)
def test_sensitive_names_are_profile_only_whatever_their_values(name):
    assert _role(name, ["A", "B", "C"]) == "profile_categorical"
    assert _role(name, [1, 2]) == "profile_categorical"  # a numeric code


@pytest.mark.parametrize(
    "name",
    [
        *("Sexton_street", "gender_neutral_size", "male_count", "SeniorCitizen"),
        *("ethnic_food_spend", "product_category", "Race_Distance", "Sex_appeal_score"),
        *("account_disabled", "Middlesex", "orientation"),
    ],
)
def test_names_that_only_contain_a_sensitive_word_are_not_sensitive(name):
    column, _ = inspect_column(name, pd.Series(["Alpha", "Beta", "Gamma"] * 20))
    assert column.sensitive is None and "sensitive" not in column.why


@pytest.mark.parametrize(
    "values",
    [
        [" Male", "Female"],
        ["M", "F", "U"],
        ["Asian", "White", "Hispanic"],
        ["1. Never Married", "2. Married", "3. Divorced"],
        ["Christian", "Muslim", "None", "Hindu"],
    ],
)
def test_sensitive_values_make_a_text_column_profile_only_whatever_its_name(values):
    column, _ = inspect_column("col7", pd.Series(values * 20))
    assert column.role == "profile_categorical" and column.sensitive
    assert "by its values: " in column.why


@pytest.mark.parametrize(
    "values", [["S", "M", "L"], ["Black", "White", "Red"], ["Single", "Double"], ["Mr", "Dr"]]
)
def test_values_that_only_look_like_an_attribute_stay_features(values):
    assert _role("option", values) == "categorical"


def test_a_many_valued_number_named_like_an_attribute_is_a_quantity():
    column, _ = inspect_column("female", pd.Series(np.arange(ROWS) * 1.5))
    assert column.role == "numeric" and column.sensitive is None


def test_surrounding_spaces_do_not_make_categories_or_break_flags():
    column, _ = inspect_column("Plan", pd.Series([" Gold", "Gold", "Silver "] * 20))
    assert column.why == "text with 2 categories"
    column, _ = inspect_column("Newsletter", pd.Series([" Yes", "Yes", "No", "No "] * 20))
    assert column.flag == ("Yes", 0.5)
