"""Wall time and peak memory of the pipelines, and of the original approach.

Usage (from the project folder, with .venv active):

    python benchmarks/benchmark.py --sizes 50000 1000000 --baseline-max 50000

For each size, a temporary copy of the project generates that many synthetic
customers; then each pipeline runs on its own through a KedroSession in a fresh
Python process (start-up included), and so does the whole `__default__` run.
Peak memory is the peak resident set size of that process. At sizes up to
``--baseline-max`` the same customers are also segmented the way the original
scripts did it (pandas get_dummies, StandardScaler, KMeans for every k with
scikit-learn's default n_init and the exact silhouette), and the ratio of the
two wall times is printed. At every size, a bare scikit-learn KMeans loop
(k = 2..10, one start each, on that many customers x 11 Gaussian blobs) is
timed in the same sitting, as the hardware's yardstick, with the ratio of the
whole run to it. Nothing here asserts a time: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from project_copy import copy_project
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ["data_generation", "preprocessing", "model_selection", "segment_analysis"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pipeline(project: Path, pipeline: str, n_customers: int) -> dict:
    """Child process: one pipeline through a KedroSession."""
    os.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project,
        runtime_params={"data_generation": {"n_customers": n_customers}},
    ) as session:
        session.run(pipeline_names=[pipeline])
    return {"peak_mb": _peak_mb()}


def original_approach(project: Path) -> dict:
    """Child process: the original scripts' way, on the generated customers."""
    raw_folder = project / "data" / "01_raw" / "customers.parquet"
    latest = sorted(raw_folder.iterdir())[-1] / "customers.parquet"
    customers = pd.read_parquet(latest)
    features = yaml.safe_load((project / "conf" / "base" / "parameters.yml").read_text())[
        "features"
    ]
    numeric, categorical = list(features["numeric"]), list(features["categorical"])
    table = customers[numeric + categorical].dropna()
    encoded = pd.get_dummies(table, columns=categorical)
    scaled = StandardScaler().fit_transform(encoded)
    silhouettes = {}
    for k in range(2, 11):
        labels = KMeans(n_clusters=k, random_state=42).fit_predict(scaled)
        silhouettes[k] = silhouette_score(scaled, labels)
    best = max(silhouettes, key=silhouettes.get)
    table["cluster"] = KMeans(n_clusters=best, random_state=42).fit_predict(scaled)
    table.groupby("cluster")[numeric].mean()
    return {
        "peak_mb": _peak_mb(),
        "k": int(best),
        "rows": int(len(table)),
        "mean": float(np.mean(scaled)),
    }


def bare_kmeans_loop(n_customers: int) -> dict:
    """Child process: the hardware's yardstick, a bare scikit-learn KMeans
    loop (k = 2..10, one k-means++ start each) on ``n_customers`` x 11
    Gaussian blobs, timed without the blobs' generation."""
    values, _ = make_blobs(n_samples=n_customers, n_features=11, centers=5, random_state=0)
    started = time.perf_counter()
    for k in range(2, 11):
        KMeans(n_clusters=k, n_init=1, random_state=0).fit(values)
    return {"peak_mb": _peak_mb(), "loop_s": time.perf_counter() - started}


def _child(args: list[str]) -> dict:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "KEDRO_DISABLE_TELEMETRY": "1",
            "KEDRO_LOGGING_CONFIG": str(PROJECT_ROOT / "tests" / "logging.yml"),
        },
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return {**result, "wall_s": wall}


def _figures(size: int, run: str, seconds: float, peak_mb: float) -> None:
    print(f"{size:>11,} | {run:<24} | {seconds:>8.1f} | {peak_mb:>8.0f}", flush=True)


def _ratio(size: int, what: str, ratio: float) -> None:
    print(f"{size:>11,} | {what:<24} | {ratio:>7.1f}x |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--baseline-max", type=int, default=50_000)
    parser.add_argument(
        "--whole-only", action="store_true", help="only the whole kedro run, not each pipeline"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, project, *rest = args.child
        if kind == "pipeline":
            result = run_pipeline(Path(project), rest[0], int(rest[1]))
        elif kind == "bare":
            result = bare_kmeans_loop(int(project))
        else:
            result = original_approach(Path(project))
        print(json.dumps(result))
        return

    print(f"{'customers':>11} | {'run':<24} | {'wall s':>8} | {'peak MB':>8}")
    print("-" * 60)
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            project = Path(folder)
            copy_project(project)
            for pipeline in [] if args.whole_only else PIPELINES:
                result = _child(["pipeline", str(project), pipeline, str(size)])
                _figures(size, pipeline, result["wall_s"], result["peak_mb"])
            whole = _child(["pipeline", str(project), "__default__", str(size)])
            _figures(size, "kedro run (all four)", whole["wall_s"], whole["peak_mb"])
            bare = _child(["bare", str(size)])
            _figures(size, "bare KMeans loop", bare["loop_s"], bare["peak_mb"])
            _ratio(size, "ratio (run/bare loop)", whole["wall_s"] / bare["loop_s"])
            if size <= args.baseline_max:
                original = _child(["original", str(project)])
                _figures(size, "original approach", original["wall_s"], original["peak_mb"])
                _ratio(size, "speed-up (original/run)", original["wall_s"] / whole["wall_s"])


if __name__ == "__main__":
    main()
