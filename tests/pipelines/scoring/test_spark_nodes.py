"""The scoring nodes on Spark: the same rejects and filled values as on one
machine (one test: a Spark session takes seconds to start)."""

from __future__ import annotations

import numpy as np
import pytest

from customer_segmentation.pipelines.scoring.nodes import (
    filled_counts,
    score_customers,
    screen_customers_to_score,
)
from tests.pipelines.scoring.test_nodes import SCORING, trained  # noqa: F401 - fixture
from tests.test_spark import spark  # noqa: F401 - fixture

pytest.importorskip("pyspark")

pytestmark = pytest.mark.spark


def test_non_finite_rejects_and_filled_values_match_one_machine(
    spark,  # noqa: F811 - fixture
    trained,  # noqa: F811 - fixture
    features,
    customers,
):
    model, profiles = trained
    batch = customers.drop(columns="persona").head(8).astype({"annual_income": object})
    batch.loc[1, "annual_income"] = "inf"
    batch.loc[2, "annual_income"] = np.nan
    batch.loc[3, "age"] = np.nan
    local_scorable, local_rejects = screen_customers_to_score(batch, model, features, SCORING)
    local = score_customers(local_scorable, model, None, profiles, "customer_id")

    frame = spark.createDataFrame(batch.astype({"annual_income": str}).replace("nan", None))
    scorable, rejects = screen_customers_to_score(frame, model, features, SCORING)
    scored = score_customers(scorable, model, None, profiles, "customer_id")

    reasons = rejects.toPandas().set_index("customer_id")["reason"].to_dict()
    assert reasons == local_rejects.set_index("customer_id")["reason"].to_dict()
    assert reasons == {
        batch.at[1, "customer_id"]: "column 'annual_income' is not a finite number: inf"
    }
    spark_filled = scored.toPandas().set_index("customer_id")["filled"].sort_index()
    assert spark_filled.to_dict() == local.set_index("customer_id")["filled"].sort_index().to_dict()
    assert filled_counts(scored) == filled_counts(local) == {"annual_income": 1, "age": 1}
