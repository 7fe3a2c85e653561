"""Runs killed at any moment never hand a half-written version to the next run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
from kedro.framework.hooks import hook_impl
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from customer_segmentation.errors import UserError
from customer_segmentation.versioning import DamagedVersionError, NoCompleteVersionError
from customer_segmentation.versioning.lock import ProjectRunLock
from customer_segmentation.versioning.marks import COMPLETE_MARK, all_versions, complete_versions
from tests.conftest import fast_cli_params, run_session, subprocess_env, version_file, versions

pytestmark = pytest.mark.integration

RAW = "data/01_raw/customers.parquet"
MODEL = "data/06_models/segmentation_model.pkl"
PROFILES = "data/08_reporting/segment_profiles.csv"
SCORED = "data/07_model_output/scored_customers.parquet"


def _scored_model_versions(project: Path) -> set[str]:
    return set(pd.read_parquet(version_file(project, SCORED))["model_version"])


def _kill_after_saving(project: Path, dataset: str, log_name: str) -> None:
    """Starts `kedro run` and SIGKILLs it as soon as its log says it is
    saving ``dataset``: a kill that lands in the middle of the run's saves."""
    log, info = project / log_name, project / "logs" / "info.log"
    start = info.stat().st_size if info.exists() else 0

    def saving() -> bool:
        if not info.exists():
            return False
        with info.open() as text:
            text.seek(start)
            return f"Saving data to {dataset} " in text.read()

    with log.open("w") as output:
        run = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("kedro")),
                "run",
                "--params",
                fast_cli_params(**{"data_generation.n_customers": 800}),
            ],
            cwd=project,
            env=subprocess_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while not saving() and time.monotonic() < deadline:
            if run.poll() is not None:
                break
            time.sleep(0.02)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    assert run.returncode == -signal.SIGKILL, log.read_text()[-2000:]


def test_a_half_written_newest_version_is_ignored(trained_project):
    good = versions(trained_project, MODEL)[-1]
    # What a run killed while saving leaves behind: newer versions, no mark.
    for relative in (MODEL, PROFILES):
        broken = trained_project / relative / "2099-01-01T00.00.00.000Z"
        broken.mkdir()
        (broken / Path(relative).name).write_bytes(b"\\x80half-written")
    run_session(trained_project, "scoring")
    assert _scored_model_versions(trained_project) == {good}
    run_session(trained_project, "segment_analysis")  # reads the complete model too


def test_a_killed_first_run_is_never_read(project_copy, monkeypatch):
    # Killed while saving customer_segments, the output saved right after the
    # model: the model's file is on disk (a kill at "Saving data to
    # segmentation_model" could land before its file exists).
    _kill_after_saving(project_copy, "customer_segments", "first.log")
    model = project_copy / MODEL
    assert all_versions(model) and not complete_versions(model)  # the kill landed mid-run
    with pytest.raises(NoCompleteVersionError, match="'segmentation_model' has no complete") as e:
        run_session(project_copy, "scoring")
    assert isinstance(e.value, UserError)  # shown as one short block, no traceback
    # The refused run released the lock in this process: the next run does not wait.
    monkeypatch.setenv("RUN_LOCK_TIMEOUT", "0")
    run_session(project_copy)
    run_session(project_copy, "scoring")
    (version,) = _scored_model_versions(project_copy)
    assert (project_copy / MODEL / version / COMPLETE_MARK).exists()


@pytest.mark.parametrize("dataset", ["customer_segments", "segment_report"])
def test_runs_killed_mid_save(trained_project, dataset):
    good = versions(trained_project, MODEL)[-1]
    _kill_after_saving(trained_project, dataset, "killed.log")
    unmarked = [
        v
        for v in versions(trained_project, RAW)
        if v not in complete_versions(trained_project / RAW)
    ]
    assert unmarked, "the kill must land after the run saved something"
    # The next jobs read complete versions only: the last good model.
    run_session(trained_project, "scoring")
    assert _scored_model_versions(trained_project) == {good}
    run_session(trained_project, "segment_analysis")
    run_session(trained_project, "scoring")
    assert _scored_model_versions(trained_project) == {good}


def test_a_damaged_model_is_never_scored(trained_project):
    """One byte of the newest model changed after its run finished, in the
    scaler (the model fingerprint covers the cluster centres only): the model
    still loads and would score customers into other segments. The scoring
    run refuses before reading it, naming the dataset and the version."""
    (good,) = versions(trained_project, MODEL)
    model = version_file(trained_project, MODEL, good)
    preprocessor = joblib.load(model).named_steps["preprocessor"]
    scaler = preprocessor.columns_.named_transformers_["numeric"].named_steps["scale"]
    data = bytearray(model.read_bytes())
    data[data.index(scaler.mean_.tobytes()) + 6] ^= 0x10  # the first mean, far off
    model.write_bytes(bytes(data))
    assert joblib.load(model).named_steps["preprocessor"] is not None  # it still loads
    with pytest.raises(DamagedVersionError, match=f"'segmentation_model' version {good} is dam"):
        run_session(trained_project, "scoring")
    assert not versions(trained_project, SCORED)


class _RefusingPlugin:
    """Another plugin whose before_pipeline_run fails after the project's own
    hooks have run theirs."""

    @hook_impl(trylast=True)
    def before_pipeline_run(self) -> None:
        raise RuntimeError("another plugin refuses this run")


def test_a_failing_plugin_hook_leaves_the_run_lock_free(trained_project, monkeypatch):
    """A long-lived process (a notebook, a worker): the first session fails in
    another plugin's hook; the lock is free for other processes, and the next
    session of this process runs without waiting."""
    bootstrap_project(trained_project)
    with KedroSession.create(project_path=trained_project) as session:
        session._hook_manager.register(_RefusingPlugin())
        with pytest.raises(RuntimeError, match="another plugin refuses"):
            session.run(pipeline_names=["scoring"])
    other = ProjectRunLock(trained_project / "data" / ".run.lock", timeout=0)
    other.acquire()  # as another process would: refused if the lock were still held
    other.release()
    monkeypatch.setenv("RUN_LOCK_TIMEOUT", "0")
    run_session(trained_project, "scoring")
    assert _scored_model_versions(trained_project) == set(versions(trained_project, MODEL))
