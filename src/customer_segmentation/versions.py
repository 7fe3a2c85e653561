"""Bookkeeping of Kedro dataset versions: which are complete, and which
versions of its inputs the run that wrote a version read (its lineage).

A version is complete when the run that wrote it finished: the run then writes
a ``.complete`` mark beside every file it saved, holding the versions of the
versioned datasets it loaded. Versions of a killed or failed run have no mark
and are never read as "latest"; the marks let a run pick input versions that
belong together (a model and the profiles made with it) even when the
pipelines that wrote them ran as separate jobs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

COMPLETE_MARK = ".complete"
VERSION_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")


def version_folder(dataset: Any) -> Path:
    """The folder that holds a versioned dataset's version folders."""
    return Path(str(dataset._get_versioned_path("version"))).parent.parent


def complete_versions(folder: Path) -> list[str]:
    """The versions in a versioned dataset's folder that a finished run wrote,
    oldest first. Folders written before completion marks existed (none of them
    marked) all count as complete."""
    if not folder.is_dir():
        return []
    stamps = sorted(p.name for p in folder.iterdir() if p.is_dir() and VERSION_STAMP.match(p.name))
    marked = [s for s in stamps if (folder / s / COMPLETE_MARK).exists()]
    return marked if marked else stamps


def mark_complete(saved_file: Path, run_version: str, loaded: Mapping[str, str]) -> None:
    """Marks the version holding ``saved_file`` complete, recording the
    versions the run loaded. The mark appears whole or not at all."""
    mark = saved_file.parent / COMPLETE_MARK
    partial = mark.with_name(COMPLETE_MARK + ".partial")
    partial.write_text(json.dumps({"run": run_version, "loaded": dict(sorted(loaded.items()))}))
    os.replace(partial, mark)


def lineage(folder: Path, version: str) -> dict[str, str]:
    """The versions of other datasets that the run which wrote ``version``
    loaded; empty when its mark predates lineage or is missing."""
    try:
        recorded = json.loads((folder / version / COMPLETE_MARK).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    loaded = recorded.get("loaded", {}) if isinstance(recorded, dict) else {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def choose_consistent_versions(
    candidates: Mapping[str, list[str]],
    fixed: Mapping[str, str],
    lineage_of: Callable[[str, str], Mapping[str, str]],
) -> dict[str, str]:
    """Picks a version for each dataset in ``candidates`` (its complete
    versions, oldest first) that agrees with the ``fixed`` versions and with
    the versions picked before it: neither one's lineage names another version
    of the other. The newest agreeing version wins; with none, the newest.

    Datasets whose newest version is oldest are picked first: a table made
    downstream of another (profiles from a model) is older than it only while
    the downstream job for the newer one has not run yet, and then the older
    table decides, so a model and its profiles always come as a pair.
    """
    chosen = dict(fixed)

    def agrees(name: str, version: str) -> bool:
        loaded = lineage_of(name, version)
        return all(
            loaded.get(other, other_version) == other_version
            and lineage_of(other, other_version).get(name, version) == version
            for other, other_version in chosen.items()
        )

    for name in sorted(candidates, key=lambda n: (candidates[n][-1], n)):
        versions = candidates[name]
        chosen[name] = next((v for v in reversed(versions) if agrees(name, v)), versions[-1])
    return {name: chosen[name] for name in candidates}


def previous_version(
    folder: Path,
    reference_folder: Path,
    reference_name: str,
    reference_version: str | None,
) -> str | None:
    """The version in ``folder`` that belongs to the complete version of the
    reference dataset just before ``reference_version`` (the newest complete
    one when ``reference_version`` is None): that version itself when
    ``folder`` is the reference's own, else the newest one made from it (or,
    for versions without lineage, the newest one older than
    ``reference_version``). None when there is none."""
    references = complete_versions(reference_folder)
    earlier = [v for v in references if reference_version is None or v < reference_version]
    if not earlier:
        return None
    previous_reference = earlier[-1]
    if folder.resolve() == reference_folder.resolve():
        return previous_reference
    own = complete_versions(folder)
    made_from = [v for v in own if lineage(folder, v).get(reference_name) == previous_reference]
    if made_from:
        return made_from[-1]
    older = [v for v in own if reference_version is None or v < reference_version]
    return older[-1] if older else None
