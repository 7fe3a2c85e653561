"""Cleaning a transaction log by counted rules, and the customer features."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.parameters import CustomerFeatures, TransactionColumns
from customer_segmentation.pipelines.customer_features import create_pipeline
from customer_segmentation.pipelines.customer_features.contracts import (
    RULES,
    InvalidTransactionsError,
)
from customer_segmentation.pipelines.customer_features.nodes import (
    build_customer_features,
    clean_transactions,
)
from customer_segmentation.pipelines.customer_features.rules import CHECKS
from tests.conftest import filled, node_function

# The nodes as the pipeline wires them, for the tests run on both engines.
clean_on_engine = node_function(create_pipeline(), "clean_transactions")
build_on_engine = node_function(create_pipeline(), "build_customer_features")

# Settings as nodes receive them: validated, every default filled in; column
# maps written in a test go through ``columns_of`` for the same reason.
SETTINGS = filled(
    CustomerFeatures,
    {
        "columns": {
            "customer_id": "CustomerID",
            "timestamp": "InvoiceDate",
            "amount": None,
            "quantity": "Quantity",
            "unit_price": "UnitPrice",
            "order_id": "InvoiceNo",
            "category": "Category",
            "channel": None,
        },
        "date_format": None,
        "dayfirst": False,
        "snapshot_date": None,
        "cancellation_prefix": "C",
        "duplicates": "drop",
        "category_top_n": 8,
        "compute": [],
        "first_line": 2,
    },
)


def columns_of(names: dict) -> dict:
    """A log's column map with every column it does not name set to null."""
    return filled(TransactionColumns, names)


def _log(rows: list[tuple]) -> pd.DataFrame:
    """A log shaped like the UCI Online Retail export: float customer ids,
    month-first dates with times, cancelled invoices prefixed with C."""
    return pd.DataFrame(
        rows,
        columns=["InvoiceNo", "CustomerID", "InvoiceDate", "Quantity", "UnitPrice", "Category"],
    )


CLEAN_LOG = _log(
    [
        ("536365", 17850.0, "12/1/2010 8:26", 6, 2.55, "home"),
        ("536365", 17850.0, "12/1/2010 8:26", 2, 5.00, "toys"),
        ("536400", 17850.0, "12/11/2010 9:00", 1, 10.00, "home"),
        ("C536401", 17850.0, "12/12/2010 9:00", -1, 10.00, "home"),
        ("536500", 12345.0, "12/21/2010 10:00", 4, 5.00, "toys"),
    ]
)


def _clean(log: pd.DataFrame, **settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    clean, rejects, _ = clean_transactions(log, {**SETTINGS, **settings}, today="2011-12-31")
    return clean, rejects


def test_each_rule_leaves_out_its_lines_with_their_line_and_reason(caplog):
    dirty = _log(
        [
            ("1", 1.0, "2010-12-01", 1, 1.0, "a"),  # line 2: fine
            ("2", None, "2010-12-01", 1, 1.0, "a"),  # 3: no customer id
            ("3", 1.0, "not a date", 1, 1.0, "a"),  # 4: bad timestamp
            ("4", 1.0, "2010-12-02", None, 1.0, "a"),  # 5: no quantity
            ("1", 1.0, "2010-12-01", 1, 1.0, "a"),  # 6: duplicate of line 2
            ("5", 1.0, "2099-01-01", 1, 1.0, "a"),  # 7: future
            ("6", 1.0, "2010-12-03", 1, 0.0, "a"),  # 8: zero price
            ("7", 1.0, "2010-12-03", 1, -2.0, "a"),  # 9: negative price
            ("8", 1.0, "2010-12-04", -3, 1.0, "a"),  # 10: return (negative quantity)
            ("C9", 1.0, "2010-12-05", 1, 1.0, "a"),  # 11: cancelled invoice
        ]
    )
    with caplog.at_level(logging.INFO):
        clean, rejects, summary = clean_transactions(dirty, SETTINGS, today="2011-12-31")
    reasons = dict(zip(rejects["line"], rejects["reason"], strict=True))
    assert reasons == {
        3: RULES["no_customer_id"],
        4: RULES["bad_timestamp"],
        5: RULES["bad_amount"],
        6: RULES["duplicate"],
        7: RULES["future"],
        8: RULES["zero_or_negative_price"],
        9: RULES["zero_or_negative_price"],
        10: RULES["return"],
        11: RULES["return"],
    }
    assert list(rejects.columns[:2]) == ["line", "reason"]
    assert set(dirty.columns) <= set(rejects.columns)  # the rows as they were
    # Purchases, and returns kept (positive amounts) for the return share.
    assert clean["is_return"].tolist() == [False, True, True]
    assert clean["amount"].tolist() == [1.0, 3.0, 1.0]
    for rule in RULES:  # every rule says how many lines it touched, zero included
        assert f"transactions rule '{rule}'" in caplog.text
    assert "transactions rule 'zero_or_negative_price': 2 of 10 lines" in caplog.text
    assert summary["rows"] == 10 and len(summary["sha256"]) == 64
    assert summary["lines_per_rule"]["return"] == 2
    assert (summary["purchase_lines"], summary["return_lines"]) == (1, 2)


def test_duplicates_can_be_kept_and_the_snapshot_bounds_the_dates():
    log = _log(
        [("1", 1.0, "2010-12-01", 1, 1.0, "a")] * 2 + [("2", 1.0, "2010-12-09", 1, 1.0, "a")]
    )
    clean, rejects = _clean(log, duplicates="keep", snapshot_date="2010-12-05")
    assert len(clean) == 2
    assert rejects["reason"].tolist() == [RULES["future"]]


def test_dates_in_the_usual_forms_and_ids_as_text():
    for stamps, expected in (
        ([19970101, 19970112], ["1997-01-01", "1997-01-12"]),  # CDNOW: YYYYMMDD numbers
        (["2024-03-01T10:00:00", "2024-03-02 11:30"], ["2024-03-01", "2024-03-02"]),
        (["12/1/2010 8:26", "1/13/2011 9:00"], ["2010-12-01", "2011-01-13"]),  # month first
        (["12/1/2010 8:26", "2011-01-13"], ["2010-12-01", "2011-01-13"]),  # two forms in one log
    ):
        log = pd.DataFrame({"id": ["00001", "00002"], "date": stamps, "value": [1.0, 2.0]})
        columns = columns_of({"customer_id": "id", "timestamp": "date", "amount": "value"})
        clean, _, _ = clean_transactions(log, {**SETTINGS, "columns": columns}, today="2030-01-01")
        assert clean["timestamp"].dt.strftime("%Y-%m-%d").tolist() == expected
        assert clean["customer_id"].tolist() == ["00001", "00002"]
    day_first = pd.DataFrame({"id": [1, 2], "date": ["01/02/2024", "13/02/2024"], "value": [1, 1]})
    settings = {**SETTINGS, "columns": columns, "dayfirst": True}
    clean, _, _ = clean_transactions(day_first, settings, today="2030-01-01")
    assert clean["timestamp"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-01", "2024-02-13"]
    assert clean["customer_id"].tolist() == ["1", "2"]
    clean, _ = _clean(CLEAN_LOG)
    assert clean["customer_id"].iloc[0] == "17850"  # float ids read back without ".0"
    as_text = CLEAN_LOG.assign(CustomerID=["17850.0", "17850.0", "17850.0", "17850.0", "12345.0"])
    clean, _ = _clean(as_text)  # ids a CSV export wrote as floats, read as text
    assert sorted(set(clean["customer_id"])) == ["12345", "17850"]


def test_columns_that_do_not_match_are_named(engine):
    with pytest.raises(InvalidTransactionsError) as error:
        clean_on_engine(
            engine.frame(CLEAN_LOG),
            {**SETTINGS, "columns": {**SETTINGS["columns"], "timestamp": "Date", "quantity": None}},
        )
    message = str(error.value)
    assert "needs amount (the line's value), or quantity and unit_price" in message
    assert "'Date' (timestamp) are not in transactions" in message
    assert "'InvoiceDate'" in message  # the columns it has


def test_features_by_their_definitions(engine):
    clean, _, _ = clean_on_engine(engine.frame(CLEAN_LOG), SETTINGS, today="2011-12-31")
    features = engine.pandas(build_on_engine(clean, SETTINGS)).set_index("customer_id")
    # Snapshot: the day after the last purchase, 2010-12-22.
    first = features.loc["17850"]
    assert first["recency_days"] == pytest.approx(10 + 15 / 24)  # from 12/11 9:00
    assert first["frequency"] == 2  # two invoices; the cancelled one is not an order
    # Spend net of the cancelled 10.00.
    assert first["monetary_total"] == pytest.approx(6 * 2.55 + 2 * 5 + 10 - 10)
    assert first["average_order_value"] == pytest.approx((15.3 + 10 + 10 - 10) / 2)
    assert first["tenure_days"] == pytest.approx(20 + (15 * 60 + 34) / 1440)  # from 12/1 8:26
    assert first["mean_days_between_orders"] == pytest.approx(10 + 34 / 1440)
    assert first["orders_per_week"] == pytest.approx(2 / (first["tenure_days"] / 7))
    assert first["return_share"] == pytest.approx(10 / 35.3)  # of the bought value
    # Category shares are of the bought value, before returns.
    assert first["share_home"] == pytest.approx((15.3 + 10) / 35.3)
    assert first["share_toys"] == pytest.approx(10 / 35.3)
    assert first["top_category"] == "home"
    second = features.loc["12345"]
    assert second["frequency"] == 1
    assert np.isnan(second["mean_days_between_orders"])  # one order: no gap
    assert second["orders_per_week"] == pytest.approx(1.0)  # at least one week of lifetime
    assert second["return_share"] == 0
    assert second["top_category"] == "toys"


def test_orders_without_an_order_id_are_a_customers_lines_at_one_timestamp(engine):
    log = pd.DataFrame(
        {
            "id": ["a", "a", "a", "b"],
            "date": [19970101, 19970101, 19970105, 19970103],
            "value": [10.0, 5.0, 20.0, 1.0],
        }
    )
    settings = {
        **SETTINGS,
        "columns": columns_of({"customer_id": "id", "timestamp": "date", "amount": "value"}),
    }
    clean, _, _ = clean_on_engine(engine.frame(log), settings, today="2030-01-01")
    features = engine.pandas(
        build_on_engine(clean, {**settings, "compute": ["frequency", "monetary_total"]})
    )
    assert list(features.columns) == ["customer_id", "frequency", "monetary_total"]
    assert features.set_index("customer_id")["frequency"].to_dict() == {"a": 2, "b": 1}


def test_customers_with_only_returns_are_left_out_and_a_log_of_no_purchases_is_an_error():
    log = _log(
        [
            ("1", 1.0, "2010-12-01", 1, 1.0, "a"),
            ("C2", 2.0, "2010-12-01", -1, 1.0, "a"),
        ]
    )
    clean, _ = _clean(log)
    assert build_customer_features(clean, SETTINGS)["customer_id"].tolist() == ["1"]
    with pytest.raises(InvalidTransactionsError, match="no purchase is left"):
        _clean(log.iloc[[1]])


def test_spend_is_net_of_returns_and_fully_returned_orders_are_not_orders():
    log = _log(
        [
            ("1", 1.0, "2010-12-01 10:00", 10, 10.0, "home"),  # order 1: 100
            ("C1", 1.0, "2010-12-02 10:00", -10, 10.0, "home"),  # ... all cancelled
            ("2", 1.0, "2010-12-05 10:00", 5, 10.0, "toys"),  # order 2: 50
            ("C7", 1.0, "2010-12-06 10:00", -2, 10.0, "toys"),  # 20 of it returned
            ("3", 2.0, "2010-12-03 10:00", 4, 25.0, "home"),  # one order of 100 ...
            ("C8", 2.0, "2010-12-04 10:00", -4, 25.0, "home"),  # ... fully returned
            ("4", 3.0, "2010-12-03 10:00", 1, 10.0, "home"),  # 10 bought ...
            ("C9", 3.0, "2010-12-04 10:00", -3, 10.0, "home"),  # ... 30 returned
            ("5", 4.0, "2010-12-07 10:00", 1, 5.0, "toys"),  # nothing returned
        ]
    )
    clean, _ = _clean(log)
    features = build_customer_features(clean, SETTINGS).set_index("customer_id")
    one = features.loc["1"]
    assert one["monetary_total"] == pytest.approx(150 - 100 - 20)
    assert one["return_share"] == pytest.approx(120 / 150)
    assert one["frequency"] == 1  # order 1 was fully cancelled (C1)
    assert one["average_order_value"] == pytest.approx(30)
    assert one["share_home"] == pytest.approx(100 / 150)  # of the bought value
    for everything_returned in ("2", "3"):  # more returned than bought: floored at 0
        row = features.loc[everything_returned]
        assert (row["monetary_total"], row["return_share"], row["frequency"]) == (0, 1, 0)
        assert row["average_order_value"] == 0
    assert features.loc["2", "recency_days"] == pytest.approx(4 + 14 / 24)  # the purchase
    four = features.loc["4"]
    assert (four["monetary_total"], four["return_share"], four["frequency"]) == (5, 0, 1)


def test_the_summary_reconciles_revenue_with_the_customers_spend(caplog):
    log = _log(
        [
            ("1", 1.0, "2010-12-01", 2, 10.0, "a"),  # 20
            ("1", 1.0, "2010-12-01", 2, 10.0, "a"),  # duplicate: 20
            ("2", 1.0, "2010-12-02", 1, 7.5, "a"),  # 7.5
            ("C2", 1.0, "2010-12-03", -1, 7.5, "a"),  # cancelled: 7.5
            ("3", None, "2010-12-02", 3, 4.0, "a"),  # no customer id: 12
            ("4", 2.0, "2099-01-01", 1, 100.0, "a"),  # future: 100
            ("5", 2.0, "2010-12-04", 5, 0.0, "a"),  # zero price: 0
            ("6", 2.0, "2010-12-04", None, 3.0, "a"),  # no quantity: counts 0
            ("7", 2.0, "2010-12-05", 1, 40.0, "a"),  # 40
            ("C8", 2.0, "2010-12-06", -2, 30.0, "a"),  # 60 returned: 20 more than bought
            ("C9", 3.0, "2010-12-06", -1, 5.0, "a"),  # 5 returned, nothing bought
        ]
    )
    with caplog.at_level(logging.INFO):
        clean, _, summary = clean_transactions(log, SETTINGS, today="2011-12-31")
    features = build_customer_features(clean, SETTINGS)
    rules = summary["rules"]
    assert [rule["rule"] for rule in rules] == list(RULES)
    assert [rule["description"] for rule in rules] == list(RULES.values())
    assert {rule["rule"]: rule["lines"] for rule in rules} == summary["lines_per_rule"]
    assert {rule["rule"]: rule["value"] for rule in rules} == pytest.approx(
        {
            "no_customer_id": 12,
            "bad_timestamp": 0,
            "bad_amount": 0,
            "duplicate": 20,
            "future": 100,
            "zero_or_negative_price": 0,
            "return": 7.5 + 60 + 5,
        }
    )
    revenue = summary["revenue"]
    assert revenue["gross"] == pytest.approx(20 + 7.5 + 40)
    assert revenue["returns"] == pytest.approx(7.5 + 60 + 5)
    assert revenue["gross"] - revenue["returns"] == revenue["net"]
    # Customer 2's 20 returned above their spend and customer 3's 5: no spend absorbs them.
    assert revenue["unattributed_returns"] == pytest.approx(25)
    assert features["monetary_total"].sum() == pytest.approx(
        revenue["net"] + revenue["unattributed_returns"]
    )
    assert "transactions revenue: gross 67.50, returns 72.50, net -5.00" in caplog.text


def test_revenue_reconciles_exactly_when_every_return_has_its_purchase():
    clean, _, summary = clean_transactions(CLEAN_LOG, SETTINGS, today="2011-12-31")
    features = build_customer_features(clean, SETTINGS)
    assert summary["revenue"]["unattributed_returns"] == 0
    assert features["monetary_total"].sum() == pytest.approx(summary["revenue"]["net"])


# A log with only a customer id and a date (lifetimes' example_transactions.csv),
# and a category: nothing says what a line is worth.
NO_AMOUNT_LOG = pd.DataFrame(
    {
        "date": ["2014-03-08", "2014-03-08", "2014-03-20", "2014-05-21", "2014-04-01", "x"],
        "id": [0, 0, 0, 1, 1, 2],
        "kind": ["cd", "book", "book", "cd", "cd", "cd"],
    }
)
NO_AMOUNT = {
    **SETTINGS,
    "columns": columns_of(
        {"customer_id": "id", "timestamp": "date", "amount": None, "category": "kind"}
    ),
    "cancellation_prefix": None,
    "duplicates": "keep",
}


def test_a_log_without_amounts_is_cleaned_by_the_rules_that_need_none(engine, caplog):
    with caplog.at_level(logging.INFO):
        clean, rejects, summary = clean_on_engine(
            engine.frame(NO_AMOUNT_LOG), NO_AMOUNT, today="2030-01-01"
        )
    assert "amount" not in clean.columns
    assert engine.pandas(rejects)["reason"].tolist() == [RULES["bad_timestamp"]]
    assert summary["revenue"] is None
    assert (summary["purchase_lines"], summary["return_lines"]) == (5, 0)
    skipped = [rule["rule"] for rule in summary["rules_not_applied"]]
    assert skipped == ["bad_amount", "zero_or_negative_price", "return"]
    assert all("no amount" in rule["why"] for rule in summary["rules_not_applied"])
    assert list(summary["lines_per_rule"]) == [r for r in RULES if r not in skipped]
    assert all(rule["value"] is None for rule in summary["rules"])
    assert "transactions rule 'bad_amount' not applied: the log has no amount" in caplog.text
    assert "transactions revenue" not in caplog.text


def test_features_of_a_log_without_amounts(engine):
    clean, _, _ = clean_on_engine(engine.frame(NO_AMOUNT_LOG), NO_AMOUNT, today="2030-01-01")
    features = engine.pandas(build_on_engine(clean, NO_AMOUNT)).set_index("customer_id")
    assert list(features.columns) == [
        "recency_days",
        "frequency",
        "tenure_days",
        "mean_days_between_orders",
        "orders_per_week",
        "top_category",
    ]
    # Snapshot: the day after the last purchase, 2014-05-22.
    zero = features.loc["0"]
    assert zero["frequency"] == 2  # two dates: two orders
    assert zero["recency_days"] == 63  # from 2014-03-20
    assert zero["tenure_days"] == 75  # from 2014-03-08
    assert zero["mean_days_between_orders"] == 12
    assert zero["orders_per_week"] == pytest.approx(2 / (75 / 7))
    assert zero["top_category"] == "book"  # two lines of books, one of CDs
    assert features.loc["1", "frequency"] == 2
    assert sorted(features.index) == ["0", "1"]


def test_amount_features_asked_of_a_log_without_amounts_are_named(engine):
    clean, _, _ = clean_on_engine(engine.frame(NO_AMOUNT_LOG), NO_AMOUNT, today="2030-01-01")
    asked = {**NO_AMOUNT, "compute": ["frequency", "monetary_total", "return_share"]}
    with pytest.raises(InvalidTransactionsError) as error:
        build_on_engine(clean, asked)
    message = str(error.value)
    assert "customer_features.compute names ['monetary_total', 'return_share']" in message
    assert "the log has no amount" in message


def test_a_log_without_amounts_still_nets_cancellations_by_order_id():
    log = pd.DataFrame(
        {
            "order": ["1", "C1", "2", "3"],
            "id": ["a", "a", "a", "b"],
            "date": ["2014-03-01", "2014-03-02", "2014-03-05", "2014-03-05"],
        }
    )
    settings = {
        **NO_AMOUNT,
        "columns": columns_of({"customer_id": "id", "timestamp": "date", "order_id": "order"}),
        "cancellation_prefix": "C",
    }
    clean, rejects, summary = clean_transactions(log, settings, today="2030-01-01")
    assert rejects["reason"].tolist() == [RULES["return"]]
    assert [rule["rule"] for rule in summary["rules_not_applied"]] == [
        "bad_amount",
        "zero_or_negative_price",
    ]
    features = build_customer_features(clean, settings).set_index("customer_id")
    assert features["frequency"].to_dict() == {"a": 1, "b": 1}  # order 1 was cancelled


def test_half_a_value_is_refused_and_every_rule_has_its_function():
    log = NO_AMOUNT_LOG.assign(q=1)
    settings = {**NO_AMOUNT, "columns": {**NO_AMOUNT["columns"], "quantity": "q"}}
    with pytest.raises(InvalidTransactionsError, match="or none of the three"):
        clean_transactions(log, settings, today="2030-01-01")
    assert list(CHECKS) == list(RULES)
    spark_nodes = pytest.importorskip(
        "customer_segmentation.pipelines.customer_features.spark_nodes"
    )
    assert list(spark_nodes.CHECKS) == list(RULES)
