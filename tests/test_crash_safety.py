"""Runs killed at any moment never hand a half-written version to the next run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.versions import COMPLETE_MARK
from tests.conftest import run_session, subprocess_env, version_file, versions

pytestmark = pytest.mark.integration

MODEL = "data/06_models/segmentation_model.pkl"
PROFILES = "data/08_reporting/segment_profiles.csv"
SCORED = "data/07_model_output/scored_customers.parquet"


def _scored_model_versions(project: Path) -> set[str]:
    return set(pd.read_parquet(version_file(project, SCORED))["model_version"])


def test_a_half_written_newest_version_is_ignored(project_copy):
    run_session(project_copy, params={"data_generation": {"n_customers": 500}})
    good = versions(project_copy, MODEL)[-1]
    # What a run killed while saving leaves behind: newer versions, no mark.
    for relative in (MODEL, PROFILES):
        broken = project_copy / relative / "2099-01-01T00.00.00.000Z"
        broken.mkdir()
        (broken / Path(relative).name).write_bytes(b"\\x80half-written")
    run_session(project_copy, "scoring")
    assert _scored_model_versions(project_copy) == {good}
    run_session(project_copy, "segment_analysis")  # reads the complete model too


def test_runs_killed_at_random_moments(project_copy):
    run_session(project_copy, params={"data_generation": {"n_customers": 500}})
    env = subprocess_env()
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
    run_session(project_copy, "segment_analysis")
    run_session(project_copy, "scoring")
    (version,) = _scored_model_versions(project_copy)
    assert (project_copy / MODEL / version / COMPLETE_MARK).exists()
