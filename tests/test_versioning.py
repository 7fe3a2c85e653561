"""The versioning layer without a whole Kedro session: completion marks and
lineage, the choice of matching input versions, and the RunVersioning hook
driven by hand on a real catalog."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from kedro.framework.hooks import _create_hook_manager, hook_impl
from kedro.io import DataCatalog, MemoryDataset, Version
from kedro.pipeline import Node, Pipeline
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.text import TextDataset

from customer_segmentation.errors import UserError
from customer_segmentation.versioning import (
    DamagedVersionError,
    NoCompleteVersionError,
    PreviousVersionDataset,
    RunVersioning,
    VersionDataset,
)
from customer_segmentation.versioning.choice import choose_consistent_versions, previous_version
from customer_segmentation.versioning.lock import ProjectRunLock
from customer_segmentation.versioning.marks import (
    COMPLETE_MARK,
    complete_versions,
    damaged_files,
    lineage,
    mark_complete,
    run_lineage,
)

V1, V2, V3, V4 = (f"2026-01-0{day}T00.00.00.000Z" for day in range(1, 5))


def _save(folder: Path, version: str, loaded: dict | None = None, complete: bool = True) -> None:
    path = folder / version / folder.name
    path.parent.mkdir(parents=True)
    path.write_text("data")
    if complete:
        mark_complete([path], version, loaded or {})


def test_only_marked_versions_are_complete_and_marks_hold_lineage(tmp_path):
    model = tmp_path / "model.pkl"
    _save(model, V1, {"features": V1})
    _save(model, V2, complete=False)  # a killed or failed run
    assert complete_versions(model) == [V1]
    assert lineage(model, V1) == {"features": V1}
    assert lineage(model, V2) == {}
    assert not list(model.rglob("*.partial"))


def test_a_killed_first_run_is_never_complete(tmp_path):
    """No legacy fallback: a folder with no mark at all has no complete version."""
    model = tmp_path / "model.pkl"
    _save(model, V1, complete=False)
    _save(model, V2, complete=False)
    (model / "not-a-version").mkdir()
    assert complete_versions(model) == []
    assert complete_versions(tmp_path / "missing") == []


def test_lineage_reaches_every_ancestor_and_sibling():
    """raw (V1) -> preprocessing run (V2: validated, encoded) -> model run (V3):
    the model's lineage names the raw table and the validated table too."""
    marks = {
        ("raw", V1): {"raw": V1},
        ("encoded", V2): {"raw": V1, "validated": V2, "encoded": V2},
    }
    lineage_of = lambda name, version: marks.get((name, version), {})  # noqa: E731
    model_lineage = run_lineage(V3, ["model", "segments"], {"encoded": V2}, lineage_of)
    assert model_lineage == {
        "raw": V1,
        "validated": V2,
        "encoded": V2,
        "model": V3,
        "segments": V3,
    }


def _lineages(records: dict) -> callable:
    return lambda name, version: records.get((name, version), {})


def test_model_and_profiles_come_as_a_pair():
    records = {
        ("profiles", V2): {"model": V1},
        ("profiles", V4): {"model": V3},
    }
    # The newest profiles were made with the newest model: both newest.
    both = {"model": [V1, V3], "profiles": [V2, V4]}
    assert choose_consistent_versions(both, {}, _lineages(records)) == {
        "model": V3,
        "profiles": V4,
    }
    # A new model whose profiles are not made yet (a separate job): the pair before it.
    pending = {"model": [V1, V3], "profiles": [V2]}
    assert choose_consistent_versions(pending, {}, _lineages(records)) == {
        "model": V1,
        "profiles": V2,
    }
    # A pinned model brings the profiles made with it.
    assert choose_consistent_versions(
        {"profiles": [V2, V4]}, {"model": V1}, _lineages(records)
    ) == {"profiles": V2}


def test_a_model_comes_with_the_customers_it_was_built_from():
    """Two hops: customers V3 were validated after the model V2 was fitted on
    customers V1; analysing model V2 reads customers V1, not the newest."""
    records = {
        ("model", V2): {"customers": V1, "encoded": V1, "model": V2},
        ("customers", V3): {"customers": V3, "encoded": V3},
    }
    candidates = {"customers": [V1, V3], "model": [V2]}
    assert choose_consistent_versions(candidates, {}, _lineages(records)) == {
        "customers": V1,
        "model": V2,
    }


def test_without_lineage_the_newest_versions_win():
    candidates = {"model": [V1, V3], "profiles": [V2]}
    assert choose_consistent_versions(candidates, {}, _lineages({})) == {
        "model": V3,
        "profiles": V2,
    }


def test_previous_model_and_the_profiles_made_with_it(tmp_path):
    model, profiles = tmp_path / "model.pkl", tmp_path / "profiles.csv"
    _save(model, V1)
    _save(profiles, V1, {"model": V1})
    _save(model, V2)
    _save(profiles, V3, {"model": V2})  # profiles made later, by a separate job
    _save(profiles, V4, {"model": V2})
    # Analysing model V2 (or a run writing a new model stamped V4): before it, model V1.
    assert previous_version(model, model, "model", V2) == V1
    assert previous_version(profiles, model, "model", V2) == V1
    assert previous_version(model, model, "model", V4) == V2
    assert previous_version(profiles, model, "model", V4) == V4
    assert previous_version(model, model, "model", V1) is None
    assert previous_version(profiles, model, "model", V1) is None
    assert previous_version(model, model, "model", None) == V2


# --- The RunVersioning hook, driven by hand --------------------------------


def _identity(text: str) -> str:
    return text


def _catalog(root: Path, save_version: str, load: dict | None = None) -> DataCatalog:
    """Three versioned text files a -> b -> c saved at ``save_version`` (as
    Kedro's catalog makes them), the version of b as data, and the version of
    b before the one in use."""
    load = load or {}
    catalog = DataCatalog()
    for name in "abc":
        catalog[name] = TextDataset(
            filepath=str(root / f"{name}.txt"), version=Version(load.get(name), save_version)
        )
    catalog["b_version"] = VersionDataset(of="b")
    catalog["previous_b"] = PreviousVersionDataset(
        dataset={"type": "text.TextDataset", "filepath": str(root / "b.txt")}, relative_to="b"
    )
    return catalog


PIPELINE = Pipeline(
    [
        Node(_identity, "a", "b", name="make_b"),
        Node(lambda b, version, previous: b, ["b", "b_version", "previous_b"], "c", name="make_c"),
    ]
)


def _hooks(*hooks) -> object:
    """The hook relay of a Kedro hook manager with ``hooks`` registered, as a
    KedroSession makes it (later ones are called first)."""
    manager = _create_hook_manager()
    for hook in hooks:
        manager.register(hook)
    return manager.hook


def _start(hooks, root: Path, version: str, pipeline=PIPELINE, load=None) -> tuple:
    """What a KedroSession does before its runner starts; returns the run's
    catalog and run parameters."""
    catalog = _catalog(root, version, load)
    run_params = {"project_path": str(root), "run_id": version, "session_id": version}
    hooks.before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)
    return catalog, run_params


def _finish(hooks, catalog, run_params: dict, pipeline=PIPELINE) -> None:
    """What the runner and the KedroSession do after the run started."""
    for node in pipeline.nodes:
        for name, data in node.run({name: catalog.load(name) for name in node.inputs}).items():
            catalog.save(name, data)
    hooks.after_pipeline_run(
        run_params=run_params, run_result={}, pipeline=pipeline, catalog=catalog
    )


def _run(hook: RunVersioning, root: Path, version: str, pipeline=PIPELINE, load=None):
    """A whole run through a hook manager holding ``hook``; returns its catalog."""
    hooks = _hooks(hook)
    catalog, run_params = _start(hooks, root, version, pipeline, load)
    _finish(hooks, catalog, run_params, pipeline)
    return catalog


def _write_a(root: Path, version: str, complete: bool = True) -> None:
    _save(root / "a.txt", version, complete=complete)


def _lock_is_free(root: Path) -> bool:
    lock = ProjectRunLock(root / "data" / ".run.lock", timeout=0)
    try:
        lock.acquire()
    except Exception:  # noqa: BLE001 - any failure to take it means it is held
        return False
    lock.release()
    return True


def test_a_run_marks_its_outputs_with_their_lineage_and_versions_are_data(tmp_path):
    _write_a(tmp_path, V1)
    _write_a(tmp_path, V3, complete=False)  # killed while writing: never read
    hook = RunVersioning()
    catalog = _run(hook, tmp_path, V2, pipeline=PIPELINE.only_nodes("make_b"))
    assert lineage(tmp_path / "b.txt", V2) == {"a": V1, "b": V2}

    catalog = _run(hook, tmp_path, V4, pipeline=PIPELINE.only_nodes("make_c"))
    assert catalog.load("b_version") == V2
    assert catalog.load("previous_b") is None  # b has no version before V2
    assert lineage(tmp_path / "c.txt", V4) == {"a": V1, "b": V2, "c": V4}
    assert _lock_is_free(tmp_path)


def test_a_run_reads_its_own_outputs_and_the_version_before_them(tmp_path):
    _write_a(tmp_path, V1)
    hook = RunVersioning()
    _run(hook, tmp_path, V2)
    catalog = _run(hook, tmp_path, V3)
    assert catalog.load("b_version") == V3
    assert catalog.load("previous_b") == "data"  # version V2 of b
    assert catalog["previous_b"].version == V2


def test_a_run_whose_stamp_another_run_used_saves_under_a_new_one(tmp_path):
    """Two runs started in the same millisecond (processes, or the first
    requests of `kedro server`) get the same stamp from Kedro."""
    _write_a(tmp_path, V1)
    taken = tmp_path / "b.txt" / V2 / "b.txt"
    taken.parent.mkdir(parents=True)
    taken.write_text("another run's")
    catalog = _run(RunVersioning(), tmp_path, V2)
    assert taken.read_text() == "another run's"
    (stamp,) = complete_versions(tmp_path / "b.txt")
    assert stamp > V2 and catalog.load("b_version") == stamp
    assert lineage(tmp_path / "c.txt", stamp) == {"a": V1, "b": stamp, "c": stamp}


def test_the_lock_is_released_when_the_run_cannot_start(tmp_path):
    """Kedro does not call on_pipeline_error for a failure in
    before_pipeline_run: the hook must release the lock itself."""
    with pytest.raises(NoCompleteVersionError):
        _start(_hooks(RunVersioning()), tmp_path, V2)
    assert _lock_is_free(tmp_path)


class _FailingPlugin:
    """Another plugin whose before_pipeline_run refuses the run after
    RunVersioning's own has been called."""

    @hook_impl(trylast=True)
    def before_pipeline_run(self) -> None:
        raise RuntimeError("the other plugin refuses")


def test_the_lock_is_released_when_another_hook_refuses_the_run(tmp_path):
    _write_a(tmp_path, V1)
    hook = RunVersioning()
    with pytest.raises(RuntimeError, match="other plugin"):
        _start(_hooks(hook, _FailingPlugin()), tmp_path, V2)
    assert _lock_is_free(tmp_path)
    _run(hook, tmp_path, V3)  # the same long-lived process runs again
    assert complete_versions(tmp_path / "c.txt") == [V3]


def test_an_interrupted_run_frees_the_lock_for_the_next_run_of_its_thread(tmp_path, monkeypatch):
    """A KeyboardInterrupt in the runner (a notebook's interrupt) ends a run
    without any hook: the next run of the process must not wait for it."""
    monkeypatch.setenv("RUN_LOCK_TIMEOUT", "0")
    _write_a(tmp_path, V1)
    hook = RunVersioning()
    _start(_hooks(hook), tmp_path, V2)  # then interrupted: no hook is called
    _run(hook, tmp_path, V3)
    assert _lock_is_free(tmp_path)
    assert complete_versions(tmp_path / "c.txt") == [V3]


def test_the_lock_is_held_during_a_run_and_released_after_an_error(tmp_path):
    _write_a(tmp_path, V1)
    hooks = _hooks(RunVersioning())
    catalog, run_params = _start(hooks, tmp_path, V2)
    assert not _lock_is_free(tmp_path)
    hooks.on_pipeline_error(
        error=ValueError("a node failed"), run_params=run_params, pipeline=PIPELINE, catalog=catalog
    )
    assert _lock_is_free(tmp_path)
    assert not (tmp_path / "b.txt" / V2 / COMPLETE_MARK).exists()


def test_two_runs_in_threads_of_one_process_run_one_at_a_time(tmp_path):
    """`kedro server` runs requests in threads with one hook instance: the
    second run waits for the first, and each marks its own outputs only."""
    _write_a(tmp_path, V1)
    hooks = _hooks(RunVersioning())
    first = _start(hooks, tmp_path, V2)
    second_started = threading.Event()
    failures = []

    def second_run() -> None:
        try:
            catalog, run_params = _start(hooks, tmp_path, V3)
            second_started.set()
            _finish(hooks, catalog, run_params)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    thread = threading.Thread(target=second_run)
    thread.start()
    assert not second_started.wait(0.5), "the second run must wait for the first's lock"
    assert complete_versions(tmp_path / "c.txt") == []
    _finish(hooks, *first)
    thread.join(timeout=30)
    assert not failures and second_started.is_set()
    assert complete_versions(tmp_path / "b.txt") == [V2, V3]
    assert complete_versions(tmp_path / "c.txt") == [V2, V3]
    assert lineage(tmp_path / "c.txt", V2) == {"a": V1, "b": V2, "c": V2}
    assert lineage(tmp_path / "c.txt", V3) == {"a": V1, "b": V3, "c": V3}
    assert _lock_is_free(tmp_path)


def test_a_held_lock_and_a_missing_input_are_readable_refusals(tmp_path, monkeypatch):
    monkeypatch.setenv("RUN_LOCK_TIMEOUT", "0")
    hooks = _hooks(RunVersioning())
    with pytest.raises(UserError, match="'a' has no complete version.*Run the pipelines"):
        _start(hooks, tmp_path, V2)
    _write_a(tmp_path, V1)
    holder = ProjectRunLock(tmp_path / "data" / ".run.lock", timeout=0)
    holder.acquire()
    try:
        with pytest.raises(UserError, match="Another run of this project is in progress"):
            _start(hooks, tmp_path, V2)
    finally:
        holder.release()


def test_a_damaged_version_refuses_the_run_and_names_the_one_to_pin(tmp_path):
    _write_a(tmp_path, V1)
    hook = RunVersioning()
    _run(hook, tmp_path, V2, pipeline=PIPELINE.only_nodes("make_b"))
    _run(hook, tmp_path, V3, pipeline=PIPELINE.only_nodes("make_b"))
    (tmp_path / "b.txt" / V3 / "b.txt").write_text("dat4")  # one byte changed
    with pytest.raises(DamagedVersionError) as refused:
        _run(hook, tmp_path, V4, pipeline=PIPELINE.only_nodes("make_c"))
    message = str(refused.value)
    assert f"'b' version {V3} is damaged: b.txt" in message
    assert f"--load-versions b:{V2}" in message
    assert isinstance(refused.value, UserError)
    assert _lock_is_free(tmp_path) and not (tmp_path / "c.txt").exists()
    # Pinned as the message says, the run reads the intact version before it.
    _run(hook, tmp_path, V4, pipeline=PIPELINE.only_nodes("make_c"), load={"b": V2})
    assert lineage(tmp_path / "c.txt", V4)["b"] == V2


def test_a_damaged_previous_version_is_refused_too(tmp_path):
    _write_a(tmp_path, V1)
    hook = RunVersioning()
    _run(hook, tmp_path, V2)
    (tmp_path / "b.txt" / V2 / "b.txt").unlink()
    with pytest.raises(DamagedVersionError, match=f"'previous_b' version {V2} is damaged"):
        _run(hook, tmp_path, V3)


def test_marks_hold_a_checksum_of_every_file_of_their_version(tmp_path):
    folder = tmp_path / "parts.parquet"
    part = folder / V1 / "parts.parquet" / "part-0.parquet"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"a" * 3_000_000)  # more than one chunk
    mark_complete([part.parent], V1, {})
    assert damaged_files(folder, V1) == []
    (part.parent / "part-1.parquet").write_bytes(b"b")  # a file added after the run
    assert damaged_files(folder, V1) == ["parts.parquet/part-1.parquet"]
    part.write_bytes(b"a" * 2_999_999 + b"b")
    assert damaged_files(folder, V1) == [
        "parts.parquet/part-0.parquet",
        "parts.parquet/part-1.parquet",
    ]


def test_versions_marked_before_checksums_still_load_and_say_so(tmp_path, caplog):
    _write_a(tmp_path, V1)
    mark = tmp_path / "a.txt" / V1 / COMPLETE_MARK
    mark.write_text(json.dumps({"run": V1, "lineage": {}}))  # as marks were written before
    assert damaged_files(tmp_path / "a.txt", V1) is None
    with caplog.at_level(logging.WARNING):
        _run(RunVersioning(), tmp_path, V2, pipeline=PIPELINE.only_nodes("make_b"))
    assert complete_versions(tmp_path / "b.txt") == [V2]
    warnings = [r.getMessage() for r in caplog.records if "checksum" in r.getMessage()]
    assert len(warnings) == 1 and f"a {V1}" in warnings[0]


def test_pinned_versions_are_kept(tmp_path):
    _write_a(tmp_path, V1)
    _write_a(tmp_path, V3)
    hook = RunVersioning()
    _run(hook, tmp_path, V4, pipeline=PIPELINE.only_nodes("make_b"), load={"a": V1})
    assert lineage(tmp_path / "b.txt", V4)["a"] == V1


def _writing(*names: str, reading: tuple[str, ...] = ()) -> Pipeline:
    return Pipeline([Node(lambda *_: None, list(reading) or None, list(names))])


def test_a_missing_input_names_the_pipeline_that_writes_it_never_synthetic_data(
    tmp_path, monkeypatch
):
    """The hint of NoCompleteVersionError: in an environment with a
    transaction log, segmentation_from_transactions; with the user's own
    customer table, segmentation; `kedro run` only where data_generation
    may write raw_customers."""
    import kedro.framework.project  # noqa: PLC0415 - patched below

    from customer_segmentation.versioning.hooks import how_to_write  # noqa: PLC0415

    registered = {
        "__default__": _writing("raw_customers", "model") + _writing("profiles", reading=("x",)),
        "segmentation": _writing("model", "profiles", reading=("raw_customers",)),
        "segmentation_from_transactions": _writing("model", "profiles", reading=("transactions",)),
        "model_selection": _writing("model", reading=("validated",)),
    }
    monkeypatch.setattr(kedro.framework.project, "pipelines", registered)
    log = tmp_path / "log.csv"
    log.write_text("customer_id,date,amount\n")
    marked = MemoryDataset(metadata={"generated_by": "data_generation"})
    with_log = DataCatalog({"raw_customers": marked, "transactions": CSVDataset(filepath=str(log))})
    assert "`kedro run --env shop --pipelines segmentation_from_transactions`" in how_to_write(
        ["raw_customers"], with_log, "shop"
    )
    assert how_to_write(["model", "profiles"], with_log, "shop").endswith(
        "`kedro run --env shop --pipelines segmentation_from_transactions`"
    )
    own = DataCatalog({"raw_customers": MemoryDataset()})
    assert how_to_write(["model", "profiles"], own, "crm").endswith(
        "`kedro run --env crm --pipelines segmentation`"
    )
    synthetic = DataCatalog(
        {"raw_customers": marked, "transactions": CSVDataset(filepath=str(tmp_path / "no.csv"))}
    )
    assert how_to_write(["model", "profiles"], synthetic, None).endswith("`kedro run`")
