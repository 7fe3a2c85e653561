"""The Spark path (``conf/spark``) against the one-machine path on the same
data: equal transaction features, equal refinement of the final model, equal
segments, profiles and scores through the pipelines, the same validation
errors, the Gaussian mixture deployed alike on both (segments and
confidences), and a Spark version left by a killed job never read as the
latest.

Spark runs in ``local[2]`` with the settings of ``conf/spark/spark.yml`` and
the test session's (``SPARK_TEST_SETTINGS``), runs with ``--env spark``
included; the session is started once for the test session (about 5 s)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from sklearn.cluster import KMeans

from customer_segmentation.features import InvalidCustomerDataError
from customer_segmentation.pipelines import customer_features, preprocessing
from customer_segmentation.spark import nearest_centre, refine_kmeans
from tests.conftest import (
    FAST_SELECTION,
    SMALL_RUN,
    node_function,
    run_session,
    use_the_test_spark_session,
    version_file,
    versions,
)
from tests.pipelines.customer_features.test_nodes import SETTINGS

pytest.importorskip("pyspark")

pytestmark = pytest.mark.spark

# The nodes as the pipelines wire them: the engine is chosen by their input.
clean_transactions = node_function(customer_features.create_pipeline(), "clean_transactions")
build_customer_features = node_function(
    customer_features.create_pipeline(), "build_customer_features"
)
validate_customers = node_function(preprocessing.create_pipeline(), "validate_customers")


# The UCI-style settings of the one-machine tests, with a channel and two
# named categories (the rest "other").
LOG_SETTINGS = {
    **SETTINGS,
    "columns": {**SETTINGS["columns"], "channel": "Channel"},
    "category_top_n": 2,
}


def _transaction_log(lines: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A UCI-style log (float customer ids, month-first dates with times,
    cancelled invoices prefixed with C) of ``lines`` lines with a dirty line
    of every kind at the top."""
    rng = np.random.default_rng(seed)
    orders = rng.integers(0, lines // 3, lines)
    day = pd.Timestamp("2023-01-01") + pd.to_timedelta(orders % 700, unit="D")
    log = pd.DataFrame(
        {
            "InvoiceNo": [("C" if o % 97 == 0 else "") + str(500_000 + o) for o in orders],
            "CustomerID": (10_000 + orders % 400).astype(float),
            "InvoiceDate": [
                f"{d.month}/{d.day}/{d.year} {o % 24}:{o % 60:02d}" for d, o in zip(day, orders)
            ],
            "Quantity": rng.integers(1, 6, lines).astype(float),
            "UnitPrice": np.round(rng.lognormal(1.5, 0.7, lines), 2),
            "Category": rng.choice(["home", "toys", "books", "garden"], lines),
            "Channel": rng.choice(["web", "store"], lines),
        }
    )
    dirty = pd.DataFrame(
        [
            ("1", np.nan, "2023-01-05", 1.0, 1.0, "home", "web"),  # no customer id
            ("2", 10_001.0, "not a date", 1.0, 1.0, "home", "web"),  # bad timestamp
            ("3", 10_001.0, "2023-01-06", np.nan, 1.0, "home", "web"),  # no quantity
            ("4", 10_001.0, "2099-01-01", 1.0, 1.0, "home", "web"),  # future
            ("5", 10_001.0, "2023-01-07", 1.0, 0.0, "home", "web"),  # zero price
            ("6", 10_001.0, "2023-01-08", -2.0, 3.0, "toys", "web"),  # return
        ],
        columns=log.columns,
    )
    return pd.concat([dirty, log, log.head(5)], ignore_index=True)  # 5 duplicates


def test_transaction_features_are_equal_on_both_engines(spark):
    log = _transaction_log()
    clean, rejects, summary = clean_transactions(log, LOG_SETTINGS, today="2030-01-01")
    expected = build_customer_features(clean, LOG_SETTINGS)

    spark_log = spark.createDataFrame(log)
    spark_clean, spark_rejects, spark_summary = clean_transactions(
        spark_log, LOG_SETTINGS, today="2030-01-01"
    )
    features = (
        build_customer_features(spark_clean, LOG_SETTINGS)
        .toPandas()
        .sort_values("customer_id")
        .reset_index(drop=True)
    )
    assert spark_summary["lines_per_rule"] == summary["lines_per_rule"]
    assert summary["lines_per_rule"]["duplicate"] == 5
    assert all(count > 0 for count in summary["lines_per_rule"].values())
    assert spark_summary["rows"] == summary["rows"] == len(log)
    assert sorted(spark_rejects.toPandas()["reason"]) == sorted(rejects["reason"])
    # The same value removed by each rule, and the same revenue.
    assert [{**rule, "value": pytest.approx(rule["value"])} for rule in summary["rules"]] == (
        spark_summary["rules"]
    )
    assert summary["revenue"]["returns"] > 0 and summary["rules"][3]["value"] > 0  # duplicates
    assert spark_summary["revenue"] == pytest.approx(summary["revenue"])
    assert (features["return_share"] == 1).any()  # fully cancelled customers, on both engines
    assert (features["monetary_total"] == 0).any()
    assert list(features.columns) == list(expected.columns)
    assert "share_other" in features and "top_channel" in features
    pd.testing.assert_frame_equal(
        features, expected, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9
    )


def test_spark_refines_the_final_model_as_scikit_learn_does(spark):
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0, 0.0], [3.0, 3.0, 0.0], [0.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    values = np.vstack([c + rng.normal(0, 0.9, (800, 3)) for c in centres])  # overlapping
    table = pd.DataFrame(values, columns=["a", "b", "c"])
    start = KMeans(4, n_init=1, random_state=0).fit(table.sample(300, random_state=1))
    expected = KMeans(4, init=start.cluster_centers_, n_init=1).fit(table)

    frame = spark.createDataFrame(table)
    refined, sizes, inertia, iterations = refine_kmeans(
        frame, ["a", "b", "c"], start.cluster_centers_
    )
    np.testing.assert_allclose(refined, expected.cluster_centers_, rtol=1e-9, atol=1e-9)
    labels = frame.select(nearest_centre(["a", "b", "c"], refined).alias("s")).toPandas()["s"]
    np.testing.assert_array_equal(labels.to_numpy(), expected.labels_)
    np.testing.assert_array_equal(sizes, np.bincount(expected.labels_))
    assert inertia == pytest.approx(expected.inertia_, rel=1e-9)
    assert iterations == expected.n_iter_ or iterations == expected.n_iter_ + 1


def test_spark_validation_names_the_column_and_the_ids(spark, customers, features):
    bad = customers.head(40).astype({"age": "string"}).copy()
    bad.loc[3, "age"] = "forty"
    bad.loc[5, "customer_id"] = bad.loc[4, "customer_id"]
    bad = bad.drop(columns=["annual_income"])
    with pytest.raises(InvalidCustomerDataError) as missing:
        validate_customers(spark.createDataFrame(bad), features, 10)
    assert "column 'annual_income' is missing: features.numeric names it" in str(missing.value)

    bad = customers.head(40).astype({"age": "string"}).copy()
    bad.loc[3, "age"] = "forty"
    bad.loc[5, "customer_id"] = bad.loc[4, "customer_id"]
    with pytest.raises(InvalidCustomerDataError) as problems:
        validate_customers(spark.createDataFrame(bad), features, 10)
    message = str(problems.value)
    assert (
        f"column 'age': expected a number, got 'forty' in 1 rows: customer_id {bad.loc[3, 'customer_id']}"
        in message
    )
    assert f"repeat an id, for example '{bad.loc[4, 'customer_id']}'" in message
    assert "Traceback" not in message


def _latest(project, relative: str) -> pd.DataFrame:
    path = version_file(project, relative)
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


@pytest.fixture(scope="module")
def spark_template(spark, trained_template, tmp_path_factory):
    """The trained project (one fast pandas run of 600 customers) after the
    same run on Spark (``--env spark``, in the test session), made once for
    this module: every customer is in the selection sample, so both engines
    choose k on the same rows."""
    project = tmp_path_factory.mktemp("spark") / "project"
    shutil.copytree(trained_template, project, symlinks=True)
    use_the_test_spark_session(project)
    here = Path.cwd()
    os.chdir(project)
    try:
        run_session(project, env="spark")
    finally:
        os.chdir(here)
    return project


@pytest.fixture
def spark_project(tmp_path, monkeypatch, spark_template) -> Path:
    """A copy of ``spark_template``, made the working directory."""
    project = tmp_path / "project"
    shutil.copytree(spark_template, project, symlinks=True)
    monkeypatch.chdir(project)
    return project


@pytest.mark.integration
def test_training_and_scoring_are_equal_on_both_engines(spark_project):
    """``kedro run`` and ``kedro run --env spark`` on the same customers give
    equal segments, profiles, targets and scores."""
    project_copy = spark_project
    run_session(project_copy, pipeline="scoring")
    run_session(project_copy, pipeline="scoring", env="spark")

    def both(relative: str, spark_relative: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        spark_relative = spark_relative or relative
        return _latest(project_copy, f"data/{relative}"), _latest(
            project_copy, f"data/spark/{spark_relative}"
        )

    raw, spark_raw = both("01_raw/customers.parquet")
    text = raw.select_dtypes(exclude="number").columns
    pd.testing.assert_frame_equal(
        spark_raw.astype(dict.fromkeys(text, "string")),
        raw.astype(dict.fromkeys(text, "string")),
        check_dtype=False,
    )

    segments, spark_segments = both("07_model_output/customer_segments.parquet")
    merged = segments.merge(spark_segments, on="customer_id", suffixes=("", "_spark"))
    assert len(merged) == len(segments) == len(spark_segments) == 600
    assert (merged["segment"] == merged["segment_spark"]).all()

    profiles, spark_profiles = both("08_reporting/segment_profiles.csv")
    assert list(spark_profiles.columns) == list(profiles.columns)
    assert spark_profiles["name"].tolist() == profiles["name"].tolist()
    numbers = profiles.select_dtypes("number").columns
    np.testing.assert_allclose(
        spark_profiles[numbers].to_numpy(float), profiles[numbers].to_numpy(float), atol=1e-3
    )

    targets, spark_targets = both(
        "07_model_output/target_customers.csv", "07_model_output/target_customers.parquet"
    )
    assert sorted(spark_targets["customer_id"]) == sorted(targets["customer_id"].astype(str))

    scored, spark_scored = both("07_model_output/scored_customers.parquet")
    merged = scored.merge(spark_scored, on="customer_id", suffixes=("", "_spark"))
    assert len(merged) == len(scored) == len(spark_scored) > 100
    assert (merged["segment_name"] == merged["segment_name_spark"]).all()

    rejects, spark_rejects = both(
        "08_reporting/scoring_rejects.csv", "08_reporting/scoring_rejects.parquet"
    )
    # Spark's CSV reader skips blank lines: the one reason it does not report.
    expected = sorted(rejects.loc[rejects["reason"] != "blank line", "reason"])
    assert sorted(spark_rejects["reason"]) == expected

    metrics = json.loads(
        version_file(
            project_copy, "data/spark/08_reporting/model_selection_metrics.json"
        ).read_text()
    )
    pandas_metrics = json.loads(
        version_file(project_copy, "data/08_reporting/model_selection_metrics.json").read_text()
    )
    assert metrics["selected_k"] == pandas_metrics["selected_k"]
    summary = json.loads(
        version_file(project_copy, "data/spark/08_reporting/raw_customers_summary.json").read_text()
    )
    assert summary["rows"] == 600 and len(summary["xxhash64_sum"]) == 16


# The pipelines after preprocessing, with the Gaussian mixture forced; k
# among 2 and 3 and few resamples keep the two runs short.
MIXTURE_PIPELINES = ["model_selection", "segment_analysis", "scoring"]
MIXTURE_RUN = {
    **SMALL_RUN,
    "model_selection": {
        **FAST_SELECTION,
        "k_max": 3,
        "stability_resamples": 2,
        "algorithm": "gaussian_mixture",
        "segment_stability": {"resamples": 2},
    },
}


def _run_with_the_mixture(project: Path, env: str | None) -> None:
    """``kedro run --pipelines model_selection,segment_analysis,scoring``
    with ``model_selection.algorithm: gaussian_mixture``, in one session."""
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=MIXTURE_RUN) as session:
        session.run(pipeline_names=MIXTURE_PIPELINES)


@pytest.mark.integration
def test_a_deployed_mixture_gives_equal_segments_and_confidences_on_both_engines(
    spark_project,
):
    """With the Gaussian mixture forced, the Spark run's final fit, segment
    report and scores equal the pandas run's: the same segments, and the
    same confidences within 1e-9, for training and for scoring."""
    _run_with_the_mixture(spark_project, None)
    _run_with_the_mixture(spark_project, "spark")

    for relative in (
        "07_model_output/customer_segments.parquet",
        "07_model_output/scored_customers.parquet",
    ):
        pandas_rows = _latest(spark_project, f"data/{relative}")
        spark_rows = _latest(spark_project, f"data/spark/{relative}")
        merged = pandas_rows.merge(spark_rows, on="customer_id", suffixes=("", "_spark"))
        assert len(merged) == len(pandas_rows) == len(spark_rows) > 100, relative
        assert (merged["segment"] == merged["segment_spark"]).all(), relative
        np.testing.assert_allclose(
            merged["confidence_spark"], merged["confidence"], rtol=0, atol=1e-9
        )
        assert merged["confidence"].between(1 / 6, 1).all() and merged["confidence"].lt(1).any()

    for data in ("data", "data/spark"):
        metrics = json.loads(
            version_file(
                spark_project, f"{data}/08_reporting/model_selection_metrics.json"
            ).read_text()
        )
        assert metrics["algorithm"]["chosen"] == "gaussian_mixture", data
        report = version_file(spark_project, f"{data}/08_reporting/segment_report.html")
        text = " ".join(report.read_text().split())
        assert "The segments come from a Gaussian mixture with" in text, data
        assert "on a boundary between segments" in text, data


@pytest.mark.integration
def test_a_spark_version_a_killed_job_left_is_never_read(spark_project):
    """A Spark job killed while writing leaves a version folder without a
    completion mark (Spark's own _temporary files, no _SUCCESS): the next run
    reads the last complete version and marks nothing of the killed one."""
    raw = "data/spark/01_raw/customers.parquet"
    (complete,) = versions(spark_project, raw)
    killed = "2999-01-01T00.00.00.000Z"
    half_written = spark_project / raw / killed / "customers.parquet"
    shutil.copytree(spark_project / raw / complete / "customers.parquet", half_written)
    (half_written / "_SUCCESS").unlink()
    moved = sorted(half_written.glob("part-*"))[0]
    (half_written / "_temporary" / "0").mkdir(parents=True)
    moved.rename(half_written / "_temporary" / "0" / moved.name)

    run_session(spark_project, env="spark", pipeline="preprocessing")
    summary = json.loads(
        version_file(
            spark_project, "data/spark/08_reporting/raw_customers_summary.json"
        ).read_text()
    )
    assert summary["rows"] == 600  # the complete version, not the killed one
    encoded = version_file(spark_project, "data/spark/04_feature/encoded_features.parquet")
    lineage = json.loads((encoded.parent / ".complete").read_text())["lineage"]
    assert lineage["raw_customers"] == complete
    assert not (spark_project / raw / killed / ".complete").exists()
