"""Project hooks."""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import Version
from kedro.pipeline import Pipeline

from customer_segmentation.datasets import PreviousVersionDataset
from customer_segmentation.versions import (
    choose_consistent_versions,
    complete_versions,
    lineage,
    mark_complete,
    version_folder,
)

logger = logging.getLogger(__name__)

SYNTHETIC_OUTPUT = "raw_customers"
SYNTHETIC_MARK = {"generated_by": "data_generation"}


class SourceDataGuardError(RuntimeError):
    """A run would overwrite data that the pipelines did not generate."""


class SourceDataGuard:
    """Refuses, before any node runs, a run that would write synthetic customers
    over a user's own ``raw_customers``.

    Only the base catalog entry carries ``metadata.generated_by: data_generation``;
    an environment that points ``raw_customers`` at the user's file replaces the
    entry and so loses the mark.
    """

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        if SYNTHETIC_OUTPUT not in pipeline.all_outputs():
            return
        dataset = catalog.get(SYNTHETIC_OUTPUT)
        metadata = getattr(dataset, "metadata", None) or {}
        if all(metadata.get(key) == value for key, value in SYNTHETIC_MARK.items()):
            return
        env = run_params.get("env") or "local"
        raise SourceDataGuardError(
            f"Refusing to run data_generation in environment '{env}': its "
            f"'{SYNTHETIC_OUTPUT}' entry ({dataset}) is not marked "
            "'metadata: {generated_by: data_generation}', so it holds your own data "
            "and generating synthetic customers would overwrite it. Segment your data "
            f"with: kedro run --env {env} --pipelines segmentation"
        )


class NodeTimingHook:
    """Logs one line per node with its duration and the row count of every
    table it wrote, so a scheduled run's log shows where time goes."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any]) -> None:
        seconds = time.perf_counter() - self._started.pop(node.name, time.perf_counter())
        rows = {name: len(data) for name, data in outputs.items() if isinstance(data, pd.DataFrame)}
        logger.info(
            "Node %s took %.2f s%s",
            node.name,
            seconds,
            "".join(f"; {name}: {count:,} rows" for name, count in rows.items()),
        )


class LoadedVersionHook:
    """Records on each loaded object the catalog version it was loaded from:
    ``data.attrs["kedro_version"]`` on a DataFrame, ``kedro_version_`` on a
    model, so that outputs can say which version of an input made them."""

    def __init__(self) -> None:
        self._catalog: Any = None

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        dataset = self._catalog.get(dataset_name) if self._catalog is not None else None
        if not hasattr(dataset, "resolve_load_version"):
            return
        version = dataset.resolve_load_version()
        if isinstance(data, pd.DataFrame):
            data.attrs["kedro_version"] = version
        else:
            try:
                data.kedro_version_ = version
            except AttributeError:
                logger.debug("Cannot record the version of %s on its data", dataset_name)


class RunLockTimeoutError(RuntimeError):
    """Another run held the project's run lock for too long."""


class RunCollisionError(RuntimeError):
    """Another run used the same version stamp."""


class RunLock:
    """One run at a time per project; each run reads its own outputs and
    complete, matching versions of everything else.

    A run waits (up to ``RUN_LOCK_TIMEOUT`` seconds, default 3600) for the
    exclusive lock on ``data/.run.lock`` before its first node and holds it
    until it ends, so no other run saves anything while it runs.

    - Every versioned dataset the run writes is read back at the run's own
      version, not at "latest" (kedro#2694: a run started later may have
      finished first with a newer stamp). A run whose version stamp an earlier
      run already used (two runs started in the same millisecond) refuses
      before writing anything.
    - When the run finishes, it marks every version it saved complete,
      recording the versions it loaded (``customer_segmentation.versions``).
      A killed or failed run leaves no marks.
    - Every versioned dataset the run only reads, and nobody pinned, is read at
      a complete version that matches the others (the newest model that the
      newest profiles were made with), never a killed run's half-written one.
    - ``PreviousVersionDataset`` entries with ``relative_to`` are resolved
      against the version of that entry this run uses.
    """

    def __init__(self) -> None:
        self._lock_file: Any = None
        self._save_version: str | None = None
        self._catalog: Any = None
        self._loaded: dict[str, str] = {}
        self._saved: list[Path] = []

    @hook_impl
    def after_catalog_created(self, catalog: Any, save_version: str) -> None:
        self._catalog, self._save_version = catalog, save_version
        self._loaded, self._saved = {}, []

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline) -> None:
        path = Path(run_params.get("project_path") or ".") / "data" / ".run.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        timeout = float(os.environ.get("RUN_LOCK_TIMEOUT", "3600"))
        self._lock_file = open(path, "a+")  # noqa: SIM115 - held until the run ends
        started = time.monotonic()
        announced = False
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    logger.warning("Another run holds %s; waiting for it to finish", path)
                    announced = True
                if time.monotonic() - started > timeout:
                    self._lock_file.close()
                    self._lock_file = None
                    raise RunLockTimeoutError(
                        f"Another run has held {path} for over {timeout:.0f} s; refusing to "
                        "start (set RUN_LOCK_TIMEOUT to wait longer)"
                    ) from None
                time.sleep(0.2)
        self._read_own_outputs(pipeline)
        used = self._read_complete_inputs(pipeline)
        self._resolve_previous_versions(pipeline, used)

    def _versioned(self, name: str) -> Any:
        dataset = self._catalog.get(name) if self._catalog is not None else None
        return dataset if isinstance(getattr(dataset, "_version", None), Version) else None

    def _read_own_outputs(self, pipeline: Pipeline) -> None:
        """Pins every versioned dataset this run writes to this run's version,
        and refuses if that version already exists."""
        for name in sorted(pipeline.all_outputs()):
            dataset = self._versioned(name)
            if dataset is None or self._save_version is None:
                continue
            if Path(str(dataset._get_versioned_path(self._save_version))).exists():
                self.release()
                raise RunCollisionError(
                    f"Another run started in the same millisecond and already saved "
                    f"'{name}' version {self._save_version}; nothing was written by this "
                    "run: start it again"
                )
            if dataset._version.load is None:
                dataset._version = Version(self._save_version, dataset._version.save)

    def _read_complete_inputs(self, pipeline: Pipeline) -> dict[str, str]:
        """Pins every versioned dataset this run only reads (and nobody pinned)
        to a complete version that matches the other inputs; returns the
        version of every versioned input."""
        folders, candidates, pinned = {}, {}, {}
        for name in sorted(pipeline.inputs()):
            dataset = self._versioned(name)
            if dataset is None:
                continue
            folders[name] = version_folder(dataset)
            if dataset._version.load is not None:
                pinned[name] = dataset._version.load
            elif complete := complete_versions(folders[name]):
                candidates[name] = complete
        # Each mark is read once, however often the choice consults it.
        lineage_of = functools.cache(lambda name, version: lineage(folders[name], version))
        chosen = choose_consistent_versions(candidates, pinned, lineage_of)
        for name, version in chosen.items():
            dataset = self._catalog.get(name)
            dataset._version = Version(version, dataset._version.save)
        return {**pinned, **chosen}

    def _resolve_previous_versions(self, pipeline: Pipeline, used: dict[str, str]) -> None:
        for name in sorted(pipeline.inputs()):
            dataset = self._catalog.get(name) if self._catalog is not None else None
            if not isinstance(dataset, PreviousVersionDataset) or not dataset.relative_to:
                continue
            reference = self._versioned(dataset.relative_to)
            if reference is None:
                continue
            if dataset.relative_to in pipeline.all_outputs():
                version = self._save_version
            else:
                version = used.get(dataset.relative_to)
            dataset.follow(version_folder(reference), version)
            logger.info("%s: version %s", name, dataset.version)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str) -> None:
        dataset = self._versioned(dataset_name)
        if dataset is not None:
            self._loaded[dataset_name] = dataset.resolve_load_version()

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        dataset = self._versioned(dataset_name)
        if dataset is not None and self._save_version:
            self._saved.append(Path(str(dataset._get_versioned_path(self._save_version))))

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Marks what the run saved complete, now that all of it is written."""
        try:
            for path in self._saved:
                if path.exists():
                    mark_complete(path, self._save_version or "", self._loaded)
        finally:
            self.release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self.release()

    def release(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
