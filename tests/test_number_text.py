"""Numbers in messages are written as the file or the parameters wrote
them (``features.number_text``): a bound of 10,000,000 reads 10000000, not
1e+07, in the training errors and the scoring reasons alike."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.features import (
    FeatureSpec,
    InvalidCustomerDataError,
    bounds_text,
    number_text,
    validate_customer_table,
)
from customer_segmentation.pipelines.scoring import kernels


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10_000_000, "10000000"),
        (10_000_000.0, "10000000"),
        (np.float64(9_999_999.0), "9999999"),
        (np.int64(-50), "-50"),
        (0.5, "0.5"),
        (14.891, "14.891"),
        (1e16, "1e+16"),
        (0.00001, "1e-05"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
    ],
)
def test_a_number_reads_as_written(value, text):
    assert number_text(value) == text


def test_scoring_writes_its_reasons_with_the_same_function():
    assert kernels.number_text is number_text


SPEC = FeatureSpec.parse(
    {
        "id_column": "id",
        "numeric": ["income", "score"],
        "bounds": {"income": [0, 10_000_000], "score": [None, 0.5]},
    }
)


def test_bounds_read_as_written_and_an_open_end_as_none():
    assert bounds_text(SPEC, "income") == "bounds [0, 10000000]"
    assert bounds_text(SPEC, "score") == "bounds [none, 0.5]"


def test_a_value_outside_its_bounds_is_named_as_written_in_training():
    table = pd.DataFrame(
        {"id": ["a", "b", "c"], "income": [5.0, 12_345_678.0, 20.0], "score": [0.1, 0.2, 0.3]}
    )
    with pytest.raises(InvalidCustomerDataError) as raised:
        validate_customer_table(table, SPEC, 1, "raw_customers", 2)
    assert (
        "column 'income': 12345678 outside its bounds [0, 10000000] (features.bounds) in 1 row: "
        "line 3 (id b)"
    ) in str(raised.value)


def test_a_value_outside_its_bounds_is_named_as_written_in_scoring():
    reason = kernels.outside_bounds("income", 12_345_678.0, SPEC)
    assert reason == "column 'income' value 12345678 is outside its bounds [0, 10000000]"
