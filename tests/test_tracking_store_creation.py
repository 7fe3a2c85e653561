"""The project's own MLflow store (``mlruns/mlflow.db``) is created whole or
not at all: a run killed while MLflow creates its tables leaves nothing a
later run cannot open."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from customer_segmentation.tracking.connection import (
    CREATING,
    TrackingUnavailableError,
    connect,
    local_store_uri,
)
from tests.conftest import subprocess_env
from tests.test_tracking import EXPERIMENT, OPEN_THE_STORE

pytest.importorskip("kedro_mlflow")


def _context(project: Path) -> SimpleNamespace:
    return SimpleNamespace(project_path=project, env="tracking", _get_config_credentials=dict)


def _store_files(project: Path) -> list[Path]:
    """The store and any temporary file MLflow is creating its tables in."""
    store = project / "mlruns"
    if not store.is_dir():
        return []
    return [path for path in store.glob("mlflow.db*") if not path.name.endswith(".lock")]


def _open_in_another_process(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", OPEN_THE_STORE, str(project)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_run_killed_while_it_creates_the_store_leaves_one_the_next_run_opens(tmp_path):
    # MLflow's migrations take about a second; killed among them, the store
    # used to be left half-made ("table _alembic_tmp_experiments already
    # exists") and every later tracked run was refused.
    creator = subprocess.Popen(
        [sys.executable, "-c", OPEN_THE_STORE, str(tmp_path)],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not _store_files(tmp_path) and creator.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(0.5)  # among the migrations
    creator.kill()
    creator.wait()
    assert creator.returncode != 0, "the store was created before the kill: nothing tested"

    reopened = _open_in_another_process(tmp_path)
    assert reopened.returncode == 0, reopened.stderr[-2000:]
    assert reopened.stdout.split()[-1] == EXPERIMENT  # the experiment it found or made
    assert [path.name for path in _store_files(tmp_path)] == ["mlflow.db"]


def test_a_temporary_file_left_by_a_killed_run_is_removed(tmp_path):
    store = tmp_path / "mlruns"
    store.mkdir()
    leftovers = [
        store / f"mlflow.db{CREATING}4242-0a1b",
        store / f"mlflow.db{CREATING}4242-0a1b-journal",
    ]
    for leftover in leftovers:
        leftover.write_bytes(b"half-made tables")

    assert connect({}, _context(tmp_path)).experiment == EXPERIMENT
    assert not any(leftover.exists() for leftover in leftovers)
    assert [path.name for path in _store_files(tmp_path)] == ["mlflow.db"]


def test_opening_an_existing_store_again_keeps_its_runs(tmp_path):
    first = connect({}, _context(tmp_path))
    run = first.client.create_run(first.experiment_id)
    first.client.log_metric(run.info.run_id, "silhouette", 0.41)
    database = tmp_path / "mlruns" / "mlflow.db"
    inode = database.stat().st_ino

    again = connect({}, _context(tmp_path))
    assert again.experiment_id == first.experiment_id
    assert database.stat().st_ino == inode  # the same file, not a new store
    assert again.client.get_run(run.info.run_id).data.metrics == {"silhouette": 0.41}


def test_a_half_made_store_is_refused_with_how_to_start_afresh(tmp_path):
    # A store half-made before stores were created whole: a migration's
    # temporary table and no schema version.
    store = tmp_path / "mlruns"
    store.mkdir()
    with sqlite3.connect(store / "mlflow.db") as database:
        database.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY)")
        database.execute("CREATE TABLE _alembic_tmp_experiments (experiment_id INTEGER)")
    database.close()

    with pytest.raises(TrackingUnavailableError) as refused:
        connect({}, _context(tmp_path))
    message = str(refused.value)
    assert local_store_uri(tmp_path) in message and "\n" not in message
    assert "if mlruns/ holds no runs yet, remove mlruns/mlflow.db and run again" in message
