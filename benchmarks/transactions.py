"""Wall time and peak memory of the customer_features pipeline on a large log.

Usage (from the project folder, with .venv active):

    python benchmarks/transactions.py --lines 10000000 --customers 1000000

A temporary copy of the project gets a synthetic transaction log as Parquet
(text customer ids, order ids, timestamps over two years, amounts, five
categories and three channels, with 1% returns and a few dirty lines of every
kind); then `kedro run --pipelines customer_features` runs on it through a
KedroSession in a fresh Python process (start-up included), and the wall time
and the peak resident memory of that process are printed. Nothing is asserted.
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
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from project_copy import copy_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def synthetic_log(lines: int, customers: int, seed: int = 0) -> pd.DataFrame:
    """A log of ``lines`` lines: each order has 1 to 4 lines, customers buy
    at their own rate, 1% of lines are returns (negative quantities), and
    0.1% miss a customer id."""
    rng = np.random.default_rng(seed)
    orders = lines // 2
    customer = (customers * rng.random(orders) ** 2).astype(np.int64)  # some buy far more
    order_of_line = np.repeat(np.arange(orders), 2)[:lines]
    start = np.datetime64("2023-01-01T00:00", "s")
    seconds = rng.integers(0, 2 * 365 * 86_400, orders)
    quantity = rng.integers(1, 5, lines)
    quantity[rng.random(lines) < 0.01] *= -1
    log = pd.DataFrame(
        {
            "order_id": pd.array(order_of_line.astype(str), dtype="string[pyarrow]"),
            "customer_id": pd.array(
                np.char.zfill(customer[order_of_line].astype(str), 7), dtype="string[pyarrow]"
            ),
            "timestamp": start + seconds[order_of_line].astype("timedelta64[s]"),
            "quantity": quantity,
            "unit_price": np.round(rng.lognormal(2.5, 0.8, lines), 2),
            "category": pd.Categorical.from_codes(
                rng.integers(0, 5, lines), ["books", "music", "games", "home", "toys"]
            ),
            "channel": pd.Categorical.from_codes(
                rng.integers(0, 3, lines), ["web", "app", "store"]
            ),
        }
    )
    log.loc[rng.random(lines) < 0.001, "customer_id"] = None
    return log


# The customer_features settings of the synthetic log.
LOG_PARAMETERS = (
    "customer_features:\n"
    "  columns: {customer_id: customer_id, timestamp: timestamp, amount: null,\n"
    "            quantity: quantity, unit_price: unit_price, order_id: order_id,\n"
    "            category: category, channel: channel}\n"
    "  snapshot_date: '2025-01-01'\n"
    "  first_line: 1\n"
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _copy_project(target: Path) -> None:
    copy_project(target)
    env = target / "conf" / "bench"
    env.mkdir()
    (env / "catalog.yml").write_text(
        "transactions:\n  type: pandas.ParquetDataset\n  filepath: data/01_raw/log.parquet\n"
    )
    (env / "parameters.yml").write_text(LOG_PARAMETERS)


def child(project: Path) -> None:
    os.chdir(project)
    bootstrap_project(project)
    started = time.perf_counter()
    with KedroSession.create(project_path=project, env="bench") as session:
        session.run(pipeline_names=["customer_features"])
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child)
        return
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        _copy_project(project)
        (project / "data" / "01_raw").mkdir(parents=True)
        log = synthetic_log(options.lines, options.customers)
        log.to_parquet(project / "data" / "01_raw" / "log.parquet")
        buyers = log["customer_id"].nunique()
        del log
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(project)],
            capture_output=True,
            text=True,
            check=False,
            # The project's own logging: the console and logs/info.log (node timings).
            env={**os.environ, "KEDRO_LOGGING_CONFIG": str(project / "conf" / "logging.yml")},
            cwd=project,
        )
        wall = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        timings = [
            line.split("Node ", 1)[1].strip()
            for line in (project / "logs" / "info.log").read_text().splitlines()
            if "Node " in line and " took " in line
        ]
        print(f"{options.lines:,} lines, {buyers:,} customers with an id")
        print(f"  wall (process, start-up included): {wall:.1f} s")
        print(f"  peak resident memory:               {figures['peak_mb']:,.0f} MB")
        for timing in timings:
            print(f"  {timing}")


if __name__ == "__main__":
    main()
