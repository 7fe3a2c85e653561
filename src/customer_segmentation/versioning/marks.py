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
"""

from __future__ import annotations

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


def mark_complete(saved_file: Path, run_version: str, version_lineage: Mapping[str, str]) -> None:
    """Marks the version holding ``saved_file`` complete, with its lineage.
    The mark appears whole or not at all (written aside, then renamed)."""
    mark = saved_file.parent / COMPLETE_MARK
    partial = mark.with_name(COMPLETE_MARK + ".partial")
    record = {"run": run_version, "lineage": dict(sorted(version_lineage.items()))}
    partial.write_text(json.dumps(record))
    os.replace(partial, mark)


def lineage(folder: Path, version: str) -> dict[str, str]:
    """The lineage recorded in the mark of ``version``; empty when it has no mark."""
    try:
        record = json.loads((folder / version / COMPLETE_MARK).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    found = record.get("lineage", {}) if isinstance(record, dict) else {}
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
