"""The real pipelines through Kedro, on a temporary copy of the project."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro_telemetry.plugin import _check_for_telemetry_consent
from nbclient import NotebookClient

from customer_segmentation.hooks import SourceDataGuardError
from tests.conftest import SMALL_RUN, kedro_in_process, run_session, version_file, versions

pytestmark = pytest.mark.integration

VERSIONED = {
    "raw_customers": "data/01_raw/customers.parquet",
    "validated_customers": "data/02_intermediate/validated_customers.parquet",
    "encoded_features": "data/04_feature/encoded_features.parquet",
    "preprocessor": "data/06_models/preprocessor.pkl",
    "segmentation_model": "data/06_models/segmentation_model.pkl",
    "model_selection_metrics": "data/08_reporting/model_selection_metrics.json",
    "criteria_plot": "data/08_reporting/criteria_plot.png",
    "silhouette_diagram_plot": "data/08_reporting/silhouette_diagram_plot.png",
    "algorithm_comparison": "data/08_reporting/algorithm_comparison.csv",
    "algorithm_comparison_plot": "data/08_reporting/algorithm_comparison_plot.png",
    "customer_segments": "data/07_model_output/customer_segments.parquet",
    "segment_profiles": "data/08_reporting/segment_profiles.csv",
    "segment_scatter_plot": "data/08_reporting/segment_scatter_plot.png",
    "segment_recommendations": "data/08_reporting/segment_recommendations.csv",
    "target_customers": "data/07_model_output/target_customers.csv",
    "segment_map_plot": "data/08_reporting/segment_map_plot.png",
    "profile_heatmap_plot": "data/08_reporting/profile_heatmap_plot.png",
    "segment_sizes_plot": "data/08_reporting/segment_sizes_plot.png",
    "segment_report": "data/08_reporting/segment_report.html",
    "drift_report": "data/08_reporting/drift_report.json",
}


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_default_run_writes_one_consistent_version_of_everything(project_copy):
    """At the production model-selection settings."""
    run_session(project_copy, fast=False)
    stamps = {name: versions(project_copy, path) for name, path in VERSIONED.items()}
    assert all(len(found) == 1 for found in stamps.values()), stamps
    assert len({found[0] for found in stamps.values()}) == 1, "one version stamp per run"

    raw = pd.read_parquet(version_file(project_copy, VERSIONED["raw_customers"]))
    segments = pd.read_parquet(version_file(project_copy, VERSIONED["customer_segments"]))
    metrics = json.loads(
        version_file(project_copy, VERSIONED["model_selection_metrics"]).read_text()
    )
    profiles = pd.read_csv(version_file(project_copy, VERSIONED["segment_profiles"]))
    assert len(raw) == 600
    assert segments["customer_id"].tolist() == raw["customer_id"].tolist()
    assert metrics["criterion"] == "consensus"
    assert metrics["clear_structure"] is True
    assert [row["k"] for row in metrics["scores"]] == list(range(2, 11))
    assert segments["segment"].nunique() == metrics["selected_k"] == len(profiles)
    plots = [name for name in VERSIONED if name.endswith("_plot")]
    assert len(plots) == 7
    for plot in plots:
        assert version_file(project_copy, VERSIONED[plot]).read_bytes()[:4] == b"\x89PNG"

    recommendations = pd.read_csv(version_file(project_copy, VERSIONED["segment_recommendations"]))
    targets = pd.read_csv(version_file(project_copy, VERSIONED["target_customers"]))
    assert sorted(recommendations["priority"]) == list(range(1, len(profiles) + 1))
    top = set(recommendations.loc[recommendations["targeted"], "segment"])
    assert recommendations.loc[recommendations["targeted"], "customers"].sum() <= 0.5 * 600
    assert targets["customer_id"].is_unique
    assert set(targets["customer_id"]) == set(
        segments.loc[segments["segment"].isin(top), "customer_id"]
    )
    report = version_file(project_copy, VERSIONED["segment_report"]).read_text()
    assert all(name in report for name in profiles["name"])
    # The report embeds the very PNG files the run saved: drawn once.
    for plot in ("segment_sizes_plot", "profile_heatmap_plot", "segment_map_plot"):
        png = version_file(project_copy, VERSIONED[plot]).read_bytes()
        assert base64.b64encode(png).decode("ascii") in report

    first_drift = json.loads(version_file(project_copy, VERSIONED["drift_report"]).read_text())
    assert first_drift == {"previous_version": None, "drifted": False}

    run_session(project_copy, fast=False)
    assert all(len(versions(project_copy, path)) == 2 for path in VERSIONED.values())
    drift = json.loads(version_file(project_copy, VERSIONED["drift_report"]).read_text())
    first, second = versions(project_copy, VERSIONED["segment_profiles"])
    assert (drift["previous_version"], drift["previous_model_version"]) == (first, first)
    assert drift["model_version"] == second
    assert drift["ari"] == pytest.approx(1.0)  # the same seed gives the same customers
    assert not drift["drifted"]


def _user_environment(project: Path, customers: pd.DataFrame, name: str = "mine") -> Path:
    source = project / "data" / "01_raw" / "my_customers.csv"
    customers.to_csv(source, index=False)
    env = project / "conf" / name
    env.mkdir()
    (env / "catalog.yml").write_text(
        "raw_customers:\n"
        "  type: pandas.CSVDataset\n"
        "  filepath: data/01_raw/my_customers.csv\n"
        "  metadata:\n    kedro-viz:\n      layer: raw\n"
    )
    return source


def test_generation_refuses_to_overwrite_user_data(project_copy, customers):
    source = _user_environment(project_copy, customers.drop(columns="persona"))
    original = source.read_bytes()
    with pytest.raises(SourceDataGuardError, match="--env mine --pipelines segmentation"):
        run_session(project_copy, env="mine")
    assert source.read_bytes() == original
    assert versions(project_copy, VERSIONED["encoded_features"]) == []

    run_session(project_copy, "segmentation", env="mine")
    assert source.read_bytes() == original
    segments = pd.read_parquet(version_file(project_copy, VERSIONED["customer_segments"]))
    assert segments["customer_id"].tolist() == customers["customer_id"].tolist()


def test_crm_example_environment_and_the_notebook(project_copy, monkeypatch):
    run_session(project_copy, "segmentation", env="crm_example", params={})
    output = "data/crm_example/08_reporting/segment_profiles.csv"
    profiles = pd.read_csv(version_file(project_copy, output))
    assert profiles["customers"].sum() == 2240
    assert "Income" in profiles.columns
    # Campaign responses are profiled, never clustered on, and differ clearly.
    encoded = pd.read_parquet(
        version_file(project_copy, "data/crm_example/04_feature/encoded_features.parquet")
    )
    assert "Response" not in encoded.columns
    assert profiles["Response"].max() >= 1.5 * profiles["Response"].min()
    recommendations = pd.read_csv(
        version_file(project_copy, "data/crm_example/08_reporting/segment_recommendations.csv")
    )
    best = recommendations.loc[recommendations["priority"] == 1, "segment"].item()
    assert profiles.set_index("segment").loc[best, "Response"] == profiles["Response"].max()
    # Segments that differ in spend get different actions, read from the roles.
    assert recommendations["action"].nunique() >= 2
    assert versions(project_copy, VERSIONED["segment_profiles"]) == []  # default's untouched

    # The notebook explores this run through the catalog, as a user opens it.
    notebook = nbformat.read(project_copy / "notebooks" / "explore_segments.ipynb", as_version=4)
    monkeypatch.setenv("KEDRO_ENV", "crm_example")
    monkeypatch.setenv("PROJECT_PATH", str(project_copy))
    NotebookClient(
        notebook, timeout=120, resources={"metadata": {"path": str(project_copy / "notebooks")}}
    ).execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert f"k = {len(profiles)} by rule" in printed
    assert f"segment {best}: {profiles.set_index('segment').loc[best, 'name']}" in printed


def test_cli_bad_input_exits_non_zero_with_the_reason_logged(project_copy, customers):
    broken = customers.drop(columns="persona").astype({"annual_income": object})
    broken.loc[7, "annual_income"] = "unknown"
    _user_environment(project_copy, broken, name="broken")
    (project_copy / "conf" / "broken" / "parameters.yml").write_text(
        "preprocessing:\n  first_line: 2\n"
    )
    result = kedro_in_process(project_copy, "run", "--env", "broken", "--pipelines", "segmentation")
    assert result.returncode != 0
    expected = (
        "Error (InvalidCustomerDataError): raw_customers does not match the features parameter:\n"
        "  - column 'annual_income': expected a number, got 'unknown' in 1 row: "
        "line 9 (customer_id C0000008)"
    )
    assert expected in result.stderr  # one readable block, not a wrapped traceback
    assert "Traceback" not in result.stderr
    assert expected in (project_copy / "logs" / "info.log").read_text()


def test_an_environment_overrides_one_nested_key(project_copy, customers):
    """Parameters merge key by key: one label, nothing else repeated."""
    _user_environment(project_copy, customers.drop(columns="persona"), name="labels")
    (project_copy / "conf" / "labels" / "parameters.yml").write_text(
        "segment_analysis:\n  naming:\n    labels:\n      annual_income: revenue\n"
    )
    run_session(project_copy, "segmentation", env="labels")
    profiles = pd.read_csv(version_file(project_copy, VERSIONED["segment_profiles"]))
    assert profiles["name"].str.contains("revenue").any()
    assert not profiles["name"].str.contains("income").any()


def test_a_misspelled_parameter_stops_the_run_before_any_node(project_copy):
    result = kedro_in_process(project_copy, "run", "--params", "model_selection.k_mx=4")
    assert result.returncode != 0
    assert "'model_selection.k_mx': unknown parameter; did you mean 'k_max'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project_copy / "data" / "01_raw" / "customers.parquet").exists()


def test_viz_build_lists_all_pipelines_with_layers(project_copy):
    result = kedro_in_process(project_copy, "viz", "build")
    assert result.returncode == 0, result.stderr
    main = json.loads((project_copy / "build" / "api" / "main").read_text())
    pipelines = {pipeline["id"] for pipeline in main["pipelines"]}
    assert {
        "data_generation",
        "preprocessing",
        "model_selection",
        "segment_analysis",
        "segmentation",
        "__default__",
    } <= pipelines
    assert main["layers"] == [
        "raw",
        "intermediate",
        "feature",
        "model_input",
        "models",
        "model_output",
        "reporting",
    ]


def test_telemetry_is_off_without_any_environment_variable(project_copy, monkeypatch):
    for variable in ("KEDRO_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        monkeypatch.delenv(variable, raising=False)
    assert _check_for_telemetry_consent(project_copy) is False


def test_scoring_uses_the_latest_or_the_pinned_model(trained_project):
    first = versions(trained_project, VERSIONED["segmentation_model"])[0]
    run_session(trained_project, params={"data_generation": {"n_customers": 700, "random_seed": 7}})
    latest = versions(trained_project, VERSIONED["segmentation_model"])[-1]
    assert latest != first

    run_session(trained_project, "scoring", params={})
    batch = pd.read_csv(
        trained_project / "data" / "01_raw" / "examples" / "customers_to_score.csv",
        dtype={"customer_id": str},
        skip_blank_lines=False,
    )
    scored = pd.read_parquet(
        version_file(trained_project, "data/07_model_output/scored_customers.parquet")
    )
    rejects = pd.read_csv(version_file(trained_project, "data/08_reporting/scoring_rejects.csv"))
    assert len(scored) + len(rejects) == len(batch)
    assert set(scored["customer_id"]) | set(rejects["customer_id"].dropna()) <= set(
        batch["customer_id"]
    )
    assert set(scored["model_version"]) == {latest}

    # Pinning the model alone brings the profiles made with it.
    bootstrap_project(trained_project)
    with KedroSession.create(project_path=trained_project) as session:
        session.run(pipeline_names=["scoring"], load_versions={"segmentation_model": first})
    pinned = pd.read_parquet(
        version_file(trained_project, "data/07_model_output/scored_customers.parquet")
    )
    assert set(pinned["model_version"]) == {first}

    with (
        KedroSession.create(project_path=trained_project) as session,
        pytest.raises(ValueError, match="made with another segmentation_model"),
    ):
        session.run(
            pipeline_names=["scoring"],
            load_versions={"segmentation_model": first, "segment_profiles": latest},
        )


def _drift(project: Path) -> dict:
    return json.loads(version_file(project, VERSIONED["drift_report"]).read_text())


def test_pipelines_run_as_separate_jobs_read_matching_versions(trained_project):
    """As Airflow runs them: one session per pipeline. Scoring between the
    model_selection and segment_analysis jobs uses the previous model with its
    own profiles; drift compares the new model with the one before it."""
    first = versions(trained_project, VERSIONED["segmentation_model"])[0]
    other_customers = {"data_generation": {"n_customers": 700, "random_seed": 7}}
    for pipeline in ("data_generation", "preprocessing", "model_selection"):
        run_session(trained_project, pipeline, params=other_customers)
    second = versions(trained_project, VERSIONED["segmentation_model"])[-1]

    run_session(trained_project, "scoring", params={})
    scored = pd.read_parquet(
        version_file(trained_project, "data/07_model_output/scored_customers.parquet")
    )
    assert set(scored["model_version"]) == {first}

    run_session(trained_project, "segment_analysis", params=other_customers)
    drift = _drift(trained_project)
    assert (drift["model_version"], drift["previous_model_version"]) == (second, first)
    assert drift["previous_version"] == versions(trained_project, VERSIONED["segment_profiles"])[0]
    run_session(trained_project, "scoring", params={})
    scored = pd.read_parquet(
        version_file(trained_project, "data/07_model_output/scored_customers.parquet")
    )
    assert set(scored["model_version"]) == {second}

    # Analysing the same model again still compares it with the one before.
    run_session(trained_project, "segment_analysis", params=other_customers)
    assert (_drift(trained_project)["previous_model_version"]) == first


def test_failed_runs_leave_earlier_versions_intact_and_are_never_read(trained_project):
    good = versions(trained_project, VERSIONED["segmentation_model"])[0]
    before = snapshot(trained_project / "data")
    with pytest.raises(ValueError, match="'model_selection.criterion': Input should be"):
        run_session(trained_project, params={**SMALL_RUN, "model_selection": {"criterion": "gap"}})
    always_drifts = {
        **SMALL_RUN,
        "segment_analysis": {"drift": {"min_ari": 1.01, "fail_on_drift": True}},
    }
    with pytest.raises(Exception, match="Segmentation drift"):
        run_session(trained_project, params=always_drifts)
    after = snapshot(trained_project / "data")
    assert all(after.get(path) == digest for path, digest in before.items())
    assert len(versions(trained_project, VERSIONED["segmentation_model"])) == 2  # kept to inspect

    run_session(trained_project, "scoring", params={})
    scored = pd.read_parquet(
        version_file(trained_project, "data/07_model_output/scored_customers.parquet")
    )
    assert set(scored["model_version"]) == {good}
    run_session(trained_project)  # the next night compares with the last good model
    assert _drift(trained_project)["previous_model_version"] == good
