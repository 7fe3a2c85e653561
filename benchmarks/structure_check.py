"""Wall time of the structure check (``assess_structure``) on a run's
selection sample.

Usage (from the project folder, with .venv active):

    python benchmarks/structure_check.py                 # the default synthetic run
    python benchmarks/structure_check.py --env credit    # an environment already run here

Without ``--env``, a temporary copy of the project runs ``kedro run`` (the
default synthetic customers) first. Then the structure check runs
``--repeats`` times on that run's selection sample, drawn as the pipeline
draws it, with the run's model and settings (on one thread, as in the
pipeline), and the median and fastest wall times are printed with the
verdict and its numbers. Nothing here asserts a time: it prints figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from project_copy import copy_project, run_kedro

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def node_outputs(pipeline, name: str, catalog, **data) -> dict:
    """Runs the node ``name`` on ``data`` and, for its other inputs, the
    run's own datasets and parameters."""
    node = next(n for n in pipeline.nodes if n.name == name)
    return node.run({i: data[i] if i in data else catalog.load(i) for i in node.inputs})


def measure(project: Path, env: str | None, repeats: int) -> None:
    bootstrap_project(project)
    from customer_segmentation.pipelines.model_selection import (  # noqa: PLC0415 - after bootstrap
        create_pipeline,
    )

    with KedroSession.create(project_path=project, env=env) as session:
        catalog = session.load_context().catalog
        pipeline = create_pipeline()
        selection = node_outputs(pipeline, "sample_for_selection", catalog)["selection_features"]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            verdict = node_outputs(
                pipeline, "assess_structure", catalog, selection_features=selection
            )["structure_assessment"]
            times.append(time.perf_counter() - start)
    print(f"sample: {len(selection):,} customers x {selection.shape[1]} encoded columns")
    print(
        f"assess_structure: median {statistics.median(times):.3f} s, "
        f"fastest {min(times):.3f} s over {repeats} runs"
    )
    print("verdict:", verdict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", help="an environment already run in this project")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    if options.env:
        measure(PROJECT_ROOT, options.env, options.repeats)
        return
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        copy_project(project)
        run_kedro(project, "run")
        measure(project, None, options.repeats)


if __name__ == "__main__":
    main()
