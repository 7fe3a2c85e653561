"""The versioning layer without a whole Kedro session: completion marks and
lineage, the choice of matching input versions, and the RunVersioning hook
driven by hand on a real catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DataCatalog, Version
from kedro.pipeline import Node, Pipeline
from kedro_datasets.text import TextDataset

from customer_segmentation.versioning import (
    PreviousVersionDataset,
    RunCollisionError,
    RunVersioning,
    VersionDataset,
)
from customer_segmentation.versioning.choice import choose_consistent_versions, previous_version
from customer_segmentation.versioning.lock import ProjectRunLock
from customer_segmentation.versioning.marks import (
    COMPLETE_MARK,
    complete_versions,
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
        mark_complete(path, version, loaded or {})


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


def _run(
    hook: RunVersioning, root: Path, version: str, pipeline=PIPELINE, load=None
) -> DataCatalog:
    """What a KedroSession does around a run, with the hook's calls in order."""
    catalog = _catalog(root, version, load)
    hook.after_catalog_created(catalog=catalog, save_version=version)
    hook.before_pipeline_run(run_params={"project_path": str(root)}, pipeline=pipeline)
    for node in pipeline.nodes:
        inputs = {name: catalog.load(name) for name in node.inputs}
        for name in node.inputs:
            hook.after_dataset_loaded(dataset_name=name)
        for name, data in node.run(inputs).items():
            catalog.save(name, data)
            hook.after_dataset_saved(dataset_name=name)
    hook.after_pipeline_run()
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


def test_the_lock_is_released_when_the_run_cannot_start(tmp_path):
    """Kedro does not call on_pipeline_error for a failure in
    before_pipeline_run: the hook must release the lock itself."""
    _write_a(tmp_path, V1)
    (tmp_path / "b.txt" / V2).mkdir(parents=True)
    (tmp_path / "b.txt" / V2 / "b.txt").write_text("another run's")
    hook = RunVersioning()
    catalog = _catalog(tmp_path, V2)
    hook.after_catalog_created(catalog=catalog, save_version=V2)
    with pytest.raises(RunCollisionError, match="same millisecond"):
        hook.before_pipeline_run(run_params={"project_path": str(tmp_path)}, pipeline=PIPELINE)
    assert _lock_is_free(tmp_path)


def test_the_lock_is_held_during_a_run_and_released_after_an_error(tmp_path):
    _write_a(tmp_path, V1)
    hook = RunVersioning()
    hook.after_catalog_created(catalog=_catalog(tmp_path, V2), save_version=V2)
    hook.before_pipeline_run(run_params={"project_path": str(tmp_path)}, pipeline=PIPELINE)
    assert not _lock_is_free(tmp_path)
    hook.on_pipeline_error()
    assert _lock_is_free(tmp_path)
    assert not (tmp_path / "b.txt" / V2 / COMPLETE_MARK).exists()


def test_pinned_versions_are_kept(tmp_path):
    _write_a(tmp_path, V1)
    _write_a(tmp_path, V3)
    hook = RunVersioning()
    _run(hook, tmp_path, V4, pipeline=PIPELINE.only_nodes("make_b"), load={"a": V1})
    assert lineage(tmp_path / "b.txt", V4)["a"] == V1
