"""Two real `kedro run` processes started at the same moment."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import (
    FAST_SELECTION,
    fast_cli_params,
    subprocess_env,
    version_file,
    versions,
)

pytestmark = pytest.mark.integration

RAW = "data/01_raw/customers.parquet"
ENCODED = "data/04_feature/encoded_features.parquet"
SEGMENTS = "data/07_model_output/customer_segments.parquet"
MODEL = "data/06_models/segmentation_model.pkl"


def _start(project: Path, n_customers: int, seed: int) -> subprocess.Popen:
    env = subprocess_env()
    # Output goes to a file: an undrained pipe would block the run holding the lock.
    log = (project / f"run_{n_customers}.log").open("w")
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("kedro")),
            "run",
            "--params",
            fast_cli_params(
                **{"data_generation.n_customers": n_customers, "data_generation.random_seed": seed}
            ),
        ],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_two_runs_at_once_never_mix(project_copy):
    runs = {500: _start(project_copy, 500, 1), 700: _start(project_copy, 700, 2)}
    for run in runs.values():
        run.wait(timeout=300)
    outputs = {n: (project_copy / f"run_{n}.log").read_text() for n in runs}
    finished = [n for n, run in runs.items() if run.returncode == 0]
    for n, run in runs.items():
        if run.returncode != 0:  # only a same-millisecond start may refuse, and it says so
            assert "started in the same millisecond" in outputs[n], outputs[n][-2000:]
    assert finished, outputs

    stamps = versions(project_copy, RAW)
    assert len(stamps) == len(finished)
    sizes = set()
    for stamp in stamps:
        raw = pd.read_parquet(version_file(project_copy, RAW, stamp))
        encoded = pd.read_parquet(version_file(project_copy, ENCODED, stamp))
        segments = pd.read_parquet(version_file(project_copy, SEGMENTS, stamp))
        model = joblib.load(version_file(project_copy, MODEL, stamp))
        sizes.add(len(raw))
        # Each run's outputs agree with its own inputs and with the model it fitted.
        assert encoded["customer_id"].tolist() == raw["customer_id"].tolist()
        assert segments["customer_id"].tolist() == raw["customer_id"].tolist()
        assert (model.predict(raw) == segments["segment"].to_numpy()).all()
    assert sizes == set(finished)


def test_a_run_reads_its_own_outputs_when_a_later_run_finished_first(project_copy):
    """The run started first (older version stamp) runs last: plain versioning
    would make it read the later run's newer "latest" outputs (kedro#2694)."""
    bootstrap_project(project_copy)
    first = KedroSession.create(
        project_path=project_copy,
        runtime_params={"data_generation": {"n_customers": 500}, "model_selection": FAST_SELECTION},
    )
    time.sleep(0.01)
    second = KedroSession.create(
        project_path=project_copy,
        runtime_params={"data_generation": {"n_customers": 700}, "model_selection": FAST_SELECTION},
    )
    with second:
        second.run(pipeline_names=["__default__"])
    with first:
        first.run(pipeline_names=["__default__"])
    for stamp in versions(project_copy, RAW):
        raw = pd.read_parquet(version_file(project_copy, RAW, stamp))
        segments = pd.read_parquet(version_file(project_copy, SEGMENTS, stamp))
        assert segments["customer_id"].tolist() == raw["customer_id"].tolist()
