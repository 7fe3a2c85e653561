"""What a training run records in MLflow: parameters, metrics and artifact
files, read from the run's own parameters and outputs.

Pure functions over what the run saved, so what is recorded is tested
without a tracking server; ``customer_segmentation.tracking.hook`` sends it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

# Parameter blocks recorded whole (flattened, ``block.key``): the choices
# that shape the segments. Data generation is recorded only for the
# synthetic data (its block is in every run's parameters).
PARAMETER_BLOCKS = ("model_selection", "preprocessing")
# The features contract, recorded key by key: which columns are clustered,
# profiled, read as outcomes, and the role each value column plays.
FEATURE_KEYS = ("id_column", "numeric", "categorical", "profile_only", "outcomes", "roles")
# MLflow refuses a parameter value longer than this (mlflow.utils.validation).
MAX_PARAMETER_LENGTH = 6000

# The outputs recorded as artifacts, with their folder in the MLflow run:
# the model, the report, its plots and the small tables. Customer-level
# outputs (segments, targets, scores) stay in the catalog: they are large
# and hold personal data.
ARTIFACTS = {
    "segmentation_model": "model",
    "segment_report": "report",
    "segment_profiles": "tables",
    "segment_recommendations": "tables",
    "algorithm_comparison": "tables",
    "model_selection_metrics": "tables",
    "drift_report": "tables",
    "segment_rules": "rules",
    "segment_rules_sql": "rules",
}
PLOT_SUFFIX = "_plot"
# Per-k criteria of ``model_selection_metrics.scores`` recorded at the
# selected k, and over k as a metric history (step = k).
CRITERIA = (
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "stability_mean",
    "gmm_bic",
    "inertia",
    "smallest_share",
)


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from _flat(f"{prefix}.{key}", inner)
    else:
        yield prefix, value


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        text = ",".join(str(item) for item in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    if len(text) > MAX_PARAMETER_LENGTH:
        return text[: MAX_PARAMETER_LENGTH - 3] + "..."
    return text


def run_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    """The settings of a run, flattened to MLflow parameters: the
    model-selection and preprocessing blocks key by key, the features
    contract, and the number of customers generated when the run made
    synthetic data."""
    recorded: dict[str, Any] = {}
    for block in PARAMETER_BLOCKS:
        recorded.update(_flat(block, parameters.get(block) or {}))
    features = parameters.get("features") or {}
    for key in FEATURE_KEYS:
        if key in features:
            recorded[f"features.{key}"] = features[key]
    return {key: _text(value) for key, value in recorded.items()}


def result_parameters(selection: Mapping[str, Any]) -> dict[str, str]:
    """What model selection chose, as parameters (so runs can be filtered
    and compared by them): the selected k, the rule that chose it and the
    deployed algorithm with the reason."""
    algorithm = selection.get("algorithm") or {}
    chosen = {
        "selected_k": selection.get("selected_k"),
        "k_rule": (selection.get("k_choice") or {}).get("rule"),
        "algorithm": algorithm.get("chosen"),
        "algorithm_reason": algorithm.get("reason"),
    }
    return {key: _text(value) for key, value in chosen.items() if value is not None}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def run_metrics(selection: Mapping[str, Any], drift: Mapping[str, Any] | None) -> dict[str, float]:
    """The run's metrics: each criterion at the selected k, the stability of
    the split and of each segment, the structure check's verdict and
    figures, and the drift against the previous run (when there was one)."""
    metrics: dict[str, Any] = {"selected_k": selection.get("selected_k")}
    selected = next(
        (
            row
            for row in selection.get("scores") or []
            if row.get("k") == selection.get("selected_k")
        ),
        {},
    )
    metrics.update({criterion: selected.get(criterion) for criterion in CRITERIA})
    structure = selection.get("structure") or {}
    metrics["clear_structure"] = selection.get("clear_structure")
    for key in (
        "silhouette",
        "shuffled_silhouette",
        "gaussian_silhouette",
        "normal_scores_silhouette",
        "copula_silhouette",
        "dip_p_value",
    ):
        metrics[f"structure.{key}"] = structure.get(key)
    metrics["selected_k_stable"] = selection.get("selected_k_stable")
    metrics["criteria_agree"] = selection.get("criteria_agree")
    stability = selection.get("segment_stability") or {}
    for segment, value in stability.items():
        metrics[f"segment_stability.{segment}"] = value
    values = [v for v in stability.values() if _number(v) is not None]
    if values:
        metrics["segment_stability.min"] = min(values)
    if drift and drift.get("previous_version"):
        metrics["drift.drifted"] = drift.get("drifted")
        for key in ("psi", "ari", "max_centre_shift_sd"):
            metrics[f"drift.{key}"] = drift.get(key)
    return {key: number for key, value in metrics.items() if (number := _number(value)) is not None}


def k_scores(selection: Mapping[str, Any]) -> list[tuple[str, float, int]]:
    """Every criterion at every k tried, as metric histories
    (``k_scores.<criterion>`` with step = k): MLflow draws them as the
    curves the criteria plot shows."""
    history = []
    for row in selection.get("scores") or []:
        for criterion in CRITERIA:
            if (number := _number(row.get(criterion))) is not None:
                history.append((f"k_scores.{criterion}", number, int(row["k"])))
    return history


def run_tags(selection: Mapping[str, Any], drift: Mapping[str, Any] | None) -> dict[str, str]:
    """Words that belong beside the figures: the structure verdict's
    evidence, why the algorithm was chosen, and the version drift compared
    against."""
    tags = {
        "structure": (selection.get("structure") or {}).get("evidence"),
        "algorithm_rule": (selection.get("algorithm") or {}).get("rule"),
        "drift.previous_version": (drift or {}).get("previous_version"),
    }
    return {key: str(value) for key, value in tags.items() if value}


def artifact_folder(name: str) -> str | None:
    """The MLflow folder of the output ``name`` when it is recorded, else None."""
    if name.endswith(PLOT_SUFFIX):
        return "plots"
    return ARTIFACTS.get(name)
