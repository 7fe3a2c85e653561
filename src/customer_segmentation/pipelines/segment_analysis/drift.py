"""Drift: how this run's segmentation moved since the previous version, so a
scheduled retrain that silently reshuffles the segments is noticed."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec

logger = logging.getLogger(__name__)

OUTDATED_PREVIOUS_MODEL = "previous model cannot be compared: saved by an older release"
FEATURES_CHANGED = "not comparable: the previous run clustered on other features"


class DriftError(RuntimeError):
    """The segmentation moved more than the drift thresholds allow."""


def _population_stability(new: np.ndarray, old: np.ndarray) -> float:
    """Population stability index of two share vectors (0: identical; above
    0.25 is usually read as a major shift)."""
    new, old = np.clip(new, 1e-4, None), np.clip(old, 1e-4, None)
    return float(np.sum((new - old) * np.log(new / old)))


def _previous_features(model: Pipeline, profiles: pd.DataFrame, spec: FeatureSpec) -> list[str]:
    """The features the previous model clustered on: its preprocessor's
    numeric and categorical columns. A model of an older release, whose
    preprocessor cannot be read, says only what its profiles describe: the
    current features found there (a numeric one under its own name, a
    categorical one as ``column=value`` shares), plus what it was fitted on
    when it kept the names."""
    if segmentation.is_current(model):
        fitted = segmentation.preprocessor(model)
        return [*fitted.numeric, *fitted.categorical]
    if hasattr(model, "feature_names_in_"):
        return [str(c) for c in model.feature_names_in_]
    return [
        c
        for c in spec.model_columns
        if c in profiles or any(str(name).startswith(f"{c}=") for name in profiles.columns)
    ]


def feature_change(
    previous_model: Pipeline, previous_profiles: pd.DataFrame, features: dict
) -> dict[str, list[str]]:
    """The features clustered on now and not in the previous run
    (``added``), and the other way round (``removed``); both empty when the
    two runs clustered on the same columns. Segments made from other columns
    are other segments: their shares and centres are not drift."""
    spec = FeatureSpec.parse(features)
    before = _previous_features(previous_model, previous_profiles, spec)
    return {
        "added": [c for c in spec.model_columns if c not in before],
        "removed": [c for c in before if c not in spec.model_columns],
    }


def measure_drift(  # noqa: PLR0913 - each input is one thing it compares or reports
    segmented_customers: pd.DataFrame,
    segment_profiles: pd.DataFrame,
    previous_segmentation_model: Pipeline | None,
    previous_segment_profiles: pd.DataFrame | None,
    segmentation_model_version: str | None,
    previous_segmentation_model_version: str | None,
    previous_segment_profiles_version: str | None,
    features: dict,
    drift: dict,
) -> dict:
    """Compares this run's segmentation with the previous version: segments
    are matched by their profiles (means in standard deviations of the current
    customers); then the shift of segment shares (population stability index),
    the movement of each segment centre in original units, and the agreement
    (adjusted Rand index) of the old and new model on the current customers
    (a seeded sample of at most ``ari_sample_size`` of them).
    Beyond the thresholds it warns, and with ``fail_on_drift`` it fails the run
    so that a scheduler can alert.

    When the previous run clustered on other features (``feature_change``),
    the measures are still written but nothing is compared against the
    thresholds: ``comparable`` is false, ``features_added`` and
    ``features_removed`` say what changed, and the report says so instead of
    calling the segments stable (a new feature set is a new segmentation, not
    drift, so it never fails the run either)."""
    if previous_segmentation_model is None or previous_segment_profiles is None:
        logger.info("No previous segmentation to compare with: first run")
        return {"previous_version": None, "drifted": False}
    customers = segmented_customers
    changed = feature_change(previous_segmentation_model, previous_segment_profiles, features)
    comparable = not (changed["added"] or changed["removed"])
    numeric = [c for c in FeatureSpec.parse(features).numeric if c in previous_segment_profiles]
    spread = customers[numeric].std(ddof=0).replace(0, 1.0)
    new = segment_profiles.set_index("segment")
    old = previous_segment_profiles.set_index("segment")
    cost = np.linalg.norm(
        (new[numeric].to_numpy()[:, None, :] - old[numeric].to_numpy()[None, :, :])
        / spread.to_numpy(),
        axis=2,
    )
    rows, columns = linear_sum_assignment(cost)
    matches = {int(new.index[r]): int(old.index[c]) for r, c in zip(rows, columns)}
    new_shares = new["share"].to_numpy()
    old_shares = np.array(
        [old.loc[matches[s], "share"] if s in matches else 0.0 for s in new.index]
    )
    psi = _population_stability(new_shares, old_shares)
    segments = []
    for segment, previous in matches.items():
        shift = new.loc[segment, numeric] - old.loc[previous, numeric]
        segments.append(
            {
                "segment": segment,
                "previous_segment": previous,
                "share": float(new.loc[segment, "share"]),
                "previous_share": float(old.loc[previous, "share"]),
                "centre_shift": {c: round(float(v), 4) for c, v in shift.items()},
                "centre_shift_sd": float((shift.abs() / spread).max()),
            }
        )
    max_shift = max((s["centre_shift_sd"] for s in segments), default=0.0)
    sample = customers
    if len(sample) > drift["ari_sample_size"]:
        sample = customers.sample(drift["ari_sample_size"], random_state=0)
    # A model saved by an older release is not compared: no ARI, and no breach for it.
    outdated = not segmentation.is_current(previous_segmentation_model)
    ari = None
    if outdated:
        logger.warning("The %s", OUTDATED_PREVIOUS_MODEL)
    else:
        try:
            ari = float(
                adjusted_rand_score(previous_segmentation_model.predict(sample), sample["segment"])
            )
        except (KeyError, ValueError) as error:  # the feature columns changed
            logger.warning("The previous model cannot score the current customers: %s", error)
    breaches = []
    if not comparable:
        logger.warning(
            "Drift %s (added: %s; removed: %s)",
            FEATURES_CHANGED,
            ", ".join(changed["added"]) or "none",
            ", ".join(changed["removed"]) or "none",
        )
    elif psi > drift["max_psi"]:
        breaches.append(f"segment shares shifted (PSI {psi:.3f} > {drift['max_psi']})")
    if comparable and not outdated and (ari is None or ari < drift["min_ari"]):
        breaches.append(f"old and new models disagree (ARI {ari} < {drift['min_ari']})")
    if comparable and max_shift > drift["max_centre_shift_sd"]:
        breaches.append(
            f"a segment centre moved {max_shift:.2f} SD (> {drift['max_centre_shift_sd']})"
        )
    report = {
        "previous_version": previous_segment_profiles_version,
        "model_version": segmentation_model_version,
        "previous_model_version": previous_segmentation_model_version,
        "segments_before": len(old),
        "segments_now": len(new),
        "comparable": comparable,
        "comparability_note": None if comparable else FEATURES_CHANGED,
        "features_added": changed["added"],
        "features_removed": changed["removed"],
        "psi": psi,
        "ari": ari,
        "ari_note": OUTDATED_PREVIOUS_MODEL if outdated else None,
        "max_centre_shift_sd": max_shift,
        "thresholds": {k: drift[k] for k in ("max_psi", "min_ari", "max_centre_shift_sd")},
        "drifted": bool(breaches),
        "breaches": breaches,
        "segments": segments,
    }
    if breaches:
        message = "Segmentation drift since the previous version: " + "; ".join(breaches)
        if drift["fail_on_drift"]:
            raise DriftError(message)
        logger.warning(message)
    return report
