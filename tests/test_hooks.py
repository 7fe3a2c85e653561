"""The project hooks, the parameter check and the run summary without a
whole session; then how a `kedro` command ends: readable refusals (one short
block, exit code 1, no traceback), the summary of a run and `kedro report`,
through Kedro's CLI on project copies: run in the test process as the `kedro`
entry point runs it (``kedro_in_process``), and once as a real `kedro`
process, whose interpreter ends in the project's excepthook."""

from __future__ import annotations

import copy
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro_datasets.pandas import CSVDataset

from customer_segmentation.config import (
    ConfigFileError,
    ProjectConfigLoader,
    UnknownEnvironmentError,
)
from customer_segmentation.errors import QuietConsole, UserError, unknown_pipeline
from customer_segmentation.hooks import (
    NodeTimingHook,
    ParameterCheck,
    SourceDataGuard,
    SourceDataGuardError,
    data_location,
)
from customer_segmentation.parameters import ParameterError, validated_parameters
from customer_segmentation.run_summary import (
    RunSummary,
    outcome_texts,
    run_summary,
    structure_line,
    targets_line,
    training_summary,
)
from tests.conftest import BASE_CONF, kedro_cli, kedro_in_process, versions


@pytest.fixture
def base_parameters() -> dict:
    merged = {}
    for path in sorted(BASE_CONF.glob("parameters*.yml")):
        merged.update(yaml.safe_load(path.read_text()))
    return copy.deepcopy(merged)


def test_the_shipped_parameters_are_valid(base_parameters):
    validated_parameters(base_parameters)


def test_a_context_with_bad_parameters_stops_when_it_is_created(tmp_path, base_parameters):
    (tmp_path / "base").mkdir()
    (tmp_path / "local").mkdir()
    base_parameters["model_selection"]["k_mx"] = 3
    (tmp_path / "base" / "parameters.yml").write_text(yaml.safe_dump(base_parameters))
    loader = ProjectConfigLoader(str(tmp_path), base_env="base", default_run_env="local")

    class Context:  # Kedro's context reads its parameters from its config loader
        config_loader = loader
        params = property(lambda self: self.config_loader["parameters"])

    with pytest.raises(ParameterError, match="'model_selection.k_mx': unknown parameter"):
        ParameterCheck().after_context_created(Context())


def test_a_misspelled_key_is_named_with_a_suggestion(base_parameters):
    base_parameters["model_selection"]["k_mx"] = base_parameters["model_selection"].pop("k_max")
    base_parameters["segment_analysis"]["naming"]["treshold"] = 0.3
    with pytest.raises(ParameterError) as error:
        validated_parameters(base_parameters)
    message = str(error.value)
    assert "'model_selection.k_mx': unknown parameter; did you mean 'k_max'?" in message
    assert "'model_selection.k_max': missing" in message
    assert "'segment_analysis.naming.treshold': unknown parameter; did you mean 'threshold'?" in (
        message
    )


def test_wrong_types_and_ranges_are_named(base_parameters):
    wrong = copy.deepcopy(base_parameters)
    wrong["model_selection"]["criterion"] = "gap"
    wrong["data_generation"]["n_customers"] = "many"
    with pytest.raises(ParameterError) as error:
        validated_parameters(wrong)
    message = str(error.value)
    assert "'model_selection.criterion'" in message and "'gap'" in message
    assert "'data_generation.n_customers'" in message
    base_parameters["model_selection"].update(k_min=5, k_max=3)
    with pytest.raises(ParameterError, match=r"k_min \(5\) must not exceed k_max \(3\)"):
        validated_parameters(base_parameters)


def _pipeline_writing(name: str) -> Pipeline:
    return Pipeline([Node(lambda: 1, None, name, name="write")])


def test_generation_may_only_write_a_marked_raw_customers():
    guard = SourceDataGuard()
    marked = DataCatalog(
        {"raw_customers": MemoryDataset(metadata={"generated_by": "data_generation"})}
    )
    guard.before_pipeline_run({"env": "mine"}, _pipeline_writing("raw_customers"), marked)
    users = DataCatalog({"raw_customers": MemoryDataset()})
    with pytest.raises(SourceDataGuardError, match="kedro run --env mine --pipelines segmentation"):
        guard.before_pipeline_run({"env": "mine"}, _pipeline_writing("raw_customers"), users)
    guard.before_pipeline_run({"env": "mine"}, _pipeline_writing("other"), users)


def test_the_guard_names_the_users_file_not_the_dataset(tmp_path):
    users = DataCatalog(
        {
            "raw_customers": CSVDataset(
                filepath=str(tmp_path / "crm.csv"), load_args={"sep": ";", "dtype": {"ID": str}}
            )
        }
    )
    with pytest.raises(SourceDataGuardError) as error:
        SourceDataGuard().before_pipeline_run(
            {"env": "mine"}, _pipeline_writing("raw_customers"), users
        )
    message = str(error.value)
    assert f"'raw_customers' entry ({tmp_path / 'crm.csv'}) is not marked" in message
    assert "CSVDataset" not in message and "load_args" not in message
    assert data_location(MemoryDataset()) == "MemoryDataset"


def test_an_unknown_pipeline_names_the_closest_and_every_pipeline():
    error = unknown_pipeline("segmentaton", ["__default__", "segmentation", "scoring"])
    assert str(error) == (
        "no pipeline named 'segmentaton'; did you mean 'segmentation'?\n"
        "  Pipelines: scoring, segmentation\n"
        "  Without --pipelines, kedro run runs the default pipeline."
    )
    assert str(unknown_pipeline("xyz", ["scoring"])).startswith("no pipeline named 'xyz'.\n")


def test_kedro_lines_about_a_user_error_stay_off_the_console():
    """While a UserError is handled, Kedro's records (the node's ERROR, the
    resume hint) are dropped on the console; other errors keep them."""
    quiet = QuietConsole()

    def kept(name: str, error: Exception) -> bool:
        record = logging.LogRecord(name, logging.ERROR, __file__, 1, "failed", None, None)
        try:
            raise error
        except Exception:
            return quiet.filter(record)

    assert not kept("kedro.pipeline.node", UserError("bad column"))
    wrapped = RuntimeError("node failed")
    wrapped.__cause__ = UserError("bad column")  # Kedro may wrap the error
    assert not kept("kedro.runner.sequential_runner", wrapped)
    assert kept("kedro.pipeline.node", ValueError("a bug"))
    assert kept("customer_segmentation.hooks", UserError("bad column"))
    record = logging.LogRecord("kedro.io", logging.WARNING, __file__, 1, "no error", None, None)
    assert quiet.filter(record)


def test_node_timing_logs_duration_and_rows(caplog):
    hook = NodeTimingHook()
    node = SimpleNamespace(name="segment_analysis.profile_segments")
    with caplog.at_level(logging.INFO):
        hook.before_node_run(node, run_id="first")
        hook.before_node_run(node, run_id="second")  # a concurrent run under kedro server
        hook.after_node_run(
            node, {"segment_profiles": pd.DataFrame({"a": range(1234)}), "k": 5}, run_id="first"
        )
    assert "Node segment_analysis.profile_segments took" in caplog.text
    assert "segment_profiles: 1,234 rows" in caplog.text
    assert list(hook._started) == [("second", "segment_analysis.profile_segments")]


# --- the run summary ---------------------------------------------------------

METRICS = {
    "selected_k": 3,
    "clear_structure": True,
    "structure": {"evidence": "groups across features"},
    "selected_k_stable": False,
}


def _recommendations(**extra) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "priority": [2, 1, 3],
            "segment": [1, 0, 2],
            "name": ["Big spenders", "Bargain hunters", "Newcomers"],
            "customers": [300, 600, 100],
            "share": [0.3, 0.6, 0.1],
            "action": ["upsell", "reward loyalty", "welcome"],
            **extra,
        }
    )


def test_the_training_summary_gives_k_verdict_segments_targets_and_report():
    lines = training_summary(
        METRICS,
        _recommendations(targeted=[True, False, True]),
        "data/08_reporting/segment_report.html/V/segment_report.html",
    )
    assert lines[1] == (
        "k = 3 segments; clear structure (groups across features); "
        "unstable (the segments change when customers are resampled)"
    )
    assert lines[2] == "  Segment 0 'Bargain hunters': 600 customers (60.0%): reward loyalty"
    assert lines[3] == "  Segment 1 'Big spenders': 300 customers (30.0%): upsell [targeted]"
    assert lines[5] == (
        "Targets: 400 customers (40.0%) of segments 1, 2 exported, but these segments are "
        "not a stable split as a whole: check them before a campaign"
    )
    assert lines[6] == "Report: data/08_reporting/segment_report.html/V/segment_report.html"
    unclear = structure_line({"selected_k": 2, "clear_structure": False, "selected_k_stable": True})
    assert unclear.startswith("k = 2 segments; no clear structure")
    assert unclear.endswith("; stable")


def test_the_summary_lists_segments_by_priority_and_says_why_a_like_one_is_not_exported():
    recommendations = _recommendations(
        evidence=[True, True, False],
        targeted=[True, False, False],
        targeting=[
            "Exported: priority 2, with evidence (30% of customers).",
            "Not exported: its 60% of customers would take the export to 90%, above "
            "targeting.max_share (50%).",
            "Not exported: its action rests on no evidence in the data.",
        ],
    )
    recommendations["action"] = ["upsell", "upsell", "welcome"]
    lines = training_summary({"selected_k": 3}, recommendations, None)
    assert lines[2:5] == [
        "  Priority 1: Segment 0 'Bargain hunters': 600 customers (60.0%): upsell "
        "[not exported: its 60% of customers would take the export to 90%, above "
        "targeting.max_share (50%)]",
        "  Priority 2: Segment 1 'Big spenders': 300 customers (30.0%): upsell [targeted]",
        "  Priority 3: Segment 2 'Newcomers': 100 customers (10.0%): welcome",
    ]
    # Without evidence nothing is ranked: segment order, no priority.
    unranked = recommendations.assign(evidence=False, targeted=False)
    lines = training_summary({"selected_k": 3}, unranked, None)
    assert lines[2].startswith("  Segment 0 'Bargain hunters'")
    assert not any("Priority" in line for line in lines)


def test_each_segment_line_gives_its_outcome_rates_against_the_base():
    profiles = pd.DataFrame(
        {"segment": [0, 1, 2], "customers": [600, 300, 100], "Churn": [0.2, 0.4, 0.1]}
    )
    features = {
        "id_column": "id",
        "numeric": ["spend"],
        "profile_only": {"numeric": ["Churn"]},
        "outcomes": {"Churn": {"kind": "churn", "positive": 1}},
    }
    outcomes = outcome_texts(profiles, features, {})
    assert outcomes[1] == "churn 40% (all 25%)"
    lines = training_summary(None, _recommendations(), None, outcomes=outcomes)
    assert lines[1] == (
        "  Segment 0 'Bargain hunters': 600 customers (60.0%), churn 20% (all 25%): reward loyalty"
    )
    assert outcome_texts(profiles, {**features, "outcomes": {}}, {}) == {}


@pytest.mark.parametrize(
    ("metrics", "ending"),
    [
        ({"clear_structure": True, "selected_k_stable": True}, "exported"),
        (
            {"clear_structure": False, "selected_k_stable": True},
            "exported, but these segments are not clearly separate: check them before a campaign",
        ),
        (
            {"clear_structure": True, "selected_k_stable": False},
            "exported, but these segments are not a stable split as a whole: check them before a campaign",
        ),
    ],
)
def test_the_targets_line_repeats_the_caution_of_doubtful_segments(metrics, ending):
    line = targets_line(_recommendations(targeted=[True, False, False]), None, metrics)
    assert line == "Targets: 300 customers (30.0%) of segment 1 " + ending
    lines = training_summary(
        {"selected_k": 3, **metrics}, _recommendations(targeted=[True, False, False]), None
    )
    assert lines[-1] == line


def test_the_summary_without_a_targeted_column_or_targets():
    lines = training_summary(None, _recommendations(), None)
    assert not any(line.startswith(("Targets", "k =", "Report")) for line in lines)
    assert len(lines) == 4  # the title and one line per segment
    none = _recommendations(targeted=[False, False, False])
    assert targets_line(none, None).startswith("Targets: none exported")


def test_the_hook_prints_what_the_run_wrote_and_keeps_no_state(capsys):
    """Both results are read back from the run's own catalog; one hook serves
    concurrent runs (kedro server), so it holds nothing between calls."""
    catalog = DataCatalog(
        {
            "model_selection_metrics": MemoryDataset(METRICS),
            "segment_recommendations": MemoryDataset(_recommendations()),
        }
    )
    pipeline = Pipeline(
        [
            Node(lambda: 1, None, "model_selection_metrics", name="a"),
            Node(lambda: 1, None, "segment_recommendations", name="b"),
        ]
    )
    hook = RunSummary()
    hook.after_pipeline_run({"project_path": "."}, pipeline, catalog)
    printed = capsys.readouterr().out.splitlines()
    assert printed[1:3] == ["Segmentation results", structure_line(METRICS)]
    assert "  Segment 2 'Newcomers': 100 customers (10.0%): welcome" in printed
    assert vars(hook) == {}
    hook.after_pipeline_run({"project_path": "."}, _pipeline_writing("other"), catalog)
    assert capsys.readouterr().out == ""  # a run without results prints nothing


def test_the_scoring_summary_counts_scored_rejected_and_filled():
    scored = pd.DataFrame({"customer_id": ["a", "b", "c"], "filled": ["", "age, city", "age"]})
    rejects = pd.DataFrame({"line": [5], "reason": ["blank line"]})
    catalog = DataCatalog(
        {"scored_customers": MemoryDataset(scored), "scoring_rejects": MemoryDataset(rejects)}
    )
    pipeline = Pipeline(
        [Node(lambda: (1, 1), None, ["scored_customers", "scoring_rejects"], name="score")]
    )
    lines = run_summary(pipeline, catalog, Path("."))
    assert lines[1] == "Scored 3 of 4 customers; rejected 1"
    assert lines[2].startswith("Values filled from training (median, or category 'missing'): ")
    assert "age 2, city 1" in lines[2]


# --- how a `kedro` command ends ----------------------------------------------


def test_an_unknown_environment_names_the_folder_and_the_environments(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "shop").mkdir()
    (tmp_path / "local").mkdir()
    with pytest.raises(UnknownEnvironmentError) as error:
        ProjectConfigLoader(str(tmp_path), env="shpo", base_env="base", default_run_env="local")
    message = str(error.value)
    assert message.startswith(f"{tmp_path.name}/shpo does not exist")
    assert "Environments: local, shop\n" in message
    ProjectConfigLoader(str(tmp_path), env="shop", base_env="base", default_run_env="local")


def test_a_yaml_syntax_error_names_the_file_line_and_problem(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "parameters.yml").write_text("features:\n  id_column: [oops\n")
    loader = ProjectConfigLoader(str(tmp_path), base_env="base", default_run_env="local")
    with pytest.raises(ConfigFileError) as error:
        loader["parameters"]
    message = str(error.value)
    assert message.startswith(f"{tmp_path.name}/base/parameters.yml is not valid YAML: line 3")
    assert "did not find expected ',' or ']'" in message


def _assert_readable(result, expected: str) -> None:
    """One short block on standard error, exit code 1, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) <= 10, result.stderr
    assert expected in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "conf", "expected"),
    [
        (["--env", "nope"], {}, "Error (UnknownEnvironmentError): conf/nope does not exist"),
        (
            [],
            {"local/parameters.yml": "features:\n  id_column: [oops\n"},
            "Error (ConfigFileError): conf/local/parameters.yml is not valid YAML: line 3",
        ),
        (
            ["--env", "crm_example"],
            {},
            "Error (SourceDataGuardError): Refusing to run data_generation",
        ),
        (["--params", "model_selection.k_min=50"], {}, "Error (ParameterError): "),
        (["--pipelines", "scoring"], {}, "Error (NoCompleteVersionError): "),
        (
            ["--pipelines", "segmentaton"],
            {},
            "Error (UnknownPipelineError): no pipeline named 'segmentaton'; "
            "did you mean 'segmentation'?",
        ),
    ],
    ids=[
        "unknown-env",
        "yaml-error",
        "source-data-guard",
        "parameter",
        "user-error",
        "unknown-pipeline",
    ],
)
def test_a_refused_run_ends_with_one_readable_block(project_copy, args, conf, expected):
    for relative, text in conf.items():
        (project_copy / "conf" / relative).write_text(text)
    result = kedro_in_process(project_copy, "run", *args)
    _assert_readable(result, expected)
    if "nope" in args:
        assert "Environments: " in result.stderr and "crm_example" in result.stderr
    assert expected in (project_copy / "logs" / "info.log").read_text()


def test_a_refused_kedro_process_shows_the_block_and_nothing_else(project_copy):
    """A real process: a YAML error, read before any hook runs, ends the
    interpreter through the excepthook that settings.py installs; a fresh
    interpreter prints nothing else (no plugin's import warnings)."""
    (project_copy / "conf" / "local" / "parameters.yml").write_text(
        "features:\n  id_column: [oops\n"
    )
    result = kedro_cli(project_copy, "run")
    _assert_readable(
        result, "Error (ConfigFileError): conf/local/parameters.yml is not valid YAML: line 3"
    )
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == "", result.stdout
    assert "is not valid YAML" in (project_copy / "logs" / "info.log").read_text()


def test_a_node_refusing_bad_data_shows_only_the_readable_block(project_copy):
    """Kedro's ERROR block and its "--from-nodes" hint stay in the log file."""
    examples = project_copy / "data" / "01_raw" / "examples"
    lines = (examples / "marketing_campaign.csv").read_text(encoding="utf-8-sig").splitlines()
    (examples / "duplicated.csv").write_text("\n".join(lines[:40] + lines[1:3]) + "\n")
    shutil.copytree(project_copy / "conf" / "crm_example", project_copy / "conf" / "dup")
    catalog = project_copy / "conf" / "dup" / "catalog.yml"
    catalog.write_text(catalog.read_text().replace("marketing_campaign.csv", "duplicated.csv"))
    result = kedro_in_process(project_copy, "run", "--env", "dup", "--pipelines", "segmentation")
    _assert_readable(result, "Error (InvalidCustomerDataError): ")
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr  # the block, one problem
    console = result.stdout + result.stderr
    for kedro_line in ("failed with error", "node.py", "--from-nodes", "nodes that have not run"):
        assert kedro_line not in console, console
    log = (project_copy / "logs" / "info.log").read_text()
    assert "failed with error" in log and "--from-nodes" in log


def test_scoring_ends_with_its_summary_and_report_finds_the_latest_complete(trained_project):
    result = kedro_in_process(trained_project, "run", "--pipelines", "scoring")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    summary = lines[lines.index("Scoring results") :]  # the last lines of the run
    assert summary[1].startswith("Scored 194 of 201 customers; rejected 7 (reasons: data/")
    assert summary[-2].startswith(
        "Scored customers: data/07_model_output/scored_customers.parquet/"
    )
    assert summary[-1] == "Full log: logs/info.log"

    folder = trained_project / "data" / "08_reporting" / "segment_report.html"
    complete = versions(trained_project, "data/08_reporting/segment_report.html")[-1]
    (folder / "9999-01-01T00.00.00.000Z").mkdir()  # a killed run's version: no mark
    report = kedro_in_process(trained_project, "report")
    assert report.returncode == 0, report.stderr
    assert report.stdout.strip() == str(folder / complete / "segment_report.html")
    _assert_readable(
        kedro_in_process(trained_project, "report", "--env", "crm_example"),
        "Error (NoReportError): environment 'crm_example' has no complete segment report",
    )
