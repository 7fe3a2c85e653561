"""Where a run's results are: a short summary as the last lines of a run,
and the latest complete segment report of an environment.

A training run logs a line per node; what a user wants at its end is the
verdict and where to read more. ``RunSummary`` prints, after every run that
saved ``model_selection_metrics``, ``segment_recommendations`` or
``segment_report``: k, the deployed algorithm and the structure verdict,
one line per segment (its priority, size, share, outcome rates, action,
and why a segment with an exported action was not exported), how many customers were exported as targets (with the
report's caution for unclear or unstable segments), and the report's
path as the run saved it (its version folder). After ``scoring`` it prints the
rows scored and rejected, the feature values filled per column and where the
scored rows are. The summary goes to standard output and to the log files.
A scoring run that fails for too many rejects saves them in a version that
is never marked complete (no summary, no ``kedro report``): its error names
that file instead.

``latest_report`` is ``kedro report``: the newest segment report that a
finished run wrote (``versioning.marks``: a killed or failed run's report is
never "latest").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, DatasetError
from kedro.pipeline import Pipeline

from customer_segmentation.engines import by_engine
from customer_segmentation.errors import UserError, cause_of_type, log_files, write_to_log_files
from customer_segmentation.figures import rate_text
from customer_segmentation.pipelines.scoring import nodes as scoring_nodes
from customer_segmentation.pipelines.scoring.kernels import TooManyRejectsError
from customer_segmentation.pipelines.segment_analysis.kernels import outcome_rates
from customer_segmentation.pipelines.segment_analysis.names import column_label
from customer_segmentation.pipelines.segment_analysis.report_sections import segment_caution
from customer_segmentation.spark import is_spark
from customer_segmentation.versioning import kedro_adapter
from customer_segmentation.versioning.marks import complete_versions

logger = logging.getLogger(__name__)

# How many scored rows had each feature filled, on the scored table's engine.
filled_counts = by_engine(
    scoring_nodes.filled_counts, "customer_segmentation.pipelines.scoring.spark_nodes.filled_counts"
)

METRICS, RECOMMENDATIONS, REPORT = (
    "model_selection_metrics",
    "segment_recommendations",
    "segment_report",
)
TARGETS, PROFILES = "target_customers", "segment_profiles"
# The deployed algorithm (``model_selection_metrics["algorithm"]["chosen"]``) in words.
ALGORITHM_NAMES = {"kmeans": "KMeans", "gaussian_mixture": "Gaussian mixture"}
SCORED, REJECTS = "scored_customers", "scoring_rejects"


class NoReportError(UserError, LookupError):
    """An environment has no segment report that a finished run wrote."""


def shown_path(path: Path, project: Path) -> str:
    """``path`` relative to the project folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(project.resolve()))
    except ValueError:
        return str(path)


def saved_path(catalog: Any, name: str) -> Path | None:
    """The file ``name`` was saved to by this run (its version folder for a
    versioned dataset), or None when the catalog has no such file dataset."""
    dataset = catalog.get(name)
    if dataset is None:
        return None
    if kedro_adapter.is_versioned(dataset):
        return kedro_adapter.versioned_path(dataset, kedro_adapter.save_version(dataset))
    filepath = dataset._describe().get("filepath")  # Kedro's description of a file dataset
    return Path(str(filepath)) if filepath else None


def _load(catalog: Any, name: str) -> Any:
    """``name`` as this run used it, or None when it cannot be read."""
    try:
        return catalog.load(name)
    except (DatasetError, KeyError, OSError) as error:
        logger.debug("Run summary without %s: %s", name, error)
        return None


def _rows(data: Any) -> int:
    return int(data.count()) if is_spark(data) else len(data)


def structure_line(metrics: Mapping[str, Any]) -> str:
    """k, the deployed algorithm and the structure verdict of
    ``model_selection_metrics``: "k = 2 segments (Gaussian mixture); clear
    structure ..."."""
    k = metrics.get("selected_k")
    chosen = (metrics.get("algorithm") or {}).get("chosen")
    algorithm = ALGORITHM_NAMES.get(chosen, chosen)
    parts = [f"k = {k} segments" + (f" ({algorithm})" if algorithm else "")]
    clear = metrics.get("clear_structure")
    if clear is not None:
        evidence = (metrics.get("structure") or {}).get("evidence")
        parts.append(
            f"clear structure ({evidence})"
            if clear and evidence
            else "clear structure"
            if clear
            else "no clear structure (the segments cut a continuum: read them as ranges)"
        )
    stable = metrics.get("selected_k_stable")
    if stable is not None:
        parts.append(
            "stable" if stable else "unstable (the segments change when customers are resampled)"
        )
    return "; ".join(parts)


def _why_not(targeting: Any) -> str:
    """A segment's ``targeting`` sentence as a few words for the summary:
    "Not exported: its action rests on no evidence in the data." reads
    "not exported: its action rests on no evidence in the data"."""
    text = str(targeting).strip().rstrip(".")
    return text[:1].lower() + text[1:]


def outcome_texts(profiles: pd.DataFrame, features: Mapping[str, Any], labels: dict) -> dict:
    """Per segment number, its rate of each ``features.outcomes`` column and
    the whole base's, for its summary line: "churn 38% (all 27%)"; empty
    without outcomes, so that a run with churn data says who churns."""
    if not features.get("outcomes"):
        return {}
    rates, base = outcome_rates(profiles, dict(features))
    return {
        int(segment): ", ".join(
            f"{column_label(column, labels)} {rate_text(rate)} (all {rate_text(base[column])})"
            for column, rate in row.items()
        )
        for segment, row in rates.iterrows()
    }


def segment_lines(
    recommendations: pd.DataFrame, outcomes: Mapping[int, str] | None = None
) -> list[str]:
    """One line per segment: name, size, share, its outcome rates
    (``outcomes``, from ``outcome_texts``), action, whether it was exported.
    When some action rests on evidence, the segments are listed in priority
    order, as they are exported, each with its priority; a
    segment that shares its action with an exported one but was not
    exported says why (its ``targeting``). Otherwise nothing is ranked and
    they are listed in segment order, without a priority."""
    columns = recommendations.columns
    ranked = (
        "evidence" in columns
        and "priority" in columns
        and bool(recommendations["evidence"].astype(bool).any())
    )
    targeted = (
        recommendations["targeted"].astype(bool)
        if "targeted" in columns
        else pd.Series(False, index=recommendations.index)
    )
    exported_actions = set(recommendations.loc[targeted, "action"])
    lines = []
    for index, row in recommendations.sort_values("priority" if ranked else "segment").iterrows():
        if targeted[index]:
            marker = " [targeted]"
        elif row["action"] in exported_actions and "targeting" in columns:
            marker = f" [{_why_not(row['targeting'])}]"
        else:
            marker = ""
        rank = f"Priority {int(row['priority'])}: " if ranked else ""
        rates = (outcomes or {}).get(int(row["segment"]))
        lines.append(
            f"  {rank}Segment {row['segment']} {row['name']!r}: {int(row['customers']):,} "
            f"customers ({float(row['share']):.1%})"
            + (f", {rates}" if rates else "")
            + f": {row['action']}{marker}"
        )
    return lines


def targets_line(
    recommendations: pd.DataFrame, targets: str | None, metrics: Mapping[str, Any] | None = None
) -> str | None:
    """How many customers were exported as targets (``targeted`` column of
    the recommendations; without it, only where the export is), with the
    report's caution when ``metrics`` find the segments unclear or unstable."""
    where = f": {targets}" if targets else ""
    if "targeted" not in recommendations.columns:
        return f"Targets: the customers of the targeted segments{where}" if targets else None
    targeted = recommendations[recommendations["targeted"].astype(bool)]
    if targeted.empty:
        return "Targets: none exported (see targeting in segment_recommendations)"
    customers = int(targeted["customers"].sum())
    share = float(targeted["share"].sum())
    numbers = sorted(targeted["segment"])
    segments = ("segment " if len(numbers) == 1 else "segments ") + ", ".join(map(str, numbers))
    caution = segment_caution(dict(metrics or {}))
    return f"Targets: {customers:,} customers ({share:.1%}) of {segments} exported{where}" + (
        f", but these segments are {caution}" if caution else ""
    )


def training_summary(
    metrics: Mapping[str, Any] | None,
    recommendations: pd.DataFrame | None,
    report: str | None,
    targets: str | None = None,
    outcomes: Mapping[int, str] | None = None,
) -> list[str]:
    """The lines of a training run's summary, from what it wrote
    (``outcomes``: each segment's outcome rates, ``outcome_texts``)."""
    lines = ["Segmentation results"]
    if metrics:
        lines.append(structure_line(metrics))
    if recommendations is not None and not is_spark(recommendations):
        lines += segment_lines(recommendations, outcomes)
        lines.append(targets_line(recommendations, targets, metrics))
    if report:
        lines.append(f"Report: {report}")
    return [line for line in lines if line]


def scoring_summary(
    scored: int,
    rejected: int,
    filled: Mapping[str, int],
    scored_at: str | None,
    rejects_at: str | None,
) -> list[str]:
    """The lines of a scoring run's summary."""
    total = scored + rejected
    lines = [
        "Scoring results",
        f"Scored {scored:,} of {total:,} customers; rejected {rejected:,}"
        + (f" (reasons: {rejects_at})" if rejected and rejects_at else ""),
    ]
    if filled:
        counts = ", ".join(f"{column} {count:,}" for column, count in filled.items())
        lines.append(
            f"Values filled from training (median, or category 'missing'): {counts} "
            "(column 'filled' of each row)"
        )
    if scored_at:
        lines.append(f"Scored customers: {scored_at}")
    return lines


def _outcomes(catalog: Any) -> dict:
    """Each segment's outcome rates as the summary shows them, read from the
    run's ``segment_profiles`` and parameters (empty when they cannot be
    read, are on Spark, or the data has no outcome)."""
    profiles, features = _load(catalog, PROFILES), _load(catalog, "params:features")
    analysis = _load(catalog, "params:segment_analysis") or {}
    if profiles is None or is_spark(profiles) or not isinstance(features, Mapping):
        return {}
    return outcome_texts(profiles, features, (analysis.get("naming") or {}).get("labels") or {})


def run_summary(pipeline: Pipeline, catalog: Any, project: Path) -> list[str]:
    """The summary lines of a finished run of ``pipeline``, read back from
    its catalog (empty when the run wrote none of the results)."""
    outputs, used = pipeline.all_outputs(), pipeline.datasets()

    def path(name: str) -> str | None:
        found = saved_path(catalog, name) if name in outputs else None
        return shown_path(found, project) if found else None

    lines = []
    if outputs & {METRICS, RECOMMENDATIONS, REPORT}:
        lines += training_summary(
            _load(catalog, METRICS) if METRICS in used else None,
            _load(catalog, RECOMMENDATIONS) if RECOMMENDATIONS in outputs else None,
            path(REPORT),
            path(TARGETS),
            _outcomes(catalog) if PROFILES in used else None,
        )
    if SCORED in outputs:
        scored, rejects = _load(catalog, SCORED), _load(catalog, REJECTS)
        if scored is not None:
            lines += scoring_summary(
                _rows(scored),
                _rows(rejects) if rejects is not None else 0,
                filled_counts(scored) if "filled" in scored.columns else {},
                path(SCORED),
                path(REJECTS),
            )
    return lines


class RunSummary:
    """Prints ``run_summary`` as the last lines of a successful run, and
    adds to a scoring run's ``TooManyRejectsError`` the file the rejects
    were saved to. One instance serves concurrent runs (``kedro server``):
    it keeps no state, everything comes from the run's own pipeline and
    catalog."""

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        """Names, in a refusal for too many rejects, the ``scoring_rejects``
        file this run saved before refusing: the node that refuses knows no
        paths, and the run's version is never marked complete, so nothing
        else (``kedro report``, Kedro-Viz) would show it."""
        refused = cause_of_type(error, TooManyRejectsError)
        if refused is None or REJECTS not in pipeline.all_outputs():
            return
        found = saved_path(catalog, REJECTS)
        if found is not None and found.exists():
            project = Path(run_params.get("project_path") or ".")
            refused.rejects_at = shown_path(found, project)

    @hook_impl
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        project = Path(run_params.get("project_path") or ".")
        lines = run_summary(pipeline, catalog, project)
        if not lines:
            return
        files = [Path(h.baseFilename) for h in log_files(logger) if h.baseFilename != os.devnull]
        lines += [f"Full log: {shown_path(path, project)}" for path in files]
        text = "\n".join(lines)
        click.echo("\n" + text)
        write_to_log_files(logger, logging.INFO, text)


def latest_report(project: Path, env: str) -> Path:
    """The newest ``segment_report`` of environment ``env`` that a finished
    run wrote (relative catalog paths are the project's); ``NoReportError``
    when there is none."""
    from kedro.framework.project import settings  # noqa: PLC0415 - the configured project's

    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / settings.CONF_SOURCE), env=env, **settings.CONFIG_LOADER_ARGS
    )
    entry = loader["catalog"].get(REPORT)
    if entry is None:
        raise NoReportError(f"environment '{env}' has no '{REPORT}' catalog entry")
    dataset = AbstractDataset.from_config(REPORT, entry)
    if not kedro_adapter.is_versioned(dataset):
        return project / str(dataset._describe().get("filepath"))
    folder = kedro_adapter.version_folder(dataset)
    versions = complete_versions(project / folder)
    if not versions:
        raise NoReportError(
            f"environment '{env}' has no complete segment report yet in "
            f"{shown_path(project / folder, project)} (a failed or killed run leaves none): "
            f"run kedro run --env {env}"
        )
    return project / kedro_adapter.versioned_path(dataset, versions[-1])
