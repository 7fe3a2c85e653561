"""The Kedro hook that makes versioned runs isolated and crash-safe.

Kedro versions each dataset on its own: every run saves under one timestamp,
and an unpinned load reads the newest folder on disk. That is not enough for
scheduled jobs: a run started later may finish first and be read as the newest, a killed
run leaves half-written "newest" folders, and separate jobs can pair a model
with profiles made from another one. ``RunVersioning`` closes those gaps:

1. **Lock**: one run at a time per project (``lock.ProjectRunLock``).
2. **Own outputs**: every versioned dataset a run writes is read back at the
   run's own version; a run whose version stamp another run already used
   (started in the same millisecond) saves under a new one.
3. **Consistent inputs**: every versioned input nobody pinned is read at a
   complete version whose lineage agrees with the other inputs
   (``choice.choose_consistent_versions``); an input with no complete
   version at all refuses the run rather than read a killed run's files.
4. **Previous versions**: ``PreviousVersionDataset`` entries with
   ``relative_to`` follow the version of their reference this run uses.
5. **Versions as data**: ``VersionDataset`` entries (``<name>_version``) hold
   the version of ``<name>`` this run uses, for nodes that report it.
6. **Integrity**: every input version is checked against the checksums in
   its mark before the first node; a damaged one refuses the run.
7. **Completion**: when the run finishes, every version it saved is marked
   complete with its lineage and checksums (``marks``). A failed or killed
   run marks nothing.

One instance serves every run of a process: ``kedro server`` runs requests in
threads of one process, and a notebook or worker runs many sessions. So the
hook keeps nothing of a run on itself but the run's lock, keyed by the run;
everything else comes from the run's own catalog and pipeline. Each run holds
its own lock, so concurrent requests run one at a time. The lock is taken
after every other hook's ``before_pipeline_run`` (one that refuses the run
leaves nothing held) and released on every path out of a run that took it:
success, an error in a node or in any hook, and a run that ended without
Kedro calling any hook (interrupted): the next run of that thread frees it.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Generator, Hashable
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DatasetError
from kedro.pipeline import Pipeline

from customer_segmentation.errors import UserError
from customer_segmentation.hooks import SYNTHETIC_OUTPUT, is_synthetic

from . import kedro_adapter as kedro
from .choice import choose_consistent_versions
from .datasets import PreviousVersionDataset, VersionDataset
from .lock import ProjectRunLock
from .marks import (
    all_versions,
    complete_versions,
    damaged_files,
    lineage,
    mark_complete,
    run_lineage,
)

logger = logging.getLogger(__name__)

# The transaction log an environment may segment instead of a customer table.
LOG = "transactions"


class NoCompleteVersionError(UserError):
    """An input has no version that a finished run wrote."""


class DamagedVersionError(UserError):
    """A version's files no longer match the checksums its run recorded."""


def run_key(run_params: dict[str, Any], catalog: Any) -> Hashable:
    """What tells one run from another in this process: the session and run
    ids, and the run's own catalog (two runs may share a stamp)."""
    return run_params.get("session_id"), run_params.get("run_id"), id(catalog)


def _versioned(catalog: Any, name: str) -> Any:
    dataset = catalog.get(name)
    return dataset if kedro.is_versioned(dataset) else None


def abandoned_runs(threads: dict[Hashable, int]) -> list[Hashable]:
    """The runs (run key -> the thread that runs it) that ended without Kedro
    calling a hook (a KeyboardInterrupt in a notebook, another plugin's hook
    failing): their thread is gone, or is this one, which starts a new run
    and so is done with the old one."""
    alive = {thread.ident for thread in threading.enumerate()}
    this = threading.get_ident()
    return [key for key, thread in threads.items() if thread == this or thread not in alive]


def saved_files(pipeline: Pipeline, catalog: Any) -> dict[str, Path]:
    """The file of every versioned output this run saved, by name (not
    those of a node skipped or never reached)."""
    saved = {}
    for name in sorted(pipeline.all_outputs()):
        dataset = _versioned(catalog, name)
        if dataset is not None and (version := kedro.save_version(dataset)) is not None:
            path = kedro.versioned_path(dataset, version)
            if path.exists():
                saved[name] = path
    return saved


class RunVersioning:
    """See the module docstring."""

    def __init__(self) -> None:
        # run key -> (its lock, the thread that runs it)
        self._runs: dict[Hashable, tuple[ProjectRunLock, int]] = {}
        self._runs_guard = threading.Lock()

    @hook_impl(wrapper=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> Generator[None, Any, Any]:
        """Once every other hook has let the run start (a refusal there leaves
        no lock held), takes the lock and chooses, pins and checks the
        versions the run reads and writes; releases the lock if that fails."""
        result = yield
        self._free_abandoned_runs()
        project = Path(run_params.get("project_path") or ".")
        timeout = float(os.environ.get("RUN_LOCK_TIMEOUT", "3600"))
        lock = ProjectRunLock(project / "data" / ".run.lock", timeout)
        lock.acquire()
        key = run_key(run_params, catalog)
        with self._runs_guard:
            self._runs[key] = (lock, threading.get_ident())
        try:
            _pin_own_outputs(pipeline, catalog)
            used = _choose_inputs(pipeline, catalog, run_params.get("env"))
            _resolve_previous_versions(pipeline, catalog, used)
            _resolve_version_datasets(pipeline, catalog, used)
            _verify_inputs(pipeline, catalog, used)
        except BaseException:
            # Kedro calls on_pipeline_error only for errors inside the runner.
            self._end(key)
            raise
        return result

    @hook_impl(wrapper=True)
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> Generator[None, Any, Any]:
        """Marks what the run saved complete once every other hook is done too
        (a hook failing here fails the run: nothing is marked)."""
        try:
            result = yield
            _mark_saved_versions(pipeline, catalog)
            return result
        finally:
            self._end(run_key(run_params, catalog))

    @hook_impl(wrapper=True)
    def on_pipeline_error(
        self, run_params: dict[str, Any], catalog: Any
    ) -> Generator[None, Any, Any]:
        """Releases the lock of a failed run, whatever the other hooks do."""
        try:
            return (yield)
        finally:
            self._end(run_key(run_params, catalog))

    def _end(self, key: Hashable) -> None:
        with self._runs_guard:
            lock, _ = self._runs.pop(key, (None, None))
        if lock is not None:
            lock.release()

    def _free_abandoned_runs(self) -> None:
        """Releases the lock of every run of this process that ended without
        Kedro calling a hook (a KeyboardInterrupt in a notebook, a hook of
        another plugin failing outside ours): its thread is gone, or it is this
        thread, which starts a new run and so is done with the old one."""
        with self._runs_guard:
            abandoned = abandoned_runs({key: thread for key, (_, thread) in self._runs.items()})
        for key in abandoned:
            logger.warning(
                "A previous run in this process ended without finishing; freeing its lock"
            )
            self._end(key)


def _pin_own_outputs(pipeline: Pipeline, catalog: Any) -> None:
    """Pins every versioned dataset this run writes to this run's version. A
    run whose version stamp another run already used (two runs started in the
    same millisecond: processes started at once, or the first requests of a
    `kedro server`) saves under a new stamp instead; it holds the lock, so no
    other run can take that one."""
    outputs = {
        name: dataset
        for name in sorted(pipeline.all_outputs())
        if (dataset := _versioned(catalog, name)) is not None
        and kedro.save_version(dataset) is not None
    }

    def taken(version: str) -> bool:
        return any(kedro.versioned_path(d, version).exists() for d in outputs.values())

    stamps = {kedro.save_version(dataset) for dataset in outputs.values()}
    if any(taken(stamp) for stamp in stamps):
        stamp = kedro.new_version_stamp()
        while stamp in stamps or taken(stamp):
            time.sleep(0.001)
            stamp = kedro.new_version_stamp()
        logger.warning(
            "Another run already saved versions stamped %s; this run saves as %s",
            ", ".join(sorted(stamps)),
            stamp,
        )
        for dataset in outputs.values():
            kedro.set_save_version(dataset, stamp)
    for dataset in outputs.values():
        if kedro.pinned_load_version(dataset) is None:
            kedro.pin_load_version(dataset, kedro.save_version(dataset))


def _reads_a_log(catalog: Any) -> bool:
    """Whether the environment segments a transaction log: its
    ``transactions`` entry is a query, or a file that exists."""
    dataset = catalog.get(LOG) if LOG in catalog else None
    if dataset is None:
        return False
    filepath = dataset._describe().get("filepath")  # Kedro's description of a file dataset
    return not filepath or Path(str(filepath)).exists()


def how_to_write(names: list[str], catalog: Any, env: str | None) -> str:
    """The command that writes the inputs ``names`` in this environment:
    with a transaction log, the pipeline that builds the customers from it;
    else the registered pipeline that writes them from the
    environment's own source (the most of them, then the most nodes: a
    whole run rather than a chain of partial ones), never one that would
    generate synthetic customers over a user's own ``raw_customers``."""
    from kedro.framework.project import pipelines  # noqa: PLC0415 - the configured project's

    option = f" --env {env}" if env else ""
    log = _reads_a_log(catalog)
    if SYNTHETIC_OUTPUT in names and log:
        return (
            f"This environment reads a transaction log ('{LOG}'): segment it with "
            f"`kedro run{option} --pipelines segmentation_from_transactions`, which builds "
            "the customer table from the log"
        )
    generates = not log and is_synthetic(catalog.get(SYNTHETIC_OUTPUT))
    source = {LOG} if log else {SYNTHETIC_OUTPUT}
    candidates = []
    for name, candidate in pipelines.items():
        outputs, inputs = candidate.all_outputs(), candidate.inputs()
        covered = len(set(names) & outputs)
        if not covered or (SYNTHETIC_OUTPUT in outputs and not generates):
            continue
        if (inputs | outputs) & ({LOG, SYNTHETIC_OUTPUT} - source):
            continue
        candidates.append((covered, len(candidate.nodes), name))
    if not candidates:
        return "Run the pipelines that write them first"
    chosen = max(candidates)[2]
    command = f"kedro run{option}" + ("" if chosen == "__default__" else f" --pipelines {chosen}")
    return f"Run the pipeline that writes them first: `{command}`"


def no_complete_version(
    folders: dict[str, Path], catalog: Any, env: str | None
) -> NoCompleteVersionError:
    """The refusal for inputs (name -> version folder) that have no complete
    version: how many versions killed or failed runs left, and the command
    that writes them."""
    reasons = []
    for name, folder in folders.items():
        unfinished = len(all_versions(folder))
        reasons.append(
            f"'{name}' has no complete version in {folder}"
            + (f" ({unfinished} left by killed or failed runs)" if unfinished else "")
        )
    return NoCompleteVersionError(
        "; ".join(reasons) + ". " + how_to_write(list(folders), catalog, env)
    )


def _choose_inputs(pipeline: Pipeline, catalog: Any, env: str | None = None) -> dict[str, str]:
    """Pins every versioned input nobody pinned to a complete version that
    agrees with the other inputs; returns the version of every versioned
    input."""
    folders, candidates, pinned, missing = {}, {}, {}, {}
    for name in sorted(pipeline.inputs()):
        dataset = _versioned(catalog, name)
        if dataset is None:
            continue
        folders[name] = kedro.version_folder(dataset)
        if (version := kedro.pinned_load_version(dataset)) is not None:
            pinned[name] = version
        elif complete := complete_versions(folders[name]):
            candidates[name] = complete
        else:
            missing[name] = folders[name]
    if missing:
        raise no_complete_version(missing, catalog, env)
    lineage_of = functools.cache(lambda name, version: lineage(folders[name], version))
    chosen = choose_consistent_versions(candidates, pinned, lineage_of)
    for name, version in chosen.items():
        kedro.pin_load_version(catalog.get(name), version)
    return {**pinned, **chosen}


def _resolve_previous_versions(pipeline: Pipeline, catalog: Any, used: dict[str, str]) -> None:
    for name in sorted(pipeline.inputs()):
        dataset = catalog.get(name)
        if not isinstance(dataset, PreviousVersionDataset) or not dataset.relative_to:
            continue
        reference = _versioned(catalog, dataset.relative_to)
        if reference is None:
            continue
        if dataset.relative_to in pipeline.all_outputs():
            version = kedro.save_version(reference)
        else:
            version = used.get(dataset.relative_to)
        dataset.follow(kedro.version_folder(reference), version)
        logger.info("%s: version %s", name, dataset.version)


def _resolve_version_datasets(pipeline: Pipeline, catalog: Any, used: dict[str, str]) -> None:
    for name in sorted(pipeline.inputs()):
        dataset = catalog.get(name)
        if isinstance(dataset, VersionDataset):
            dataset.resolve(_version_of(dataset.of, pipeline, catalog, used))


def _version_of(name: str, pipeline: Pipeline, catalog: Any, used: dict[str, str]) -> str | None:
    target = catalog.get(name)
    if isinstance(target, PreviousVersionDataset):
        return target.version
    if not kedro.is_versioned(target):
        return None
    if name in pipeline.all_outputs():
        return kedro.save_version(target)
    try:
        return used.get(name) or kedro.load_version(target)
    except DatasetError:  # no version on disk yet
        return None


def _verify_inputs(pipeline: Pipeline, catalog: Any, used: dict[str, str]) -> None:
    """Checks every version this run reads against the checksums in its mark
    (versioned inputs and previous versions): a damaged one refuses the run.
    Versions marked before checksums were recorded are read unchecked, said
    once in the log."""
    reads = {name: (kedro.version_folder(catalog.get(name)), v) for name, v in used.items()}
    for name in sorted(pipeline.inputs()):
        dataset = catalog.get(name)
        if isinstance(dataset, PreviousVersionDataset) and dataset.version is not None:
            reads[name] = (dataset.folder, dataset.version)
    unchecked = []
    for name, (folder, version) in sorted(reads.items()):
        if version not in complete_versions(folder):
            continue  # pinned by hand to an unfinished version: the user's choice
        damaged = damaged_files(folder, version)
        if damaged is None:
            unchecked.append(f"{name} {version}")
        elif damaged:
            raise DamagedVersionError(_damage_message(name, folder, version, damaged))
    if unchecked:
        logger.warning(
            "Read without a checksum check (marked complete before checksums were recorded): %s",
            ", ".join(unchecked),
        )


def _damage_message(name: str, folder: Path, version: str, damaged: list[str]) -> str:
    earlier = [v for v in complete_versions(folder) if v < version]
    remedy = (
        f"Run again with --load-versions {name}:{earlier[-1]} to use the complete "
        "version before it (README: Pinning a model), or restore its files"
        if earlier
        else "It has no earlier complete version: restore its files, or run the "
        f"pipeline that writes '{name}' again"
    )
    return (
        f"'{name}' version {version} is damaged: {', '.join(damaged)} in {folder / version} "
        f"no longer match the checksums recorded when its run finished; nothing was run. "
        f"{remedy}"
    )


def _mark_saved_versions(pipeline: Pipeline, catalog: Any) -> None:
    """Marks every version this run saved complete, with its lineage: this
    run's outputs, the versions it read and their own lineage."""
    saved, loaded, folders = saved_files(pipeline, catalog), {}, {}
    if not saved:
        return
    for name in pipeline.inputs():
        dataset = _versioned(catalog, name)
        if dataset is not None:
            folders[name] = kedro.version_folder(dataset)
            loaded[name] = kedro.pinned_load_version(dataset)
    run_version = kedro.save_version(catalog.get(next(iter(saved))))
    version_lineage = run_lineage(
        run_version, saved, loaded, lambda name, version: lineage(folders[name], version)
    )
    mark_complete(saved.values(), run_version, version_lineage)
