"""`kedro package` makes a wheel that runs the pipelines from an empty folder."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import fast_cli_params, run_command, subprocess_env

pytestmark = pytest.mark.integration


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = subprocess_env()
    env.pop("KEDRO_DISABLE_TELEMETRY", None)  # the packaged entry point turns it off itself
    result = run_command(command, cwd, env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_packaged_wheel_runs_from_an_empty_folder(project_copy, tmp_path):
    _run([str(Path(sys.executable).with_name("kedro")), "package"], project_copy)
    wheel = next((project_copy / "dist").glob("customer_segmentation-*.whl"))
    conf = project_copy / "dist" / "conf-customer_segmentation.tar.gz"

    # A fresh virtual environment with the wheel; its dependencies come from the
    # test environment (a .pth file) instead of the network.
    # It has no pip of its own: the test environment's pip installs into it.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path
    ).stdout.strip()
    Path(site, "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps"]
        + [str(wheel)],
        tmp_path,
    )
    location = _run(
        [str(python), "-c", "import customer_segmentation as c; print(c.__file__)"], tmp_path
    )
    assert location.stdout.startswith(str(venv))

    empty = tmp_path / "empty"
    empty.mkdir()
    # Exactly the README's command.
    small = fast_cli_params(**{"data_generation.n_customers": 600})
    _run(
        [
            str(venv / "bin" / "customer-segmentation"),
            "--conf-source",
            str(conf),
            "--params",
            small,
        ],
        empty,
    )
    versions = list((empty / "data" / "06_models" / "segmentation_model.pkl").iterdir())
    assert len(versions) == 1
    assert (empty / "data" / "08_reporting" / "segment_report.html").is_dir()
