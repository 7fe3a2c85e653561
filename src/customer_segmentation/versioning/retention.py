"""Prune old versions of versioned datasets (Kedro keeps them all, forever).

    customer-segmentation-prune --keep 5 --dry-run
    customer-segmentation-prune --keep 5 --pin 2026-11-22T20.34.52.538Z

Keeps, of every versioned dataset under ``--data-dir``, the newest ``--keep``
versions and the newest ``--keep`` complete ones (so failed runs never push
out the last good model), every version named with ``--pin`` (for example one
a scoring job loads with ``--load-versions``) and every version made from a
pinned one (the profiles made with a pinned model); deletes the rest, or only
lists them with ``--dry-run``. Run it while no ``kedro run`` is running.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from .marks import all_versions, complete_versions, lineage


def versioned_datasets(data_dir: Path) -> dict[Path, list[str]]:
    """Every folder under ``data_dir`` that holds Kedro version folders, with
    its versions, oldest first."""
    found: dict[Path, list[str]] = {}
    for folder in sorted(p for p in data_dir.rglob("*") if p.is_dir()):
        if stamps := all_versions(folder):
            found[folder] = stamps
    return found


def plan_pruning(data_dir: Path, keep: int, pinned: set[str]) -> list[Path]:
    """The version folders to delete: all but the newest ``keep`` versions
    and ``keep`` complete versions of each dataset, never a pinned version or
    one made from a pinned version."""
    if keep < 1:
        raise ValueError(f"--keep must be at least 1, got {keep}")
    doomed = []
    for folder, stamps in versioned_datasets(data_dir).items():
        kept = set(stamps[-keep:]) | set(complete_versions(folder)[-keep:]) | pinned
        doomed += [
            folder / stamp
            for stamp in stamps
            if stamp not in kept and not pinned & set(lineage(folder, stamp).values())
        ]
    return doomed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=int, required=True, help="versions to keep per dataset")
    parser.add_argument("--pin", action="append", default=[], help="a version never to delete")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder")
    doomed = plan_pruning(args.data_dir, args.keep, set(args.pin))
    for path in doomed:
        print(f"{'would delete' if args.dry_run else 'deleting'} {path}")  # noqa: T201
        if not args.dry_run:
            shutil.rmtree(path)
    print(f"{len(doomed)} versions {'to delete' if args.dry_run else 'deleted'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
