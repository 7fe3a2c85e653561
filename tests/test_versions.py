"""Completion marks, lineage and the choice of matching input versions."""

from __future__ import annotations

from pathlib import Path

from customer_segmentation.versions import (
    COMPLETE_MARK,
    choose_consistent_versions,
    complete_versions,
    lineage,
    mark_complete,
    previous_version,
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


def test_unmarked_folders_from_before_marks_all_count(tmp_path):
    model = tmp_path / "model.pkl"
    _save(model, V1, complete=False)
    _save(model, V2, complete=False)
    (model / "not-a-version").mkdir()
    assert complete_versions(model) == [V1, V2]
    assert complete_versions(tmp_path / "missing") == []


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


def test_previous_version_without_lineage_is_the_newest_before_the_reference(tmp_path):
    model, profiles = tmp_path / "model.pkl", tmp_path / "profiles.csv"
    for version in (V1, V3):
        _save(model, version, complete=False)
    for version in (V2, V4):
        _save(profiles, version, complete=False)
    assert previous_version(profiles, model, "model", V4) == V2
    assert not (model / V1 / COMPLETE_MARK).exists()
