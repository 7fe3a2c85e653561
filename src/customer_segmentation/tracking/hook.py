"""The hook that records every training run in MLflow, through
kedro-mlflow's configuration, without weakening the versioning guarantees.

kedro-mlflow's own hook keeps the active run on the hook instance and in
MLflow's process-wide "active run", and closes the run as finished before
this project marks the run's versions complete. This hook takes its place
(it registers under the plugin hook's name, ``mlflow_hook``, so Kedro does not
load the plugin's) and, for every run whose pipeline trains the model
(writes ``segmentation_model``):

1. **Before the run takes the project's run lock**, connects to the tracking
   store (kedro-mlflow's ``KedroMlflowConfig.setup``): an unreachable server
   refuses the run with one line and leaves no lock held. It then marks
   failed the runs this host left RUNNING whose process is gone (a killed
   run, an interrupted one) and starts the MLflow run, named by the run's
   version stamp and tagged with it.
2. Once the run holds the lock and its versions are pinned, records the
   parameters that shape the segments (``record.run_parameters``).
3. **After** every version of the run is marked complete (the versioning
   hook's ``after_pipeline_run`` runs inside this one), records the metrics,
   the tags and the artifacts (the model, the report, plots and small
   tables of this run's own versions), then ends the MLflow run FINISHED.
   A run that fails anywhere, or is refused, ends FAILED with the reason;
   a run killed outright stays RUNNING until the next tracked run on the host
   marks it FAILED. So an MLflow run is FINISHED only beside complete versions.

A tracking failure after the run started (the server stopped answering)
never fails a run whose versions are complete: it is logged in one line.

Per-run state is keyed by the run (``kedro server`` runs requests in threads
of one process, and one instance of each hook serves them all); a context
waiting for its run is keyed by the thread that created it.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from customer_segmentation.versioning import kedro_adapter as kedro
from customer_segmentation.versioning.hooks import abandoned_runs, run_key, saved_files

from . import record
from .connection import TrackingStore, connect, tracking_settings

logger = logging.getLogger(__name__)

# The plugin hook this one replaces: pluggy loads no entry point under a
# name that is already registered, so kedro-mlflow's hook (and MLflow) is
# never imported for a run that is not tracked.
PLUGIN_HOOK_NAME = "mlflow_hook"
# A run trains the model when it writes this output.
TRAINED_MODEL = "segmentation_model"
TAG = "customer_segmentation"
FAILED, FINISHED = "FAILED", "FINISHED"


@dataclass
class TrackedRun:
    """One Kedro run's MLflow run."""

    store: TrackingStore
    run_id: str
    name: str
    thread: int
    problems: list[str] = field(default_factory=list)

    def attempt(self, what: str, action: Callable[[], Any]) -> None:
        """Does ``action``; a tracking error is remembered, never raised: the
        run's own results do not depend on the tracking store."""
        try:
            action()
        except Exception as error:  # MLflow raises many kinds
            text = self.store.shown(str(error)).strip()
            first_line = (text.splitlines() or [type(error).__name__])[0]
            self.problems.append(f"{what}: {first_line[:200]}")


def _stamp(catalog: Any) -> str | None:
    """The version stamp this run saves under."""
    return kedro.save_version(catalog.get(TRAINED_MODEL))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ExperimentTracking:
    """See the module docstring."""

    def __init__(self) -> None:
        self.__name__ = PLUGIN_HOOK_NAME
        self._contexts: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._runs: dict[Hashable, TrackedRun] = {}
        self._guard = threading.Lock()
        # A run interrupted by Ctrl-C ends without any hook being called.
        atexit.register(self._fail_all, "the process ended during the run")

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        settings = tracking_settings(context.config_loader)
        with self._guard:
            if settings is None:
                self._contexts.pop(threading.get_ident(), None)
            else:
                self._contexts[threading.get_ident()] = (context, settings)

    @hook_impl(wrapper=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> Generator[None, Any, Any]:
        with self._guard:
            pending = self._contexts.pop(threading.get_ident(), None)
        if pending is None or TRAINED_MODEL not in pipeline.all_outputs():
            return (yield)
        context, settings = pending
        self._fail_abandoned_in_process()
        store = connect(settings, context)  # refuses the run before any lock is taken
        _fail_abandoned_on_host(store)
        tracked = self._start(store, run_params, catalog)
        key = run_key(run_params, catalog)
        with self._guard:
            self._runs[key] = tracked
        try:
            result = yield
        except BaseException as error:
            self._end(key, FAILED, f"refused: {error}")
            raise
        stamp = _stamp(catalog)
        if stamp and stamp != tracked.name:  # another run had taken the stamp
            tracked.name = stamp
            tracked.attempt(
                "the version tag",
                lambda: _set_tags(tracked, {"mlflow.runName": stamp, f"{TAG}.version": stamp}),
            )
        parameters = catalog.load("parameters")
        tracked.attempt(
            "the parameters", lambda: _log(tracked, params=record.run_parameters(parameters))
        )
        return result

    @hook_impl(wrapper=True)
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> Generator[None, Any, Any]:
        key = run_key(run_params, catalog)
        with self._guard:
            tracked = self._runs.get(key)
        if tracked is None:
            return (yield)
        try:
            result = yield  # the versioning hook marks the run's versions complete in here
        except BaseException as error:
            self._end(key, FAILED, str(error))
            raise
        tracked.attempt("the results", lambda: _log_results(tracked, pipeline, catalog))
        self._end(key, FINISHED)
        return result

    @hook_impl(wrapper=True)
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], catalog: Any
    ) -> Generator[None, Any, Any]:
        try:
            return (yield)
        finally:
            self._end(run_key(run_params, catalog), FAILED, str(error))

    def _start(self, store: TrackingStore, run_params: dict[str, Any], catalog: Any) -> TrackedRun:
        stamp = _stamp(catalog) or "unversioned"
        pipelines = run_params.get("pipeline_names") or ["__default__"]
        tags = {
            f"{TAG}.version": stamp,
            f"{TAG}.env": run_params.get("env") or "local",
            f"{TAG}.pipelines": ",".join(pipelines),
            f"{TAG}.project": str(Path(run_params.get("project_path") or ".").resolve()),
            f"{TAG}.host": socket.gethostname(),
            f"{TAG}.pid": str(os.getpid()),
        }
        run = store.client.create_run(store.experiment_id, run_name=stamp, tags=tags)
        logger.info(
            "MLflow run %s (%s) started in experiment '%s' at %s",
            stamp,
            run.info.run_id,
            store.experiment,
            store.uri,
        )
        return TrackedRun(store, run.info.run_id, stamp, threading.get_ident())

    def _end(self, key: Hashable, status: str, reason: str = "") -> None:
        with self._guard:
            tracked = self._runs.pop(key, None)
        if tracked is None:
            return
        if reason:
            tracked.attempt(
                "the failure", lambda: _set_tags(tracked, {f"{TAG}.failure": reason[:5000]})
            )
        tracked.attempt(
            "the status", lambda: tracked.store.client.set_terminated(tracked.run_id, status)
        )
        if tracked.problems:
            logger.warning(
                "MLflow at %s did not record all of run %s (%s): %s",
                tracked.store.uri,
                tracked.name,
                tracked.run_id,
                "; ".join(tracked.problems),
            )
        else:
            logger.info("MLflow run %s (%s) %s", tracked.name, tracked.run_id, status.lower())

    def _fail_abandoned_in_process(self) -> None:
        """Ends FAILED the runs of this process that ended without Kedro
        calling a hook (a notebook's interrupted run): their thread is gone, or
        is this one, which starts a new run."""
        with self._guard:
            abandoned = abandoned_runs({key: run.thread for key, run in self._runs.items()})
        for key in abandoned:
            self._end(key, FAILED, "the run was interrupted")

    def _fail_all(self, reason: str) -> None:
        with self._guard:
            keys = list(self._runs)
        for key in keys:
            self._end(key, FAILED, reason)


def _set_tags(tracked: TrackedRun, tags: dict[str, str]) -> None:
    for name, value in tags.items():
        tracked.store.client.set_tag(tracked.run_id, name, value)


def _log(
    tracked: TrackedRun,
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    history: list[tuple[str, float, int]] | None = None,
) -> None:
    from mlflow.entities import Metric, Param  # noqa: PLC0415 - only when tracking is on
    from mlflow.utils.time import get_current_time_millis  # noqa: PLC0415

    now = get_current_time_millis()
    entries = [Metric(k, v, now, 0) for k, v in (metrics or {}).items()]
    entries += [Metric(k, v, now, step) for k, v, step in history or []]
    params_list = [Param(k, v) for k, v in (params or {}).items()]
    # MLflow takes at most 1,000 metrics and 100 parameters per batch.
    for start in range(0, max(len(entries), 1), 1000):
        tracked.store.client.log_batch(tracked.run_id, metrics=entries[start : start + 1000])
    for start in range(0, len(params_list), 100):
        tracked.store.client.log_batch(tracked.run_id, params=params_list[start : start + 100])


def _record(name: str, saved: dict[str, Path], catalog: Any) -> dict[str, Any]:
    """The JSON record ``name`` this run saved, read through the catalog (at
    the run's own version), or an empty one when the run did not save it."""
    return catalog.load(name) if name in saved else {}


def _log_results(tracked: TrackedRun, pipeline: Pipeline, catalog: Any) -> None:
    saved = saved_files(pipeline, catalog)
    selection = _record("model_selection_metrics", saved, catalog)
    drift = _record("drift_report", saved, catalog) or None
    _log(
        tracked,
        params=record.result_parameters(selection),
        metrics=record.run_metrics(selection, drift),
        history=record.k_scores(selection),
    )
    _set_tags(tracked, record.run_tags(selection, drift))
    for name, path in saved.items():
        if (folder := record.artifact_folder(name)) is not None:
            tracked.store.client.log_artifact(tracked.run_id, str(path), folder)


def _fail_abandoned_on_host(store: TrackingStore) -> None:
    """Ends FAILED the MLflow runs this host left RUNNING whose process is
    gone: a run killed outright (SIGKILL, a scheduler's timeout, the machine
    stopping) cannot end its own MLflow run. Runs of live processes, and of
    other hosts, are left alone. Best effort: a failure here is logged."""
    host = socket.gethostname().replace("'", "")
    try:
        running = store.client.search_runs(
            [store.experiment_id],
            f"attributes.status = 'RUNNING' and tags.`{TAG}.host` = '{host}'",
            max_results=200,
        )
        for run in running:
            pid = run.data.tags.get(f"{TAG}.pid", "")
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                store.client.set_tag(
                    run.info.run_id, f"{TAG}.failure", "its process ended before the run finished"
                )
                store.client.set_terminated(run.info.run_id, FAILED)
                logger.warning(
                    "MLflow run %s was left running by a process that ended; marked failed",
                    run.info.run_name,
                )
    except Exception as error:  # MLflow raises many kinds
        logger.warning("Could not check MLflow for runs left running: %s", store.shown(str(error)))
