"""`kedro configure-data` on a table like ISLP's Caravan insurance data: the
outcome named like a purchase (``Purchase``, Yes/No), a yes/no flag no name
marks as an outcome, and a 41-value code named like a type (``MOSTYPE``).
None of them may be clustered on, and the printout always says what the
outcomes are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.own_columns import inspect_column
from customer_segmentation.own_data import inspect_source
from customer_segmentation.own_outcomes import is_outcome_named, outcome_lines, outcome_of

ROWS = 200


def _caravan(purchase: bool = True) -> pd.DataFrame:
    """Caravan's shape: small integer codes, a 41-value customer subtype, and
    Purchase Yes/No at 6% Yes; with a newsletter flag (Yes/No) added."""
    r = np.random.default_rng(7)
    table = pd.DataFrame(
        {
            "MOSTYPE": np.arange(ROWS) % 41 + 1,
            "MAANTHUI": r.integers(1, 4, ROWS),
            "MGEMLEEF": r.integers(1, 7, ROWS),
            "MGODRK": r.integers(0, 6, ROWS),
            "MINK7512": r.integers(0, 10, ROWS),
            "MOPLLAAG": r.integers(0, 10, ROWS),
            "PPERSAUT": r.integers(0, 9, ROWS),
            "Newsletter": np.where(np.arange(ROWS) % 5 == 0, "Yes", "No"),
            "Purchase": np.where(np.arange(ROWS) < 12, "Yes", "No"),  # 6% Yes
        }
    )
    return table if purchase else table.drop(columns="Purchase")


def _inspect(tmp_path, table: pd.DataFrame):
    table.to_csv(tmp_path / "caravan.csv", index=False)
    inspection = inspect_source(str(tmp_path / "caravan.csv"))
    return inspection, {c.name: c for c in inspection.columns}


@pytest.mark.parametrize(
    "name", ["Purchase", "purchased", "has_bought", "WillBuy", "ORDERED", "booked", "Redeemed"]
)
def test_a_two_valued_column_named_like_a_purchase_is_a_response(name):
    assert outcome_of(name, pd.Series(["No", "Yes", "No", "No"]))[:2] == ("response", "Yes")
    assert outcome_of(name, pd.Series([0, 1, 0, 0]))[:2] == ("response", 1)


@pytest.mark.parametrize(
    "name", ["number_of_purchases", "PURCHASES", "PURCHASES_TRX", "NumWebPurchases", "buyer_id"]
)
def test_purchase_counts_and_amounts_are_no_outcome(name):
    # Not even when a small table holds only two of their values.
    assert outcome_of(name, pd.Series([0, 1, 0, 1])) is None
    assert not is_outcome_named(name)


def test_a_purchase_amount_of_many_values_is_clustered_on():
    column, _ = inspect_column("last_purchase", pd.Series([12.5, 40.0, 7.25, 99.9, 15.0] * 8))
    assert column.role == "numeric" and column.outcome is None


def test_caravan_purchase_is_an_outcome_and_mostype_a_code(tmp_path):
    inspection, columns = _inspect(tmp_path, _caravan())
    assert columns["Purchase"].role == "profile_categorical"
    assert columns["Purchase"].outcome == ("response", "Yes")
    assert "Purchase" not in inspection.named("categorical")
    # A 41-value integer code named like a type is profiled, not counted.
    assert columns["MOSTYPE"].role == "profile_categorical"
    assert columns["MOSTYPE"].why.startswith("integer code with 41 values")
    assert columns["MOPLLAAG"].role == "numeric"
    assert outcome_lines(inspection.columns) == [
        "Outcomes (features.outcomes):",
        "  Purchase: response, positive 'Yes'",
    ]


def test_a_yes_no_flag_is_profiled_and_named_as_a_possible_outcome(tmp_path):
    inspection, columns = _inspect(tmp_path, _caravan(purchase=False))
    newsletter = columns["Newsletter"]
    assert newsletter.role == "profile_categorical" and newsletter.outcome is None
    assert newsletter.flag == ("Yes", 0.2)
    assert newsletter.why == (
        "yes/no flag (Yes in 20%): profiled per segment, not clustered on; if it is an "
        "outcome (the answer a campaign wants, or what it should prevent), list it under "
        "features.outcomes"
    )
    [line] = outcome_lines(inspection.columns)
    assert line.startswith("Outcomes (features.outcomes): none found")
    assert "Yes/no flags, profiled: Newsletter (Yes in 20%)." in line


def test_the_outcomes_line_is_there_without_any_flag(tmp_path):
    inspection, _ = _inspect(tmp_path, _caravan(purchase=False).drop(columns="Newsletter"))
    assert outcome_lines(inspection.columns) == [
        "Outcomes (features.outcomes): none found (no two-valued column is named like churn, "
        "a response or a purchase)."
    ]


def test_a_0_1_flag_says_its_share_and_what_to_do_if_it_is_an_outcome():
    column, _ = inspect_column("HasCrCard", pd.Series([1, 0, 0, 0] * 10))
    assert column.role == "profile_numeric" and column.flag == (1, 0.25)
    assert column.why.startswith("0/1 flag (1 in 25%): profiled per segment, not clustered on;")
    # Two values that are not yes and no are no flag: Plan stays a feature.
    column, _ = inspect_column("Plan", pd.Series(["Basic", "Premium"] * 20))
    assert column.role == "categorical" and column.flag is None


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("MOSTYPE", "profile_categorical"),
        ("customer_type", "profile_categorical"),
        ("ProductCategory", "profile_categorical"),
        ("CustomerSegment", "profile_categorical"),
        # "level" or "area" inside a name: often a quantity, a code only up to 10 values.
        ("activity_level", "numeric"),
        ("floor_area", "numeric"),
    ],
)
def test_a_code_named_like_a_type_or_class_is_profiled_up_to_50_values(name, role):
    column, _ = inspect_column(name, pd.Series(np.arange(ROWS) % 30 + 1))
    assert column.role == role
