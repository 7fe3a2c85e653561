"""The pandas path and the Spark path (``--env spark``) on the same data: wall
time and peak memory of each, side by side.

Usage (from the project folder, with .venv active; Linux, for /proc):

    python benchmarks/spark.py --customers 10000000 --lines 10000000 100000000

In a temporary copy of the project:

1. ``--customers`` synthetic customers are generated once (the pandas
   data_generation pipeline). Both engines then run ``segmentation`` on that
   very file, and ``scoring`` with it as the batch to score (every customer).
2. For each of ``--lines``, a synthetic transaction log of that many lines
   (one Parquet file per 10 million lines, written in chunks) is turned into
   customer features by ``customer_features``: by Spark always, by pandas up
   to ``--pandas-max-lines`` (beyond, the pandas path needs more memory than
   this machine has: about 2.6 GB per 10 million lines).

Every run is ``kedro run`` in a fresh process, start-up (and the JVM's) included.
Peak memory is the largest sum of the resident memory of the process and all
its children (Spark's JVM and its Python workers), sampled every 0.1 s.
Spark runs in local mode with ``conf/spark/spark.yml`` (``local[*]``); on one
machine it is expected to be slower than pandas: its point is that the same
job runs unchanged on a cluster. Nothing is asserted: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from project_copy import copy_project
from transactions import LOG_PARAMETERS, synthetic_log

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHUNK_LINES = 10_000_000


def _environments(project: Path) -> None:
    """``bench_pandas`` and ``bench_spark`` (``spark`` with its own data
    folder): the generated customers as the batch to score and the log folder
    as ``transactions``; ``bench_spark`` reads the generated customers where
    ``spark`` would generate its own."""
    pandas_env, spark_env = project / "conf" / "bench_pandas", project / "conf" / "bench_spark"
    pandas_env.mkdir()
    (pandas_env / "catalog.yml").write_text(
        "customers_to_score:\n  type: pandas.ParquetDataset\n"
        "  filepath: data/01_raw/customers_to_score.parquet\n"
        "transactions:\n  type: pandas.ParquetDataset\n  filepath: data/01_raw/log\n"
    )
    settings = LOG_PARAMETERS + "scoring:\n  first_line: 1\n"
    (pandas_env / "parameters.yml").write_text(settings)
    shutil.copytree(project / "conf" / "spark", spark_env)
    catalog = yaml.safe_load((spark_env / "catalog.yml").read_text())
    catalog["raw_customers"]["filepath"] = "data/01_raw/customers.parquet"
    catalog["customers_to_score"] = {
        "type": "spark.SparkDatasetV2",
        "file_format": "parquet",
        "filepath": "data/01_raw/customers_to_score.parquet",
    }
    catalog["transactions"]["filepath"] = "data/01_raw/log"
    (spark_env / "catalog.yml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    with (spark_env / "parameters.yml").open("a") as parameters:
        parameters.write(settings)


def _tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def kedro_run(project: Path, *arguments: str) -> tuple[float, float]:
    """``kedro run <arguments>`` in ``project``: wall seconds and peak MB of
    the process tree. Stops the benchmark with the log's end if it fails."""
    kedro = str(Path(sys.executable).with_name("kedro"))
    started = time.perf_counter()
    process = subprocess.Popen(
        [kedro, "run", *arguments],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
    )
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _tree_rss_mb(process.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(
            f"kedro run {' '.join(arguments)} failed:\n{process.stderr.read()[-3000:]}"
        )
    return wall, peak


def _write_log(folder: Path, lines: int, customers: int) -> None:
    """The synthetic log, one Parquet file per ``CHUNK_LINES`` lines."""
    folder.mkdir(parents=True)
    for number, start in enumerate(range(0, lines, CHUNK_LINES)):
        chunk = synthetic_log(min(CHUNK_LINES, lines - start), customers, seed=number)
        chunk["order_id"] = f"{number}-" + chunk["order_id"]  # orders unique across chunks
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        pq.write_table(table, folder / f"part-{number:04d}.parquet")


def _row(what: str, engine: str, figures: tuple[float, float]) -> None:
    print(f"| {what} | {engine} | {figures[0]:.1f} s | {figures[1]:,.0f} MB |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--customers", type=int, default=10_000_000, help="0: only the transaction logs"
    )
    parser.add_argument("--lines", type=int, nargs="*", default=[10_000_000, 100_000_000])
    parser.add_argument("--log-customers", type=int, default=1_000_000)
    parser.add_argument("--pandas-max-lines", type=int, default=10_000_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        copy_project(project)
        _environments(project)
        print("| job | engine | wall | peak memory |")
        print("| --- | --- | --- | --- |")
        if options.customers:
            generated = kedro_run(
                project,
                "--pipelines",
                "data_generation",
                "--params",
                f"data_generation.n_customers={options.customers}",
            )
            _row(f"generate {options.customers:,} customers", "pandas", generated)
            raw = sorted((project / "data" / "01_raw" / "customers.parquet").iterdir())[-1]
            (project / "data" / "01_raw" / "customers_to_score.parquet").symlink_to(
                raw / "customers.parquet"
            )
            for pipeline in ("segmentation", "scoring"):
                what = f"{pipeline}, {options.customers:,} customers"
                for engine, env in (("pandas", "bench_pandas"), ("Spark", "bench_spark")):
                    _row(what, engine, kedro_run(project, "--env", env, "--pipelines", pipeline))
        for lines in options.lines:
            log = project / "data" / "01_raw" / "log"
            if log.exists():
                for part in log.iterdir():
                    part.unlink()
                log.rmdir()
            _write_log(log, lines, options.log_customers)
            what = f"customer_features, {lines:,} lines"
            if lines <= options.pandas_max_lines:
                _row(
                    what,
                    "pandas",
                    kedro_run(project, "--env", "bench_pandas", "--pipelines", "customer_features"),
                )
            _row(
                what,
                "Spark",
                kedro_run(project, "--env", "bench_spark", "--pipelines", "customer_features"),
            )


if __name__ == "__main__":
    main()
