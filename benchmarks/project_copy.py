"""A temporary copy of the project for the benchmark scripts: code and
configuration, no run outputs, so a benchmark never touches the project's
own data/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def copy_project(target: Path, examples: bool = False) -> None:
    """Copies conf/ (without conf/local), src/, pyproject.toml and .telemetry
    into ``target``, with an empty logs/ and, with ``examples``, the shipped
    example data."""
    for name in ("conf", "src"):
        shutil.copytree(
            PROJECT_ROOT / name,
            target / name,
            ignore=shutil.ignore_patterns("local", "__pycache__", "*.egg-info"),
        )
    (target / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy2(PROJECT_ROOT / name, target / name)
    if examples:
        examples_folder = Path("data") / "01_raw" / "examples"
        shutil.copytree(PROJECT_ROOT / examples_folder, target / examples_folder)
    (target / "logs").mkdir()


def run_kedro(project: Path, *args: str, timeout: int = 1800) -> None:
    """Runs ``kedro ARGS`` in ``project`` with this interpreter's kedro; a
    failure ends the benchmark with the end of kedro's error output."""
    kedro = str(Path(sys.executable).with_name("kedro"))
    done = subprocess.run(
        [kedro, *args], cwd=project, capture_output=True, text=True, check=False, timeout=timeout
    )
    if done.returncode:
        raise SystemExit(f"kedro {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def newest_version(folder: Path) -> Path:
    """The newest version's file of a versioned dataset folder."""
    return sorted(p for p in folder.iterdir() if p.is_dir())[-1] / folder.name
