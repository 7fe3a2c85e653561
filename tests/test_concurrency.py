"""Two real `kedro run` processes started at the same moment."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
import requests
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from customer_segmentation.versioning.marks import complete_versions, lineage
from customer_segmentation.versioning.retention import versioned_datasets
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
SCORED = "data/07_model_output/scored_customers.parquet"


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
    # Both finish, one after the other, even when started in the same millisecond.
    assert finished == list(runs), outputs

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(project: Path, port: int) -> subprocess.Popen:
    """`kedro server start` on 127.0.0.1:``port``, ready to take requests."""
    log = (project / "server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("kedro")), "server", "start", "--port", str(port)],
        cwd=project,
        env=subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError((project / "server.log").read_text()[-3000:])


def test_two_server_requests_at_once_run_one_at_a_time_fully_marked(trained_project):
    """`kedro server` runs requests in threads of one process, with one
    instance of each hook: two runs posted 0.3 s apart must not share a lock
    or a run's state. Both finish, and every version either run wrote is
    complete, with a lineage naming only complete versions."""
    data = trained_project / "data"
    before = {folder: set(stamps) for folder, stamps in versioned_datasets(data).items()}
    port = _free_port()
    server = _start_server(trained_project, port)
    responses = []

    def post() -> None:
        request = {"pipeline_names": ["scoring"]}
        reply = requests.post(f"http://127.0.0.1:{port}/run", json=request, timeout=120)
        responses.append(reply.json())

    try:
        posts = [threading.Thread(target=post) for _ in range(2)]
        for thread in posts:
            thread.start()
            time.sleep(0.3)
        for thread in posts:
            thread.join(timeout=150)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
    assert [reply.get("status") for reply in responses] == ["success"] * 2, responses

    datasets = versioned_datasets(data)
    complete_anywhere = {v for folder in datasets for v in complete_versions(folder)}
    for folder, stamps in datasets.items():
        new = set(stamps) - before.get(folder, set())
        assert new <= set(complete_versions(folder)), f"{folder.name}: {sorted(new)} unmarked"
        for stamp in new:
            for name, version in lineage(folder, stamp).items():
                assert version in complete_anywhere, f"{folder.name} {stamp} names {name} {version}"
    scored = versions(trained_project, SCORED)
    assert len(scored) == 2
    for stamp in scored:
        (model,) = set(
            pd.read_parquet(version_file(trained_project, SCORED, stamp))["model_version"]
        )
        assert lineage(trained_project / SCORED, stamp)["segmentation_model"] == model
