"""Where training runs are tracked: an environment's ``mlflow.yml``, read
with kedro-mlflow's own configuration model, and the connection to the
MLflow tracking store it names.

Tracking is on when the run's configuration has an ``mlflow.yml``
(``conf/base``, the run environment, or ``conf/local``: the project's
configuration loader adds ``conf/local/mlflow.yml`` to every environment, so
one machine can send every environment's runs to its tracking server). With
no tracking URI there (``server.mlflow_tracking_uri: null``) and no
``MLFLOW_TRACKING_URI`` in the environment, runs go to a store inside the
project, ``mlruns/`` (an SQLite database and an artifact folder; ``mlflow ui
--backend-store-uri sqlite:///mlruns/mlflow.db`` shows it), so no server is
needed.

Nothing here imports MLflow unless tracking is on: importing it takes
seconds.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sqlite3
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock
from kedro.config import MissingConfigException

from customer_segmentation.errors import UserError
from customer_segmentation.own_quoting import masked, redacted

# No usage data leaves a run through MLflow either (as Kedro's telemetry is
# off, see settings.py): MLflow reads this before each event it would send.
# Set MLFLOW_DISABLE_TELEMETRY=false yourself to opt in.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

TRACKING_CONFIG = "mlflow"
# The project's own store, relative to the project folder.
LOCAL_STORE = "mlruns"
# The experiment of an environment's runs when mlflow.yml names none: one per
# environment, so a user's own data is never compared with the synthetic runs.
EXPERIMENT_PREFIX = "customer-segmentation"
# Seconds to wait for a tracking server's health check before refusing the run.
PROBE_TIMEOUT = 5.0
# Seconds a run waits for another process that is setting up the same SQLite
# store (creating its tables, its experiment) before it refuses.
SETUP_LOCK_TIMEOUT = 120.0
# The part of a new SQLite store's temporary name after the store's own name
# (``mlflow.db.creating-<pid>-<id>``): MLflow creates the tables there.
CREATING = ".creating-"
# What MLflow's set_tracking_uri / set_experiment write into the process
# environment (for subprocesses): kept as the user set them, see ``connect``.
_MLFLOW_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")
# One connection set up at a time in a process (runs in threads of ``kedro
# server``): MLflow's tracking URI is process-wide.
_CONNECTING = threading.Lock()


class TrackingUnavailableError(UserError):
    """The tracking store named in ``mlflow.yml`` cannot be reached."""


class TrackingSettingsError(UserError):
    """``mlflow.yml`` asks for tracking that cannot be set up: kedro-mlflow is
    not installed, or a key is wrong."""


def tracking_settings(config_loader: Any) -> dict[str, Any] | None:
    """The run's ``mlflow.yml`` settings, or None when it has none (tracking
    off). An empty file turns tracking on with the defaults."""
    try:
        settings = config_loader[TRACKING_CONFIG]
    except MissingConfigException:
        return None
    return dict(settings or {})


@dataclass(frozen=True)
class TrackingStore:
    """An MLflow experiment ready to receive runs."""

    client: Any  # mlflow.MlflowClient
    experiment_id: str
    experiment: str
    uri: str  # as messages show it: a password in it masked
    secret_uri: str = field(repr=False, default="")

    def shown(self, text: str) -> str:
        """``text`` (an MLflow error) with the URI's password masked."""
        return redacted(text, self.secret_uri) if self.secret_uri else text


def default_experiment(env: str | None) -> str:
    """``customer-segmentation/<env>``: the experiment of an environment's
    runs when its ``mlflow.yml`` names none."""
    return f"{EXPERIMENT_PREFIX}/{env or 'local'}"


def local_store_uri(project_path: Path) -> str:
    """The tracking URI of the project's own store (``mlruns/mlflow.db``)."""
    return f"sqlite:///{(Path(project_path) / LOCAL_STORE / 'mlflow.db').resolve()}"


def _validated(settings: dict[str, Any]) -> Any:
    try:
        from kedro_mlflow.config.kedro_mlflow_config import (  # noqa: PLC0415 - only when tracking is on
            KedroMlflowConfig,
        )
    except ImportError as error:
        raise TrackingSettingsError(
            "This environment has an mlflow.yml, so its training runs are tracked, but "
            "kedro-mlflow is not installed. Install it with `make tracking` (or "
            "pip install -e '.[tracking]'), or remove mlflow.yml to run without tracking"
        ) from error
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return KedroMlflowConfig.model_validate(settings)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        raise TrackingSettingsError(f"mlflow.yml is not valid: {problems}") from error


def _probe(uri: str) -> None:
    """Refuses quickly when an HTTP tracking server does not answer: MLflow's
    client retries for minutes before it gives up."""
    if not uri.startswith(("http://", "https://")):
        return
    parts = urllib.parse.urlsplit(uri)
    health = parts._replace(netloc=parts.netloc.rpartition("@")[2], path=parts.path.rstrip("/"))
    try:
        with urllib.request.urlopen(f"{health.geturl()}/health", timeout=PROBE_TIMEOUT):
            return
    except urllib.error.HTTPError:
        return  # it answered: a login page, a proxy, a server without /health
    except ValueError:
        return  # a URL urllib cannot open: MLflow tries it
    except OSError as error:
        reason = getattr(error, "reason", None) or error
        reason = getattr(reason, "strerror", None) or reason  # without "[Errno 111]"
        raise TrackingUnavailableError(_unreachable(uri, reason)) from error


def _unreachable(uri: str, reason: Any) -> str:
    reason = (redacted(str(reason), uri).strip().splitlines() or ["no answer"])[0][:200]
    if uri.startswith(("http://", "https://")):
        return (
            f"The MLflow tracking server {masked(uri)} cannot be reached ({reason}); "
            "nothing was run. "
            "Start it, point server.mlflow_tracking_uri in mlflow.yml (conf/local/mlflow.yml "
            "for this machine) at one that runs, or remove mlflow.yml to run without tracking"
        )
    return (
        f"The MLflow tracking store {masked(uri)} cannot be opened ({reason}); "
        "nothing was run. "
        "Check that it is a store MLflow can use and this user can write to, point "
        "server.mlflow_tracking_uri in mlflow.yml (conf/local/mlflow.yml for this machine) "
        "at another, or remove mlflow.yml to run without tracking"
    )


def _sqlite_file(uri: str) -> tuple[Path, str] | None:
    """The database file of an ``sqlite:///`` URI and its query (``?...``),
    or None for other stores, an in-memory database, or a file whose folder
    is missing (MLflow says so)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path, _, query = uri[len(prefix) :].partition("?")
    if not path or path.startswith((":memory:", "file:")):
        return None
    database = Path(path)
    return (database, query) if database.parent.is_dir() else None


def sqlite_setup_lock(uri: str) -> contextlib.AbstractContextManager:
    """An exclusive lock beside an SQLite store's file (``<store>.lock``),
    held while a process opens the store: MLflow creates a new store's tables
    and kedro-mlflow the experiment without a transaction, so two processes
    opening the same new store at once would both create them and one would
    fail. Other stores (a server, a database server) need none."""
    sqlite = _sqlite_file(uri)
    if sqlite is None:
        return contextlib.nullcontext()
    return FileLock(f"{sqlite[0]}.lock", timeout=SETUP_LOCK_TIMEOUT, thread_local=False)


def _create_sqlite_store(uri: str) -> None:
    """A new SQLite store created whole or not at all; called under its setup
    lock. MLflow's migrations create the tables one step at a time, so a run
    killed among them used to leave a store no later run could open; here they
    run in a temporary file beside it, renamed onto the store once complete.
    A temporary file left by a killed run is removed (the lock says no run is
    creating one now); an existing store is never touched."""
    sqlite = _sqlite_file(uri)
    if sqlite is None:
        return
    database, query = sqlite
    for leftover in database.parent.glob(f"{glob.escape(database.name)}{CREATING}*"):
        leftover.unlink(missing_ok=True)
    if database.exists():
        return
    from mlflow import MlflowClient  # noqa: PLC0415 - only when tracking is on
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # noqa: PLC0415

    # A name never used before in this process: MLflow caches a store per URI.
    creating = database.with_name(f"{database.name}{CREATING}{os.getpid()}-{uuid.uuid4().hex}")
    creating_uri = f"sqlite:///{creating}" + (f"?{query}" if query else "")
    try:
        MlflowClient(tracking_uri=creating_uri).search_experiments(max_results=1)
    except BaseException:
        creating.unlink(missing_ok=True)
        raise
    finally:
        # MLflow keeps one engine per URI: closed, so nothing writes to the
        # file once it is the store (the store's own URI gets its own engine).
        engine = SqlAlchemyStore._engine_map.pop(creating_uri, None)
        if engine is not None:
            engine.dispose()
    os.replace(creating, database)


def _half_made(uri: str) -> bool:
    """An SQLite store left by MLflow's migrations stopped part-way (a run
    killed while it created the store, before stores were created whole): a
    table of an unfinished migration, or no schema version."""
    sqlite = _sqlite_file(uri)
    if sqlite is None:
        return False
    try:
        read_only = f"{sqlite[0].resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(read_only, uri=True)) as database:
            tables = {name for (name,) in database.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error:
        return False
    return bool(tables) and (
        "alembic_version" not in tables or any(t.startswith("_alembic_tmp_") for t in tables)
    )


def _already_exists(error: BaseException) -> bool:
    """An experiment created by another run between kedro-mlflow's look-up and
    its create (a tracking server does not serialise them)."""
    return getattr(error, "error_code", None) == "RESOURCE_ALREADY_EXISTS"


def _set_up(config: Any, context: Any, uri: str, own_store: bool = False) -> None:
    """``KedroMlflowConfig.setup``, once more if another run created the
    experiment in between; every failure a one-line refusal, which says how
    to start afresh when it is the project's own store left half-made."""
    for attempt in (1, 2):
        try:
            with sqlite_setup_lock(uri):
                _create_sqlite_store(uri)
                config.setup(context)
            return
        except Exception as error:  # MLflow raises many kinds: refuse with one line
            if attempt == 1 and _already_exists(error):
                continue
            message = _unreachable(uri, error)
            if own_store and _half_made(uri):
                message = (
                    f"{message}. The store was left half-made by a run stopped while it "
                    f"created it: if {LOCAL_STORE}/ holds no runs yet, remove "
                    f"{LOCAL_STORE}/mlflow.db and run again"
                )
            raise TrackingUnavailableError(message) from error


@contextlib.contextmanager
def _mlflow_variables_kept() -> Any:
    """The process's ``MLFLOW_TRACKING_URI`` (and registry URI, experiment
    id) as they were before: MLflow writes the store and experiment it is
    given into them, and the next run in the process (``kedro server``, a
    notebook, another project) would take that for the user's own choice."""
    saved = {name: os.environ.get(name) for name in _MLFLOW_VARIABLES}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect(settings: dict[str, Any], context: Any) -> TrackingStore:
    """Sets up tracking as kedro-mlflow does (tracking URI, credentials from
    ``credentials.yml``, the experiment, created if new) and returns the
    experiment; the project's own store when ``mlflow.yml`` names none and
    the user's environment has no ``MLFLOW_TRACKING_URI``."""
    config = _validated(settings)
    with _CONNECTING, _mlflow_variables_kept():
        return _connected(config, settings, context)


def _connected(config: Any, settings: dict[str, Any], context: Any) -> TrackingStore:
    own_store = config.server.mlflow_tracking_uri is None and not os.environ.get(
        "MLFLOW_TRACKING_URI"
    )
    if own_store:
        store = Path(context.project_path) / LOCAL_STORE
        store.mkdir(parents=True, exist_ok=True)
        config.server.mlflow_tracking_uri = local_store_uri(context.project_path)
        experiment = config.tracking.experiment.create_experiment_kwargs
        if experiment.artifact_location is None:
            experiment.artifact_location = (store / "artifacts").resolve().as_uri()
    if not ((settings.get("tracking") or {}).get("experiment") or {}).get("name"):
        config.tracking.experiment.name = default_experiment(context.env)
    uri = config.server.mlflow_tracking_uri or os.environ["MLFLOW_TRACKING_URI"]
    _probe(uri)
    _set_up(config, context, uri, own_store)
    experiment = config.tracking.experiment._experiment  # kedro-mlflow's resolved experiment
    return TrackingStore(
        client=config.server._mlflow_client,  # kedro-mlflow's client for that store
        experiment_id=experiment.experiment_id,
        experiment=experiment.name,
        uri=masked(config.server.mlflow_tracking_uri),
        secret_uri=config.server.mlflow_tracking_uri,
    )
