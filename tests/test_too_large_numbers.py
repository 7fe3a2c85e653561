"""A number too large for the model's arithmetic (1e39 overflows the rules'
float32 tree, 1e160 the squares of scaling) in a feature column stops
training with one readable line naming the column, values and rows, on
both engines, instead of a traceback from deep in scikit-learn."""

from __future__ import annotations

import pytest

from customer_segmentation.features import InvalidCustomerDataError
from customer_segmentation.pipelines.preprocessing import create_pipeline
from tests.conftest import node_function

validate_on_engine = node_function(create_pipeline(), "validate_customers")


@pytest.mark.parametrize("huge", [1e39, 1e160, -1e308])
def test_a_feature_beyond_any_customer_quantity_is_refused_by_column_and_row(
    customers, features, engine, huge
):
    raw = customers.drop(columns="persona").astype({"annual_income": float})
    raw.loc[3, "annual_income"] = huge
    with pytest.raises(InvalidCustomerDataError) as refused:
        engine.pandas(validate_on_engine(engine.frame(raw), features, 10))
    message = str(refused.value)
    assert f"column 'annual_income': {huge!r} larger than 1e+15 in magnitude in 1 row" in message
    assert raw.loc[3, features["id_column"]] in message
    assert "Traceback" not in message


def test_large_but_real_quantities_train(customers, features, engine):
    raw = customers.drop(columns="persona").astype({"annual_income": float})
    raw.loc[3, "annual_income"] = 9.9e14  # a large company's revenue in cents
    validated = engine.pandas(validate_on_engine(engine.frame(raw), features, 10))
    assert len(validated) == len(raw)
