"""The columns the segment rules say they read are exactly those their SQL
``CASE WHEN`` expression reads: the header's "Reads the columns" line and
``segment_rules["columns"]`` name them, the model's other columns are named
apart as not needed, and a table holding only the named columns runs the
SQL."""

import re
import sqlite3

import numpy as np
import pandas as pd
import pytest

from customer_segmentation import model as segmentation
from customer_segmentation.pipelines.segment_analysis.rules import (
    _holds,
    _sql_condition,
    fit_segment_rules,
)
from tests.conftest import segments_in_sqlite

RULES = {"max_depth": 3, "min_leaf_share": 0.02, "random_seed": 0}
NUMERIC = ["spend", "orders", "noise", 'odd "name"']
CATEGORICAL = ["region", "plan"]
FEATURES = {"id_column": "id", "numeric": NUMERIC, "categorical": CATEGORICAL}


def _customers(seed: int = 0) -> pd.DataFrame:
    """Two groups far apart on spend and orders; the other columns barely
    differ between them, so a shallow tree never needs them all."""
    rng = np.random.default_rng(seed)
    n = 150
    return pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(2 * n)],
            "spend": np.concatenate([rng.normal(100, 10, n), rng.normal(900, 50, n)]),
            "orders": np.concatenate([rng.poisson(2, n), rng.poisson(12, n)]).astype(float),
            "noise": rng.normal(0, 1, 2 * n),
            'odd "name"': rng.normal(5, 1, 2 * n),
            "region": rng.choice(["north", "south"], 2 * n),
            "plan": rng.choice(["basic", "plus", "pro"], 2 * n),
        }
    )


def _rules(
    customers: pd.DataFrame, rules: dict = RULES, features: dict = FEATURES
) -> tuple[dict, str]:
    preprocessor = segmentation.SegmentPreprocessor(
        numeric=features["numeric"], categorical=features["categorical"]
    ).fit(customers)
    kmeans = segmentation.SegmentKMeans(n_clusters=2, n_init=3, random_state=0)
    kmeans.fit(preprocessor.transform(customers))
    model = segmentation.segmentation_model(preprocessor, kmeans)
    segmented = customers.assign(segment=model.predict(customers))
    profiles = pd.DataFrame({"segment": [0, 1], "name": ["Low", "High"]})
    return fit_segment_rules(segmented, segmented, model, "v1", profiles, features, rules, {})


def _quoted(text: str) -> list[str]:
    """The double-quoted SQL names in ``text``, unquoted, in order."""
    return [name.replace('""', '"') for name in re.findall(r'"((?:[^"]|"")*)"', text)]


def _header_line(sql: str, start: str) -> str | None:
    return next((line for line in sql.splitlines() if line.startswith(start)), None)


def test_the_header_names_exactly_the_columns_the_expression_reads():
    customers = _customers()
    summary, sql = _rules(customers)
    expression = sql[sql.index("CASE") :]
    read = _quoted(expression)
    assert set(read) < set(NUMERIC + CATEGORICAL)  # the case: fewer than the model's

    reads = _header_line(sql, "-- Reads the columns: ")
    assert reads is not None
    assert sorted(_quoted(reads)) == sorted(set(read))
    not_read = _header_line(sql, "-- Not read ")
    assert sorted(_quoted(not_read)) == sorted(set(NUMERIC + CATEGORICAL) - set(read))

    # The JSON says the same: the columns its conditions test, the rest apart,
    # the missing-number medians of the numbers it reads only.
    tested = {
        condition["column"]
        for segment in summary["segments"]
        for conditions in segment["conditions"]
        for condition in conditions
    }
    assert set(summary["columns"]) == set(read) == tested
    assert summary["columns_not_read"] == [
        c for c in NUMERIC + CATEGORICAL if c not in summary["columns"]
    ]
    assert set(summary["missing_numbers"]) == set(read) & set(NUMERIC)

    # A table with only the columns the header names runs the SQL, and
    # assigns as on the full table.
    assert segments_in_sqlite(customers[summary["columns"]], sql) == segments_in_sqlite(
        customers, sql
    )


def test_rules_that_read_no_column_say_so():
    """Leaves of at least 60% of the customers: the tree cannot split, so
    the SQL gives everyone one segment and reads nothing."""
    customers = _customers()
    summary, sql = _rules(customers, {**RULES, "min_leaf_share": 0.6})
    assert summary["columns"] == [] and summary["missing_numbers"] == {}
    assert summary["columns_not_read"] == NUMERIC + CATEGORICAL
    assert _quoted(sql[sql.index("CASE") :]) == []
    assert _header_line(sql, "-- Reads the columns") is None
    assert _header_line(sql, "-- Reads no column: ") is not None
    assert len(set(segments_in_sqlite(customers[["id"]], sql))) == 1


@pytest.mark.parametrize(
    "hostile",
    ["Spend\n1; DELETE FROM customers; --", "Spend\r\nDROP TABLE customers;--", "Spend\u2028x"],
)
def test_a_column_name_with_a_line_break_stays_inside_its_comment(hostile):
    """The header names the columns in comments: a line break in a name
    ended the comment, and the rest of the name ran as SQL (it emptied the
    table of a user who ran the file as its header says)."""
    customers = _customers().rename(columns={"spend": hostile})
    features = {**FEATURES, "numeric": [hostile, *NUMERIC[1:]]}
    summary, sql = _rules(customers, features=features)
    body = sql.split("\nCASE\n", 1)[0]
    assert all(line.startswith("--") for line in body.splitlines())
    assert hostile in summary["columns"]
    with sqlite3.connect(":memory:") as connection:
        customers.to_sql("customers", connection, index=False)
        connection.execute(f"SELECT {sql} AS segment FROM customers").fetchall()
        assert connection.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == len(customers)


def test_the_fidelity_reads_categories_as_the_sql_does_tabs_and_all():
    """SQL's TRIM strips spaces only, where the model strips any white space:
    the fidelity is measured as the SQL reads, so a tab-padded value the SQL
    misses counts against it instead of being claimed."""
    values = pd.DataFrame(
        {"tier": [" Gold ", "\tGold", "Gold\u00a0", "Gold", "  ", None, "Silver"]}
    )
    condition = {"column": "tier", "operator": "in", "values": ["Gold", "missing"]}
    in_python = _holds(values, condition, {}).tolist()
    with sqlite3.connect(":memory:") as connection:
        values.to_sql("customers", connection, index=False)
        sql = _sql_condition(condition, {}, set())
        rows = connection.execute(f"SELECT CASE WHEN {sql} THEN 1 ELSE 0 END FROM customers")
        in_sqlite = [bool(row[0]) for row in rows.fetchall()]
    assert in_python == in_sqlite == [True, False, False, True, True, True, False]
