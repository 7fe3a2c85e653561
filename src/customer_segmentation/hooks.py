"""Project hooks that are not about versions (those are in
``customer_segmentation.versioning``): the parameter check, the Spark
session, the guard that keeps synthetic data off a user's own table, and
per-node timing."""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from customer_segmentation.errors import UserError

logger = logging.getLogger(__name__)

SYNTHETIC_OUTPUT = "raw_customers"
SYNTHETIC_MARK = {"generated_by": "data_generation"}


class ParameterCheck:
    """Stops a run with bad parameters when its context is created, before
    the Spark session starts, any lock is taken or any node runs: reading
    ``context.params`` makes the project's configuration loader validate
    them (``customer_segmentation.config``), which fills in their defaults."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        context.params  # noqa: B018 - read for its validation


class SparkSessionHook:
    """Starts the Spark session of an environment that has a ``spark.yml``
    (``conf/spark``), with its settings, before any dataset needs it; an
    environment without one never imports pyspark."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        try:
            settings = context.config_loader["spark"]
        except MissingConfigException:
            return
        if settings:
            from customer_segmentation.spark import start_session  # noqa: PLC0415

            start_session(settings)


class SourceDataGuardError(UserError, RuntimeError):
    """A run would overwrite data that the pipelines did not generate."""


def is_synthetic(dataset: Any) -> bool:
    """Whether ``dataset`` carries the mark of synthetic output that
    data_generation may write (``SYNTHETIC_MARK`` in its metadata)."""
    metadata = getattr(dataset, "metadata", None) or {}
    return all(metadata.get(key) == value for key, value in SYNTHETIC_MARK.items())


def data_location(dataset: Any) -> str:
    """Where a dataset's data is, as a user wrote it in the catalog: its file
    path or table, not the dataset's whole description."""
    try:
        described = dataset._describe()  # Kedro's description of any dataset
    except (AttributeError, NotImplementedError):
        described = {}
    for key in ("filepath", "path", "table_name", "table"):
        if described.get(key):
            return str(described[key])
    if described.get("sql"):
        return "a SQL query"
    return type(dataset).__name__


class SourceDataGuard:
    """Refuses, before any node runs, a run that would write synthetic customers
    over a user's own ``raw_customers``.

    Only the base catalog entry carries ``metadata.generated_by: data_generation``;
    an environment that points ``raw_customers`` at the user's file replaces the
    entry and so loses the mark.
    """

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        if SYNTHETIC_OUTPUT not in pipeline.all_outputs():
            return
        dataset = catalog.get(SYNTHETIC_OUTPUT)
        if is_synthetic(dataset):
            return
        env = run_params.get("env") or "local"
        raise SourceDataGuardError(
            f"Refusing to run data_generation in environment '{env}': its "
            f"'{SYNTHETIC_OUTPUT}' entry ({data_location(dataset)}) is not marked "
            "'metadata: {generated_by: data_generation}', so it holds your own data "
            "and generating synthetic customers would overwrite it. Segment your data "
            f"with: kedro run --env {env} --pipelines segmentation"
        )


class NodeTimingHook:
    """Logs one line per node with its duration and the row count of every
    table it wrote, so a scheduled run's log shows where time goes. Start
    times are keyed by run and node: under ``kedro server`` one instance
    serves every run of the process."""

    def __init__(self) -> None:
        self._started: dict[tuple[str, str], float] = {}

    @hook_impl
    def before_node_run(self, node: Any, run_id: str) -> None:
        self._started[(run_id, node.name)] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any], run_id: str) -> None:
        started = self._started.pop((run_id, node.name), time.perf_counter())
        seconds = time.perf_counter() - started
        rows = {name: len(data) for name, data in outputs.items() if isinstance(data, pd.DataFrame)}
        logger.info(
            "Node %s took %.2f s%s",
            node.name,
            seconds,
            "".join(f"; {name}: {count:,} rows" for name, count in rows.items()),
        )
