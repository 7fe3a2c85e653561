"""Runs killed at any moment never hand a half-written version to the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from customer_segmentation.versions import COMPLETE_MARK

pytestmark = pytest.mark.integration

MODEL = Path("data/06_models/segmentation_model.pkl")
PROFILES = Path("data/08_reporting/segment_profiles.csv")
SCORED = Path("data/07_model_output/scored_customers.parquet")


def _run(project: Path, pipeline: str, params: dict | None = None) -> None:
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params or {}) as session:
        session.run(pipeline_names=[pipeline])


def _latest_scored(project: Path) -> pd.DataFrame:
    folder = project / SCORED
    newest = sorted(folder.iterdir())[-1]
    return pd.read_parquet(newest / SCORED.name)


def test_a_half_written_newest_version_is_ignored(project_copy):
    _run(project_copy, "__default__", {"data_generation": {"n_customers": 500}})
    good = sorted((project_copy / MODEL).iterdir())[-1].name
    # What a run killed while saving leaves behind: newer versions, no mark.
    for relative in (MODEL, PROFILES):
        broken = project_copy / relative / "2099-01-01T00.00.00.000Z"
        broken.mkdir()
        (broken / relative.name).write_bytes(b"\\x80half-written")
    _run(project_copy, "scoring")
    assert set(_latest_scored(project_copy)["model_version"]) == {good}
    _run(project_copy, "segment_analysis")  # reads the complete model too


def test_runs_killed_at_random_moments(project_copy):
    _run(project_copy, "__default__", {"data_generation": {"n_customers": 500}})
    env = {k: v for k, v in os.environ.items() if k not in ("KEDRO_LOGGING_CONFIG", "PYTHONPATH")}
    rng = np.random.default_rng(0)
    for attempt in range(4):
        with (project_copy / f"killed_{attempt}.log").open("w") as log:
            run = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("kedro")),
                    "run",
                    "--params",
                    "data_generation.n_customers=800",
                ],
                cwd=project_copy,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            time.sleep(rng.uniform(3.0, 9.0))
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=30)
    # The next runs and a scoring job still work, on complete versions only.
    _run(project_copy, "segment_analysis")
    _run(project_copy, "scoring")
    version = _latest_scored(project_copy)["model_version"].iloc[0]
    assert (project_copy / MODEL / version / COMPLETE_MARK).exists()
