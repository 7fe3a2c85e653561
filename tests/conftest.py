"""Shared fixtures: the project's own parameters, small customer frames, a
temporary copy of the project for runs through Kedro, and the engines node
tests run on (``engine``: pandas, and Spark in one session-wide
``local[2]`` session)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

# Before Kedro is imported: no telemetry and no log file in the repository.
os.environ["KEDRO_DISABLE_TELEMETRY"] = "1"
os.environ["KEDRO_LOGGING_CONFIG"] = str(Path(__file__).with_name("logging.yml"))

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from kedro.framework.session import KedroSession  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402
from kedro.io import DataCatalog, MemoryDataset  # noqa: E402
from kedro.runner import SequentialRunner  # noqa: E402

from customer_segmentation.parameters import validated_parameters  # noqa: E402
from customer_segmentation.pipelines.data_generation.nodes import (  # noqa: E402
    generate_customers,
)
from customer_segmentation.pipelines.model_selection import (  # noqa: E402
    create_pipeline as model_selection_pipeline,
)
from customer_segmentation.pipelines.preprocessing.nodes import (  # noqa: E402
    encode_features,
    fit_preprocessor,
    validate_customers,
)
from customer_segmentation.pipelines.segment_analysis.nodes import (  # noqa: E402
    profile_segments,
    segment_customers,
)
from customer_segmentation.spark import is_spark, start_session, to_pandas  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BASE_CONF = PROJECT_ROOT / "conf" / "base"

# The tests that run on Spark: tests/test_spark.py and every test's "spark"
# case of the ``engine`` fixture (``[spark]``, or ``spark`` among other ids).
SPARK_TEST = re.compile(r"^tests/test_spark\.py::|\[(?:[^\]]*-)?spark(?:-[^\]]*)?\]$")

# Files of few long tests (whole runs through Kedro, real processes), longest
# first: handed out right after the Spark tests, so that none of them is left
# for last while the other worker has nothing to do. An order only: every
# other file follows, most tests first, as loadfile hands them out.
LONG_FILES = (
    "tests/test_integration.py",
    "tests/pipelines/model_selection/test_nodes.py",
    "tests/test_crash_safety.py",
    "tests/test_concurrency.py",
    "tests/test_tracking.py",
    "tests/test_packaging.py",
    "tests/test_own_data.py",
    "tests/test_transactions.py",
    "tests/test_airflow.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    """Every test on Spark (``spark`` mark or fixture) is one ``SPARK_TEST``
    names: the scheduler sees test ids only, and a Spark test it did not
    recognise would start a second JVM on the other worker."""
    stray = [
        item.nodeid
        for item in items
        if (item.get_closest_marker("spark") or "spark" in getattr(item, "fixturenames", ()))
        and not SPARK_TEST.search(item.nodeid)
    ]
    if stray:
        raise pytest.UsageError(
            f"tests on Spark that SPARK_TEST (tests/conftest.py) does not name: {stray}"
        )


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, unknown without it
def pytest_xdist_make_scheduler(config, log):
    """Under ``--dist loadfile`` (``make test``): each file's tests on one
    worker, as loadfile does, except the tests on Spark (``SPARK_TEST``),
    which are one unit of their own, handed out first, then ``LONG_FILES``.
    One worker starts the JVM (``spark`` fixture) and runs every Spark test
    while it is warm: its compiled code and its Python workers, which Spark
    stops after a minute unused, serve the next test instead of being paid
    for again on both workers."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # noqa: PLC0415 - only with xdist

    class SparkApartScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "spark" if SPARK_TEST.search(nodeid) else super()._split_scope(nodeid)

        def _assign_work_unit(self, node) -> None:
            for scope in reversed(("spark", *LONG_FILES)):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return SparkApartScheduling(config, log)


# The test session's settings over those of conf/spark/spark.yml: local[2],
# two shuffle partitions, and a JVM that compiles with the quick JIT only (C1):
# tests run many small jobs, not a few long ones (a fifth faster here).
SPARK_TEST_SETTINGS = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": 2,
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


def spark_test_settings(project: Path = PROJECT_ROOT) -> dict:
    """The settings of ``project``'s conf/spark/spark.yml with
    ``SPARK_TEST_SETTINGS`` over them."""
    settings = yaml.safe_load((project / "conf" / "spark" / "spark.yml").read_text())
    return {**settings, **SPARK_TEST_SETTINGS}


def use_the_test_spark_session(project: Path) -> None:
    """Writes ``SPARK_TEST_SETTINGS`` into a project copy's
    conf/spark/spark.yml, so that ``kedro run --env spark`` there asks for the
    session the ``spark`` fixture started. With the shipped file, the run's
    ``start_session`` (getOrCreate) would set its 64 shuffle partitions on
    that shared session, for the run and for every later test of the
    process: tiny tables spread over many tasks."""
    path = project / "conf" / "spark" / "spark.yml"
    path.write_text(yaml.safe_dump(spark_test_settings(project)))


@pytest.fixture(scope="session")
def spark():
    """The Spark session of ``conf/spark`` with ``SPARK_TEST_SETTINGS``; a
    ``kedro run --env spark`` in the same process gets this session (in a
    project copy with ``use_the_test_spark_session``, with these settings).
    Started once for the test session (about 5 s), only by tests that run on
    Spark, which ``make test`` runs on one worker (``pytest_xdist_make_scheduler``)."""
    pytest.importorskip("pyspark")
    session = start_session(spark_test_settings())
    yield session
    session.stop()


class Engine:
    """The engine a node test runs on: ``frame`` hands it a small pandas
    input (a Spark DataFrame on Spark), ``pandas`` reads an output back."""

    def __init__(self, name: str, session=None):
        self.name, self.session = name, session

    def frame(self, table: pd.DataFrame):
        if self.session is None:
            return table
        # Mixed object columns (numbers and text) as the text a file holds.
        mixed = [c for c in table.columns if table[c].dtype == object]
        text = table.astype(dict.fromkeys(mixed, str)).replace({c: {"nan": None} for c in mixed})
        return self.session.createDataFrame(text)

    def pandas(self, table) -> pd.DataFrame:
        return to_pandas(table) if is_spark(table) else table

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(params=["pandas", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request) -> Engine:
    """Each engine in turn: the test runs on pandas, then on Spark."""
    if request.param == "pandas":
        return Engine("pandas")
    return Engine("spark", request.getfixturevalue("spark"))


def node_function(pipeline, name: str):
    """The function of the node ``name`` of ``pipeline`` as Kedro runs it:
    the engine is chosen by its inputs (``engines.by_engine``)."""
    return next(n for n in pipeline.nodes if n.name == name).func


def base_parameters() -> dict:
    """The parameters of ``conf/base`` as nodes receive them: validated, every
    default filled in (``validated_parameters``, as the project's
    configuration loader hands them out). A new copy on every call."""
    merged = {}
    for path in sorted(BASE_CONF.glob("parameters*.yml")):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")))
    return validated_parameters(merged)


def filled(model: type, values: dict) -> dict:
    """A hand-made parameter dict of ``model`` (``customer_segmentation.parameters``,
    e.g. ``Naming``, or ``features.Features``) with every default filled in,
    as nodes receive it: ``filled(Naming, {"threshold": 0.5, ...})``."""
    return model.model_validate(values).model_dump(mode="json")


@pytest.fixture(scope="session")
def features() -> dict:
    return base_parameters()["features"]


@pytest.fixture(scope="session")
def generation_params() -> dict:
    return base_parameters()["data_generation"]


@pytest.fixture(scope="session")
def preprocessing_params() -> dict:
    return base_parameters()["preprocessing"]


@pytest.fixture(scope="session")
def model_selection_params() -> dict:
    return base_parameters()["model_selection"]


@pytest.fixture(scope="session")
def segment_analysis_params() -> dict:
    return base_parameters()["segment_analysis"]


@pytest.fixture(scope="session")
def customer_features_params() -> dict:
    return base_parameters()["customer_features"]


@pytest.fixture(scope="session")
def scoring_params() -> dict:
    return base_parameters()["scoring"]


def make_customers(generation_params: dict, n_customers: int, seed: int) -> pd.DataFrame:
    """Synthetic customers with the project's default personas."""
    return generate_customers(
        n_customers=n_customers,
        random_seed=seed,
        personas=generation_params["personas"],
        numeric_bounds=generation_params["numeric_bounds"],
        latent_correlations=generation_params["latent_correlations"],
        city_weights=generation_params["city_weights"],
        missing_value_share=generation_params["missing_value_share"],
    )


@pytest.fixture(scope="session")
def customers(generation_params) -> pd.DataFrame:
    """600 synthetic customers; tests must not modify it."""
    return make_customers(generation_params, 600, seed=7)


def _copy_project(project: Path) -> Path:
    """The project's code, configuration and example data (no run outputs)
    copied into ``project``."""
    project.mkdir()
    for name in ("conf", "src", "deployment", "notebooks"):
        shutil.copytree(
            PROJECT_ROOT / name,
            project / name,
            ignore=shutil.ignore_patterns("local", "__pycache__", "*.egg-info"),
        )
    (project / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry", "README.md", "Makefile"):
        shutil.copy2(PROJECT_ROOT / name, project / name)
    shutil.copytree(
        PROJECT_ROOT / "data" / "01_raw" / "examples", project / "data" / "01_raw" / "examples"
    )
    (project / "logs").mkdir()
    return project


@pytest.fixture
def project_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the project (code, configuration, example data, no run
    outputs) in a temporary folder, made the working directory."""
    project = _copy_project(tmp_path / "project")
    monkeypatch.chdir(project)
    return project


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory) -> Path:
    """A project copy after one fast default run of 600 customers, made once
    per test session."""
    project = _copy_project(tmp_path_factory.mktemp("trained") / "project")
    here = Path.cwd()
    os.chdir(project)
    try:
        run_session(project)
    finally:
        os.chdir(here)
    return project


@pytest.fixture
def trained_project(tmp_path, monkeypatch, trained_template) -> Path:
    """A project copy that has had one fast default run (its versions, marks
    and log included), as ``project_copy`` would be after ``run_session``,
    without paying for the run in every test that starts there."""
    project = tmp_path / "project"
    shutil.copytree(trained_template, project, symlinks=True)
    monkeypatch.chdir(project)
    return project


def subprocess_env() -> dict[str, str]:
    """The environment for a `kedro` or `make` subprocess: without the test
    logging configuration and the PYTHONPATH that in-process sessions set."""
    return {k: v for k, v in os.environ.items() if k not in ("KEDRO_LOGGING_CONFIG", "PYTHONPATH")}


# Model selection at a fraction of the production cost (fewer k, restarts and
# resamples), for runs whose point is not the choice of k itself.
FAST_SELECTION = {
    "k_max": 6,
    "n_init": 2,
    "stability_resamples": 3,
    "stability_n_init": 1,
    "silhouette_sample_size": 600,
    "comparison_sample_size": 400,
}
SMALL_RUN = {"data_generation": {"n_customers": 600}}


def run_command(command: list[str], cwd: Path, env: dict | None = None):
    """Runs a command (``kedro``, ``make``, the packaged entry point) as a
    user would, in ``cwd``; returns the completed process, whatever its exit."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=subprocess_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def kedro_cli(project: Path, *args: str):
    """``kedro <args>`` in a project copy, with the venv's kedro, as a real
    process. For what only a process shows: the excepthook that ends it,
    the console of a fresh interpreter (one-time import warnings), kills and
    locks. Everything else: ``kedro_in_process``, which skips the process's
    start (every plugin's commands imported again, MLflow included)."""
    return run_command([str(Path(sys.executable).with_name("kedro")), *args], project)


def _logging_state() -> dict[logging.Logger, tuple]:
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return {
        logger: (
            logger.level,
            logger.propagate,
            logger.disabled,
            logger.handlers[:],
            logger.filters[:],
        )
        for logger in loggers
    }


def _restore_logging(state: dict[logging.Logger, tuple]) -> None:
    """Every logger as ``state`` had it (new ones bare); the handlers made
    since are closed (the project copy's log file)."""
    kept = {handler for *_, handlers, _ in state.values() for handler in handlers}
    for logger, now in _logging_state().items():
        level, propagate, disabled, handlers, filters = state.get(
            logger, (logging.NOTSET, True, False, [], [])
        )
        for handler in now[3]:
            if handler not in kept:
                handler.close()
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled
        logger.handlers[:], logger.filters[:] = handlers, filters


@contextlib.contextmanager
def _as_a_kedro_process(project: Path, package: str, stdout: io.StringIO, stderr: io.StringIO):
    """This process made to look, for one command, like a `kedro` process
    started in ``project``, and put back afterwards: its working directory
    and argv; its output in ``stdout`` and ``stderr``; the logging of the
    project's ``conf/logging.yml`` (as without KEDRO_LOGGING_CONFIG: console
    and logs/info.log), configured before the project's settings are
    imported again, as Kedro orders them (settings.py puts the readable
    error handler on top of the console's); rich's console detected anew on
    the captured output."""
    import rich  # noqa: PLC0415
    from kedro.framework import project as kedro_project  # noqa: PLC0415

    settings_module = f"{package}.settings"
    saved = {
        "cwd": Path.cwd(),
        "argv": sys.argv,
        "environ": dict(os.environ),
        "hooks": (sys.excepthook, sys.displayhook, warnings.showwarning),
        "logging": _logging_state(),
        "kedro_logging": kedro_project.LOGGING.data,
        "settings": sys.modules.get(settings_module),
        "console": rich.get_console().__dict__,
    }
    try:
        os.chdir(project)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            rich.reconfigure()
            config = yaml.safe_load((project / "conf" / "logging.yml").read_text())
            kedro_project.configure_logging(config)
            sys.modules.pop(settings_module, None)
            yield
    finally:
        os.chdir(saved["cwd"])
        sys.argv = saved["argv"]
        os.environ.clear()
        os.environ.update(saved["environ"])
        if warnings.showwarning is not saved["hooks"][2]:
            logging.captureWarnings(False)  # Kedro's RichHandler captured them
        sys.excepthook, sys.displayhook, warnings.showwarning = saved["hooks"]
        _restore_logging(saved["logging"])
        kedro_project.LOGGING.data = saved["kedro_logging"]
        if saved["settings"] is not None:
            sys.modules[settings_module] = saved["settings"]
            sys.modules[package].settings = saved["settings"]
        rich.get_console().__dict__ = saved["console"]


def kedro_in_process(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``kedro <args>`` in a project copy, run in this process as the `kedro`
    entry point runs it (``kedro.framework.cli.cli.main``), and ended as
    Python ends a process: an uncaught error goes to ``sys.excepthook`` (the
    project's readable block for a UserError) and exits with 1, ``sys.exit``
    with its code. Returns what ``kedro_cli`` returns, without paying for a
    new interpreter. The project's package is this process's (the copy's
    ``src`` is not imported)."""
    from kedro.framework.cli.cli import main  # noqa: PLC0415

    package = validated_parameters.__module__.split(".")[0]  # customer_segmentation
    stdout, stderr = io.StringIO(), io.StringIO()
    with _as_a_kedro_process(project, package, stdout, stderr):
        sys.argv = ["kedro", *args]
        error = None
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code
        except Exception as uncaught:  # noqa: BLE001 - handled as the interpreter would
            error = uncaught
        if error is not None:
            sys.excepthook(type(error), error, error.__traceback__)
            code = 1
        elif code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)  # noqa: T201 - as the interpreter prints it
            code = 1
    return subprocess.CompletedProcess(["kedro", *args], code, stdout.getvalue(), stderr.getvalue())


def _merged(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        both_dicts = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both_dicts else value
    return merged


def run_session(
    project: Path, pipeline: str = "__default__", env=None, params=None, fast: bool = True
) -> None:
    """Runs a registered pipeline of a project copy in a new KedroSession:
    ``params`` (default: 600 synthetic customers) over the fast model-selection
    settings, or over the project's own settings with ``fast=False``."""
    params = SMALL_RUN if params is None else params
    if fast:
        params = _merged({"model_selection": FAST_SELECTION}, params)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=params) as session:
        session.run(pipeline_names=[pipeline])


def fast_cli_params(**extra) -> str:
    """``kedro run --params`` for the fast model-selection settings (plus
    ``extra`` dotted keys)."""
    settings = {f"model_selection.{key}": value for key, value in FAST_SELECTION.items()}
    return ",".join(f"{key}={value}" for key, value in {**settings, **extra}.items())


def segments_in_sqlite(table: pd.DataFrame, sql: str) -> list:
    """The segment the rules' SQL ``CASE WHEN`` gives each row of ``table``,
    loaded as it is into SQLite as ``customers``."""
    with sqlite3.connect(":memory:") as connection:
        table.to_sql("customers", connection, index=False)
        rows = connection.execute(f"SELECT {sql} AS segment FROM customers").fetchall()
    return [row[0] for row in rows]


def versions(project: Path, relative: str) -> list[str]:
    """The version stamps of a versioned dataset in a project copy, oldest first."""
    folder = project / relative
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def version_file(project: Path, relative: str, version: str | None = None) -> Path:
    """The file of one version of a versioned dataset (the newest by default)."""
    folder = project / relative
    return folder / (version or versions(project, relative)[-1]) / folder.name


def _parameter_entries(prefix: str, value) -> dict:
    """``params:a`` and ``params:a.b`` entries, as Kedro makes for nested parameters."""
    entries = {f"params:{prefix}": value}
    if isinstance(value, dict):
        for key, inner in value.items():
            entries.update(_parameter_entries(f"{prefix}.{key}", inner))
    return entries


@pytest.fixture(scope="session")
def parameters():
    """Every project parameter as Kedro names them (``params:...``), validated
    with every default filled in."""
    entries = {}
    for name, value in base_parameters().items():
        entries.update(_parameter_entries(name, value))
    return entries


@pytest.fixture(scope="session")
def fast_parameters(parameters, model_selection_params):
    """``parameters`` with the fast model-selection overlay."""
    return {
        **parameters,
        **_parameter_entries("model_selection", {**model_selection_params, **FAST_SELECTION}),
    }


def run_in_memory(pipeline, parameters: dict, **datasets) -> dict:
    """Runs ``pipeline`` with SequentialRunner on an in-memory catalog holding
    ``datasets`` and the parameters; returns the pipeline's outputs, loaded
    (intermediate ones included; pictures as PNG bytes)."""

    class KeptMemoryDataset(MemoryDataset):
        """Keeps its data after the run so the test can inspect it."""

        def _release(self) -> None:
            pass

    class PngMemoryDataset(KeptMemoryDataset):
        """Keeps a figure as the PNG bytes the catalog's FigureDataset would
        save and load back."""

        def save(self, data) -> None:
            buffer = io.BytesIO()
            data.savefig(buffer, format="png", dpi=50)
            super().save(buffer.getvalue())

    catalog = DataCatalog()
    for name, value in {**parameters, **datasets}.items():
        catalog[name] = value
    for name in pipeline.all_outputs():
        kind = PngMemoryDataset if name.endswith("_plot") else KeptMemoryDataset
        catalog[name] = kind(copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)
    return {
        name: catalog[name].load()
        for name in pipeline.all_outputs()
        if name in catalog and catalog.exists(name)
    }


def run_node(pipeline, name: str, params: dict, **data):
    """Runs the node ``name`` of ``pipeline`` as Kedro would: its parameter
    inputs come from ``params`` (block name -> settings, for example
    ``{"model_selection": {...}}``) through the pipeline's own wiring, its data
    inputs from ``data``. Returns its output, or a tuple of its outputs."""
    node = next(n for n in pipeline.nodes if n.name == name)
    entries = {}
    for block, value in params.items():
        entries.update(_parameter_entries(block, value))
    outputs = node.run(
        {name: data[name] if name in data else entries[name] for name in node.inputs}
    )
    values = tuple(outputs[output] for output in node.outputs)
    return values[0] if len(values) == 1 else values


def select(encoded, params: dict, id_column: str = "customer_id"):
    """The selection sample, drawn as the model_selection pipeline does."""
    return run_node(
        model_selection_pipeline(),
        "sample_for_selection",
        {"model_selection": params, "features": {"id_column": id_column}},
        encoded_features=encoded,
    )


def fit(encoded, preprocessor, k: int, params: dict, id_column: str = "customer_id"):
    """The final segmentation model and the segment of every customer, fitted
    as the model_selection pipeline does (the algorithm chosen by its rule)."""
    settings = {"model_selection": params, "features": {"id_column": id_column}}
    selection = select(encoded, params, id_column)
    choice = run_node(
        model_selection_pipeline(),
        "choose_algorithm",
        settings,
        selection_features=selection,
        selected_k=k,
    )
    return run_node(
        model_selection_pipeline(),
        "fit_segmentation_model",
        settings,
        encoded_features=encoded,
        selection_features=selection,
        preprocessor=preprocessor,
        selected_k=k,
        algorithm_choice=choice,
    )


def fit_model(encoded, preprocessor, k: int, params: dict, id_column: str = "customer_id"):
    """The final segmentation model alone (see ``fit``)."""
    return fit(encoded, preprocessor, k, params, id_column)[0]


def train_and_profile(customers, features: dict, params: dict, naming: dict, k: int = 5):
    """Validated customers with their segment, the fitted model with k
    segments and the segment profiles, as the pipelines make them."""
    validated = validate_customers(customers, features, 10)
    preprocessor = fit_preprocessor(validated, features, base_parameters()["preprocessing"])
    encoded = encode_features(validated, preprocessor, features["id_column"])
    model, segments = fit(encoded, preprocessor, k, params)
    segmented = segment_customers(validated, segments, features["id_column"])
    return segmented, model, profile_segments(segmented, model, features, naming)
