"""Entry point of the packaged project: ``customer-segmentation`` and
``python -m customer_segmentation`` run it as ``kedro run`` would."""

import os
import sys
from pathlib import Path
from typing import Any

# A packaged run may start in a folder without the project's .telemetry file:
# keep Kedro's telemetry off there too, before Kedro loads its plugins.
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

from kedro.framework.cli.utils import find_run_command  # noqa: E402
from kedro.framework.project import configure_project  # noqa: E402


def main(*args, **kwargs) -> Any:
    package_name = Path(__file__).parent.name
    configure_project(package_name)

    interactive = hasattr(sys, "ps1")
    kwargs["standalone_mode"] = not interactive

    run = find_run_command(package_name)
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
