"""The columns the segment rules say they read are exactly those their SQL
``CASE WHEN`` expression reads: the header's "Reads the columns" line and
``segment_rules["columns"]`` name them, the model's other columns are named
apart as not needed, and a table holding only the named columns runs the
SQL."""

import re

import numpy as np
import pandas as pd

from customer_segmentation import model as segmentation
from customer_segmentation.pipelines.segment_analysis.rules import fit_segment_rules
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


def _rules(customers: pd.DataFrame, rules: dict = RULES) -> tuple[dict, str]:
    preprocessor = segmentation.SegmentPreprocessor(numeric=NUMERIC, categorical=CATEGORICAL).fit(
        customers
    )
    kmeans = segmentation.SegmentKMeans(n_clusters=2, n_init=3, random_state=0)
    kmeans.fit(preprocessor.transform(customers))
    model = segmentation.segmentation_model(preprocessor, kmeans)
    segmented = customers.assign(segment=model.predict(customers))
    profiles = pd.DataFrame({"segment": [0, 1], "name": ["Low", "High"]})
    return fit_segment_rules(segmented, segmented, model, "v1", profiles, FEATURES, rules, {})


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
