"""Completion marks: which versions a finished run wrote, and their lineage.

A version is complete when the run that wrote it finished: the run then writes
a ``.complete`` mark beside every file it saved. A killed or failed run leaves
no mark, and an unmarked version is never read as "latest", not even on a
project's first run.

Each mark holds the version's **lineage**: every versioned dataset version it
belongs with. That is the run's own outputs (at the run's version), the
versions the run loaded, and, transitively, the lineage of those. So a model
names the encoded features it was fitted on and also the validated customers
and raw customers those came from, however many separate jobs (Airflow tasks)
it took to make them.

Each mark also holds the sha256 of every file of its version, so a version
damaged after its run finished (a disk error, a stray edit, a partial copy)
is refused when read instead of being used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

COMPLETE_MARK = ".complete"
VERSION_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")


def all_versions(folder: Path) -> list[str]:
    """Every version folder of a versioned dataset, complete or not, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and VERSION_STAMP.match(p.name))


def complete_versions(folder: Path) -> list[str]:
    """The versions of a versioned dataset that a finished run wrote, oldest first."""
    return [v for v in all_versions(folder) if (folder / v / COMPLETE_MARK).exists()]


def file_checksums(version_folder: Path) -> dict[str, str]:
    """The sha256 of every file in a version folder (its mark aside), by path
    relative to the folder: one file for most datasets, every part file for a
    dataset saved as a folder (Spark). Files are read in chunks, never whole."""
    sums = {}
    for path in sorted(p for p in version_folder.rglob("*") if p.is_file()):
        if not path.name.startswith(COMPLETE_MARK):
            with path.open("rb") as data:
                digest = hashlib.file_digest(data, "sha256").hexdigest()
            sums[path.relative_to(version_folder).as_posix()] = digest
    return sums


def mark_complete(
    saved_files: Iterable[Path], run_version: str, version_lineage: Mapping[str, str]
) -> None:
    """Marks the version holding each of ``saved_files`` complete, with its
    lineage and the checksum of each of its files. Every mark is written
    aside first (checksums take the time), then all are renamed into place
    in quick succession; each mark appears whole or not at all."""
    partials = []
    for saved_file in saved_files:
        record = {
            "run": run_version,
            "lineage": dict(sorted(version_lineage.items())),
            "sha256": file_checksums(saved_file.parent),
        }
        partial = saved_file.parent / (COMPLETE_MARK + ".partial")
        partial.write_text(json.dumps(record))
        partials.append(partial)
    for partial in partials:
        os.replace(partial, partial.with_name(COMPLETE_MARK))


def _record(folder: Path, version: str) -> dict:
    """The mark of ``version`` as written; empty when it has none."""
    try:
        record = json.loads((folder / version / COMPLETE_MARK).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def damaged_files(folder: Path, version: str) -> list[str] | None:
    """The files of a complete version that no longer match the checksums in
    its mark: changed, missing or added since its run finished (empty when it
    is intact). None when the mark holds no checksums: a version marked before
    they were recorded, which cannot be checked."""
    recorded = _record(folder, version).get("sha256")
    if not isinstance(recorded, dict):
        return None
    found = file_checksums(folder / version)
    return sorted(
        name for name in recorded.keys() | found.keys() if recorded.get(name) != found.get(name)
    )


def lineage(folder: Path, version: str) -> dict[str, str]:
    """The lineage recorded in the mark of ``version``; empty when it has no mark."""
    found = _record(folder, version).get("lineage", {})
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def run_lineage(
    run_version: str,
    saved: Iterable[str],
    loaded: Mapping[str, str],
    lineage_of: Callable[[str, str], Mapping[str, str]],
) -> dict[str, str]:
    """The lineage of every version a run saved: its own outputs at
    ``run_version``, the versions it ``loaded`` and everything those belong
    with (their own lineage). Where two ancestors disagree on a dataset, the
    run's own outputs win, then what it loaded directly, then the first found."""
    combined: dict[str, str] = {}
    for name, version in sorted(loaded.items()):
        for ancestor, ancestor_version in lineage_of(name, version).items():
            combined.setdefault(ancestor, ancestor_version)
    combined.update(loaded)
    combined.update(dict.fromkeys(saved, run_version))
    return combined
