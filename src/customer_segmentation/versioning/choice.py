"""Which version of each input a run reads: versions that belong together,
and "the version before" for comparisons with the previous run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from .marks import complete_versions, lineage


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
        own = lineage_of(name, version)
        return all(
            own.get(other, other_version) == other_version
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
    ``folder`` is the reference's own, else the newest complete one whose
    lineage names it. None when there is none (a first run)."""
    references = complete_versions(reference_folder)
    earlier = [v for v in references if reference_version is None or v < reference_version]
    if not earlier:
        return None
    previous_reference = earlier[-1]
    if folder.resolve() == reference_folder.resolve():
        return previous_reference
    made_from = [
        v
        for v in complete_versions(folder)
        if lineage(folder, v).get(reference_name) == previous_reference
    ]
    return made_from[-1] if made_from else None
