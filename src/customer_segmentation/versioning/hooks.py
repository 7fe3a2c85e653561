"""The Kedro hook that makes versioned runs isolated and crash-safe.

Kedro versions each dataset on its own: every run saves under one timestamp,
and an unpinned load reads the newest folder on disk. That is not enough for
scheduled jobs: a run started later may finish first (kedro#2694), a killed
run leaves half-written "newest" folders, and separate jobs can pair a model
with profiles made from another one. ``RunVersioning`` closes those gaps:

1. **Lock**: one run at a time per project (``lock.ProjectRunLock``).
2. **Own outputs**: every versioned dataset a run writes is read back at the
   run's own version; a version stamp that already exists refuses the run.
3. **Consistent inputs**: every versioned input nobody pinned is read at a
   complete version whose lineage agrees with the other inputs
   (``choice.choose_consistent_versions``); an input with no complete
   version at all refuses the run rather than read a killed run's files.
4. **Previous versions**: ``PreviousVersionDataset`` entries with
   ``relative_to`` follow the version of their reference this run uses.
5. **Versions as data**: ``VersionDataset`` entries (``<name>_version``) hold
   the version of ``<name>`` this run uses, for nodes that report it.
6. **Completion**: when the run finishes, every version it saved is marked
   complete with its lineage (``marks``). A failed or killed run marks nothing.

The lock is released on every path out of a run, also when a step above fails
before Kedro's own error handling starts.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DatasetError
from kedro.pipeline import Pipeline

from . import kedro_adapter as kedro
from .choice import choose_consistent_versions
from .datasets import PreviousVersionDataset, VersionDataset
from .lock import ProjectRunLock
from .marks import all_versions, complete_versions, lineage, mark_complete, run_lineage

logger = logging.getLogger(__name__)


class RunCollisionError(RuntimeError):
    """Another run used the same version stamp."""


class NoCompleteVersionError(RuntimeError):
    """An input has no version that a finished run wrote."""


class RunVersioning:
    """See the module docstring; one instance serves every run of a process."""

    def __init__(self) -> None:
        self._lock: ProjectRunLock | None = None
        self._catalog: Any = None
        self._save_version: str | None = None
        self._loaded: dict[str, str] = {}
        self._saved: dict[str, Path] = {}

    @hook_impl
    def after_catalog_created(self, catalog: Any, save_version: str) -> None:
        self._catalog, self._save_version = catalog, save_version
        self._loaded, self._saved = {}, {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline) -> None:
        project = Path(run_params.get("project_path") or ".")
        timeout = float(os.environ.get("RUN_LOCK_TIMEOUT", "3600"))
        self._lock = ProjectRunLock(project / "data" / ".run.lock", timeout)
        self._lock.acquire()
        try:
            self._pin_own_outputs(pipeline)
            used = self._choose_inputs(pipeline)
            self._resolve_previous_versions(pipeline, used)
            self._resolve_version_datasets(pipeline, used)
        except BaseException:
            # Kedro calls on_pipeline_error only for errors inside the runner.
            self.release()
            raise

    def _versioned(self, name: str) -> Any:
        dataset = self._catalog.get(name) if self._catalog is not None else None
        return dataset if kedro.is_versioned(dataset) else None

    def _pin_own_outputs(self, pipeline: Pipeline) -> None:
        """Pins every versioned dataset this run writes to this run's version,
        and refuses if that version already exists."""
        for name in sorted(pipeline.all_outputs()):
            dataset = self._versioned(name)
            if dataset is None or self._save_version is None:
                continue
            if kedro.versioned_path(dataset, self._save_version).exists():
                raise RunCollisionError(
                    f"Another run started in the same millisecond and already saved "
                    f"'{name}' version {self._save_version}; nothing was written by this "
                    "run: start it again"
                )
            if kedro.pinned_load_version(dataset) is None:
                kedro.pin_load_version(dataset, self._save_version)

    def _choose_inputs(self, pipeline: Pipeline) -> dict[str, str]:
        """Pins every versioned input nobody pinned to a complete version that
        agrees with the other inputs; returns the version of every versioned
        input."""
        folders, candidates, pinned, missing = {}, {}, {}, []
        for name in sorted(pipeline.inputs()):
            dataset = self._versioned(name)
            if dataset is None:
                continue
            folders[name] = kedro.version_folder(dataset)
            if (version := kedro.pinned_load_version(dataset)) is not None:
                pinned[name] = version
            elif complete := complete_versions(folders[name]):
                candidates[name] = complete
            else:
                unfinished = len(all_versions(folders[name]))
                missing.append(
                    f"'{name}' has no complete version in {folders[name]}"
                    + (f" ({unfinished} left by killed or failed runs)" if unfinished else "")
                )
        if missing:
            raise NoCompleteVersionError(
                "; ".join(missing)
                + ". Run the pipelines that write them first, for example `kedro run`"
            )
        lineage_of = functools.cache(lambda name, version: lineage(folders[name], version))
        chosen = choose_consistent_versions(candidates, pinned, lineage_of)
        for name, version in chosen.items():
            kedro.pin_load_version(self._catalog.get(name), version)
        return {**pinned, **chosen}

    def _resolve_previous_versions(self, pipeline: Pipeline, used: dict[str, str]) -> None:
        for name in sorted(pipeline.inputs()):
            dataset = self._catalog.get(name)
            if not isinstance(dataset, PreviousVersionDataset) or not dataset.relative_to:
                continue
            reference = self._versioned(dataset.relative_to)
            if reference is None:
                continue
            if dataset.relative_to in pipeline.all_outputs():
                version = self._save_version
            else:
                version = used.get(dataset.relative_to)
            dataset.follow(kedro.version_folder(reference), version)
            logger.info("%s: version %s", name, dataset.version)

    def _resolve_version_datasets(self, pipeline: Pipeline, used: dict[str, str]) -> None:
        for name in sorted(pipeline.inputs()):
            dataset = self._catalog.get(name)
            if isinstance(dataset, VersionDataset):
                dataset.resolve(self._version_of(dataset.of, pipeline, used))

    def _version_of(self, name: str, pipeline: Pipeline, used: dict[str, str]) -> str | None:
        target = self._catalog.get(name)
        if isinstance(target, PreviousVersionDataset):
            return target.version
        if not kedro.is_versioned(target):
            return None
        if name in pipeline.all_outputs():
            return self._save_version
        try:
            return used.get(name) or kedro.load_version(target)
        except DatasetError:  # no version on disk yet
            return None

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str) -> None:
        dataset = self._versioned(dataset_name)
        if dataset is not None and dataset_name not in self._saved:
            self._loaded[dataset_name] = kedro.load_version(dataset)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        dataset = self._versioned(dataset_name)
        if dataset is not None and self._save_version:
            self._saved[dataset_name] = kedro.versioned_path(dataset, self._save_version)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Marks what the run saved complete, now that all of it is written."""
        try:
            if self._save_version and self._saved:
                folders = {
                    name: kedro.version_folder(self._catalog.get(name)) for name in self._loaded
                }
                version_lineage = run_lineage(
                    self._save_version,
                    self._saved,
                    self._loaded,
                    lambda name, version: lineage(folders[name], version),
                )
                for path in self._saved.values():
                    if path.exists():
                        mark_complete(path, self._save_version, version_lineage)
        finally:
            self.release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self.release()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
