"""Fingerprints of the segments every shipped example gives, to check that a
change of code that should change no result changes none.

Usage (from the project folder, with .venv active):

    python benchmarks/segments_fingerprint.py            # all cases
    python benchmarks/segments_fingerprint.py --customers 200000

In a temporary copy of the project it runs, as a user would: the default
pipeline on ``--customers`` synthetic customers; the CRM example
(``crm_example``); the CDNOW log (``cdnow_example``,
``segmentation_from_transactions``); the wholesale file through ``kedro
configure-data``; the SQLite example. For each it prints k and a sha256 of
the customers' (id, segment) pairs, sorted by id, and of the model's cluster
centres rounded to 9 decimals. Run it before and after a change in one
sitting and compare the lines. Nothing here asserts anything: it prints.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from project_copy import copy_project, newest_version, run_kedro

CASES = {
    "synthetic": ("local", ["--pipelines", "__default__"]),
    "crm_example": ("crm_example", ["--pipelines", "segmentation"]),
    "cdnow_example": ("cdnow_example", ["--pipelines", "segmentation_from_transactions"]),
    "wholesale": ("wholesale", ["--pipelines", "segmentation"]),
    "sqlite_example": ("sqlite_example", []),
}


def fingerprint(project: Path, env: str) -> str:
    """k and the hashes of the (id, segment) pairs and of the centres."""
    data = project / "data" / env if env != "local" else project / "data"
    segments = pd.read_parquet(
        newest_version(data / "07_model_output" / "customer_segments.parquet")
    )
    metrics = json.loads(
        newest_version(data / "08_reporting" / "model_selection_metrics.json").read_text()
    )
    id_column = segments.columns[0]
    pairs = segments[[id_column, "segment"]].astype({id_column: str}).sort_values(id_column)
    pairs_hash = hashlib.sha256(pairs.to_csv(index=False).encode()).hexdigest()[:16]
    model = joblib.load(newest_version(data / "06_models" / "segmentation_model.pkl"))
    clusterer = model[-1]  # KMeans's centres, or a Gaussian mixture's means
    centres = getattr(clusterer, "cluster_centers_", None)
    centres = np.round(clusterer.means_ if centres is None else centres, 9)
    centres_hash = hashlib.sha256(centres.tobytes()).hexdigest()[:16]
    return (
        f"k={metrics['selected_k']} customers={len(segments):,} "
        f"segments={pairs_hash} centres={centres_hash}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--case", action="append", choices=list(CASES))
    parser.add_argument(
        "--params",
        default="",
        help="extra --params for every run, e.g. model_selection.algorithm=kmeans",
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        copy_project(project, examples=True)
        for case in arguments.case or list(CASES):
            env, args = CASES[case]
            if case == "wholesale":
                run_kedro(
                    project,
                    "configure-data",
                    "data/01_raw/examples/wholesale_customers.csv",
                    "--env",
                    "wholesale",
                )
            extra = [arguments.params] if arguments.params else []
            if case == "synthetic":
                extra.append(f"data_generation.n_customers={arguments.customers}")
            if extra:
                args = [*args, "--params", ",".join(extra)]
            run_kedro(project, "run", "--env", env, *args)
            print(f"{case:<15} {fingerprint(project, env)}")  # noqa: T201


if __name__ == "__main__":
    main()
