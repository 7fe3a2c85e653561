"""Experiment tracking: every training run recorded in MLflow through
kedro-mlflow's configuration, FINISHED only beside complete versions."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from customer_segmentation.config import ProjectConfigLoader
from customer_segmentation.errors import UserError
from customer_segmentation.tracking import connection, record
from customer_segmentation.tracking.connection import (
    TrackingUnavailableError,
    local_store_uri,
    sqlite_setup_lock,
    tracking_settings,
)
from customer_segmentation.versioning.lock import ProjectRunLock
from customer_segmentation.versioning.marks import complete_versions
from tests.conftest import fast_cli_params, run_session, subprocess_env, versions

MODEL = "data/06_models/segmentation_model.pkl"
EXPERIMENT = "customer-segmentation/tracking"

SELECTION = {
    "selected_k": 3,
    "k_choice": {"rule": "stable_best_silhouette"},
    "clear_structure": True,
    "structure": {"evidence": "groups across features", "silhouette": 0.41, "dip_p_value": 0.0},
    "selected_k_stable": True,
    "criteria_agree": False,
    "segment_stability": {"0": 0.95, "1": 0.7, "2": 0.88},
    "algorithm": {"chosen": "gaussian_mixture", "reason": "better_fit", "rule": "fits better"},
    "scores": [
        {"k": 2, "silhouette": 0.3, "davies_bouldin": 1.2, "gmm_bic": float("nan")},
        {"k": 3, "silhouette": 0.4, "davies_bouldin": 0.9, "gmm_bic": -100.0},
    ],
}


# What a run records ----------------------------------------------------------


def test_metrics_are_the_criteria_at_the_selected_k_with_stability_and_structure():
    metrics = record.run_metrics(SELECTION, drift=None)
    assert metrics["silhouette"] == 0.4 and metrics["davies_bouldin"] == 0.9
    assert metrics["gmm_bic"] == -100.0 and metrics["selected_k"] == 3
    assert metrics["clear_structure"] == 1.0 and metrics["criteria_agree"] == 0.0
    assert metrics["structure.silhouette"] == 0.41
    assert metrics["segment_stability.1"] == 0.7 and metrics["segment_stability.min"] == 0.7
    assert not any(key.startswith("drift.") for key in metrics)  # no previous run


def test_drift_is_recorded_against_a_previous_run_only():
    drift = {"previous_version": "v1", "drifted": True, "psi": 0.3, "ari": None}
    metrics = record.run_metrics(SELECTION, drift)
    assert metrics["drift.drifted"] == 1.0 and metrics["drift.psi"] == 0.3
    assert "drift.ari" not in metrics  # not measured: not recorded as a number
    first = record.run_metrics(SELECTION, {"previous_version": None, "drifted": False})
    assert "drift.drifted" not in first
    assert record.run_tags(SELECTION, drift)["drift.previous_version"] == "v1"


def test_every_criterion_is_a_curve_over_k_and_non_numbers_are_left_out():
    history = record.k_scores(SELECTION)
    assert ("k_scores.silhouette", 0.3, 2) in history
    assert ("k_scores.silhouette", 0.4, 3) in history
    assert ("k_scores.gmm_bic", -100.0, 3) in history
    assert not any(key == "k_scores.gmm_bic" and step == 2 for key, _, step in history)


def test_parameters_are_flattened_and_long_values_cut_to_what_mlflow_takes():
    parameters = {
        "model_selection": {"k_min": 2, "k_max": 10, "drift": {"max_psi": 0.2}},
        "preprocessing": {"transforms": {}, "clip_quantile": 0.005},
        "features": {"id_column": "id", "numeric": ["a", "b"], "roles": {"x": "y"}},
        "data_generation": {"n_customers": 5},
    }
    recorded = record.run_parameters(parameters)
    assert recorded["model_selection.k_max"] == "10"
    assert recorded["model_selection.drift.max_psi"] == "0.2"
    assert recorded["preprocessing.transforms"] == "{}"
    assert recorded["features.numeric"] == "a,b"
    assert recorded["features.roles"] == '{"x": "y"}'
    assert "data_generation.n_customers" not in recorded
    long = record.run_parameters({"features": {"numeric": [f"c{i}" for i in range(3000)]}})
    assert len(long["features.numeric"]) == record.MAX_PARAMETER_LENGTH
    chosen = record.result_parameters(SELECTION)
    assert chosen == {
        "selected_k": "3",
        "k_rule": "stable_best_silhouette",
        "algorithm": "gaussian_mixture",
        "algorithm_reason": "better_fit",
    }


def test_the_model_report_plots_and_small_tables_are_artifacts_customer_lists_are_not():
    assert record.artifact_folder("segmentation_model") == "model"
    assert record.artifact_folder("segment_report") == "report"
    assert record.artifact_folder("criteria_plot") == "plots"
    assert record.artifact_folder("segment_profiles") == "tables"
    for customer_level in ("target_customers", "customer_segments", "scored_customers"):
        assert record.artifact_folder(customer_level) is None


# Where runs go -------------------------------------------------------------------


def _conf(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = tmp_path / "conf" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "conf" / "local").mkdir(exist_ok=True)
    return tmp_path / "conf"


def _tracking(conf: Path, env: str | None) -> dict | None:
    loader = ProjectConfigLoader(
        str(conf),
        env=env,
        base_env="base",
        default_run_env="local",
        merge_strategy={"mlflow": "soft"},
        config_patterns={"mlflow": ["mlflow*", "mlflow*/**"]},
    )
    return tracking_settings(loader)


def test_tracking_is_on_only_where_an_mlflow_yml_is_and_conf_local_says_where(tmp_path):
    conf = _conf(
        tmp_path,
        {
            "base/parameters.yml": "{}",
            "shop/parameters.yml": "{}",
            "tracked/mlflow.yml": "server: {mlflow_tracking_uri: null}\n"
            "tracking: {experiment: {name: shop}}\n",
        },
    )
    assert _tracking(conf, "shop") is None
    assert _tracking(conf, None) is None
    assert _tracking(conf, "tracked")["tracking"]["experiment"]["name"] == "shop"
    (conf / "local" / "mlflow.yml").write_text(
        "server: {mlflow_tracking_uri: 'http://mlflow.internal:5000'}\n"
    )
    tracked = _tracking(conf, "tracked")
    assert tracked["server"]["mlflow_tracking_uri"] == "http://mlflow.internal:5000"
    assert tracked["tracking"]["experiment"]["name"] == "shop"  # the environment's, kept
    assert _tracking(conf, "shop")["server"]["mlflow_tracking_uri"].startswith("http://")


# Runs in a project ------------------------------------------------------------------


def _client(project: Path):
    from mlflow.tracking import MlflowClient  # noqa: PLC0415 - slow import, only here

    uri = local_store_uri(project)
    (project / "mlruns").mkdir(exist_ok=True)
    with sqlite_setup_lock(uri):  # a run may be creating the store: as runs do
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
    return client, experiment


def _runs(project: Path) -> list:
    client, experiment = _client(project)
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


def _start_killable_run(project: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("kedro")),
            "run",
            "--env",
            "tracking",
            "--params",
            fast_cli_params(**{"data_generation.n_customers": 600}),
        ],
        cwd=project,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.integration
def test_runs_are_recorded_finished_beside_complete_versions_and_a_killed_one_failed(
    trained_project,
):
    # A tracked run killed outright, once its MLflow run has started.
    killed = _start_killable_run(trained_project)
    deadline = time.monotonic() + 120
    while not any(run.info.status == "RUNNING" for run in _runs(trained_project)):
        assert killed.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    (left_running,) = _runs(trained_project)
    assert left_running.info.status == "RUNNING"

    before = set(complete_versions(trained_project / MODEL))
    run_session(trained_project, env="tracking")
    (stamp,) = set(complete_versions(trained_project / MODEL)) - before

    dead, finished = _runs(trained_project)
    assert dead.info.run_id == left_running.info.run_id
    assert dead.info.status == "FAILED"
    assert "process ended" in dead.data.tags["customer_segmentation.failure"]
    assert left_running.info.run_name not in complete_versions(trained_project / MODEL)

    # The finished run and the catalog version name each other.
    assert finished.info.status == "FINISHED"
    assert finished.info.run_name == stamp
    assert finished.data.tags["customer_segmentation.version"] == stamp
    assert finished.data.tags["customer_segmentation.env"] == "tracking"
    params, metrics = finished.data.params, finished.data.metrics
    assert params["model_selection.k_max"] == "6"  # the fast settings of the run
    assert params["selected_k"] == str(int(metrics["selected_k"]))
    assert params["algorithm"] in ("kmeans", "gaussian_mixture")
    for metric in ("silhouette", "calinski_harabasz", "davies_bouldin", "clear_structure"):
        assert metric in metrics
    assert "segment_stability.min" in metrics
    assert "drift.drifted" in metrics  # against the trained project's earlier run
    client, _ = _client(trained_project)
    history = client.get_metric_history(finished.info.run_id, "k_scores.silhouette")
    assert sorted(m.step for m in history) == list(range(2, 7))
    artifacts = {
        item.path
        for folder in ("model", "report", "plots", "tables")
        for item in client.list_artifacts(finished.info.run_id, folder)
    }
    assert {"model/segmentation_model.pkl", "report/segment_report.html"} <= artifacts
    assert "plots/criteria_plot.png" in artifacts
    assert "tables/segment_profiles.csv" in artifacts
    report = client.download_artifacts(finished.info.run_id, "report/segment_report.html")
    catalog_report = trained_project / "data/08_reporting/segment_report.html" / stamp
    assert Path(report).read_bytes() == (catalog_report / "segment_report.html").read_bytes()

    # A run that fails in a node ends FAILED, and marks none of its versions.
    with pytest.raises(UserError):
        run_session(
            trained_project,
            pipeline="segmentation",
            env="tracking",
            params={"preprocessing": {"min_rows": 100_000}},
        )
    failed = _runs(trained_project)[-1]
    assert failed.info.status == "FAILED"
    assert "100000" in failed.data.tags["customer_segmentation.failure"]
    assert failed.info.run_name not in complete_versions(trained_project / MODEL)


class _RacedSetup:
    """kedro-mlflow's setup when another run creates the experiment between
    its look-up and its create: a server answers RESOURCE_ALREADY_EXISTS."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def setup(self, context) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            error = RuntimeError("Experiment 'shop' already exists.")
            error.error_code = "RESOURCE_ALREADY_EXISTS"
            raise error


def test_an_experiment_created_by_another_run_meanwhile_is_used_not_refused():
    raced = _RacedSetup(failures=1)
    connection._set_up(raced, context=None, uri="http://mlflow.internal:5000")
    assert raced.calls == 2
    with pytest.raises(TrackingUnavailableError, match="already exists"):
        connection._set_up(_RacedSetup(failures=2), None, "http://mlflow.internal:5000")


def test_a_run_in_the_same_process_goes_to_its_own_projects_store(tmp_path, monkeypatch):
    # MLflow writes the URI it is given into MLFLOW_TRACKING_URI: the next run
    # in the process (kedro server, a notebook) took it for the user's choice.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    first, second = tmp_path / "first", tmp_path / "second"
    for project in (first, second):
        context = SimpleNamespace(
            project_path=project, env="tracking", _get_config_credentials=dict
        )
        store = connection.connect({}, context)
        assert store.uri == local_store_uri(project)
        assert "MLFLOW_TRACKING_URI" not in os.environ
        assert "MLFLOW_EXPERIMENT_ID" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_store_uri(first))  # the user's own
    store = connection.connect(
        {}, SimpleNamespace(project_path=second, env="tracking", _get_config_credentials=dict)
    )
    assert store.uri == local_store_uri(first)
    assert os.environ["MLFLOW_TRACKING_URI"] == local_store_uri(first)


# What a run does first: kedro-mlflow's setup of the project's own store.
OPEN_THE_STORE = """
import sys
from types import SimpleNamespace
from customer_segmentation.tracking.connection import connect
context = SimpleNamespace(project_path=sys.argv[1], env="tracking", _get_config_credentials=dict)
print(connect({}, context).experiment)
"""


def test_runs_that_open_a_new_store_at_once_all_get_it(tmp_path):
    # MLflow creates a new SQLite store's tables, and kedro-mlflow the
    # experiment, without a transaction: at once, all but one used to fail.
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_THE_STORE, str(tmp_path)],
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for opener in openers:
        out, err = opener.communicate(timeout=120)
        assert opener.returncode == 0, err[-2000:]
        assert out.split()[-1] == EXPERIMENT
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.integration
def test_an_unreachable_server_refuses_the_run_in_one_line_and_holds_no_lock(trained_project):
    uri = f"http://analyst:s3cret@127.0.0.1:{_closed_port()}"
    (trained_project / "conf" / "local" / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: {uri}\n"
    )
    models = versions(trained_project, MODEL)
    with pytest.raises(TrackingUnavailableError) as refused:
        run_session(trained_project, pipeline="segmentation")
    message = str(refused.value)
    assert uri.replace("s3cret", "***") in message and "nothing was run" in message
    assert "s3cret" not in message
    assert "\n" not in message
    assert versions(trained_project, MODEL) == models
    lock = ProjectRunLock(trained_project / "data" / ".run.lock", timeout=0)
    lock.acquire()  # free: no run holds it
    lock.release()
    # Scoring is not a training run: it is not tracked and needs no server.
    run_session(trained_project, pipeline="scoring")


def test_the_plugin_hook_is_replaced_and_mlflow_not_imported_without_tracking(project_copy):
    code = (
        "import sys\n"
        "from kedro.framework.session import KedroSession\n"
        "from kedro.framework.startup import bootstrap_project\n"
        "bootstrap_project('.')\n"
        "with KedroSession.create(project_path='.') as session:\n"
        "    names = [n for n, _ in session._hook_manager.list_name_plugin()]\n"
        "    session.load_context()\n"
        "print('mlflow' in sys.modules, names.count('mlflow_hook'))\n"
    )
    env = {**subprocess_env(), "KEDRO_DISABLE_TELEMETRY": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project_copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["False", "1"]
