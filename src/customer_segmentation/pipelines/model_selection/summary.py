"""The model_selection metrics: the encoding choices of the fitted
preprocessor, and every result of the choice of k collected in one
JSON-ready record for the report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_segmentation.model import SegmentPreprocessor


def describe_preprocessing(preprocessor: SegmentPreprocessor) -> dict:
    """The encoding choices of the fitted preprocessor behind the scores
    (``SegmentPreprocessor.describe``): each numeric feature's transform and
    skewness, the customers clipped on each (in the training rows, with the
    bound in original units), the categorical weighting and the variance the
    optional PCA keeps."""
    return preprocessor.describe()


def summarise_model_selection(  # noqa: PLR0913 - one input per result it collects
    cluster_count_scores: pd.DataFrame,
    k_per_criterion: dict[str, int | None],
    k_choice: dict,
    structure: dict,
    feature_separation: dict,
    preprocessing_summary: dict,
    algorithm_comparison: pd.DataFrame,
    segment_stability: dict[int, float | None],
    algorithm_choice: dict,
) -> dict:
    """Collects the chosen k and the rule that actually chose it, what each
    criterion alone would choose, whether the data has clear structure, what
    separates the segments, how well each segment holds up on resampled
    customers, the encoding choices (transforms, clipped outliers) and every
    score per k."""
    return {
        "selected_k": k_choice["selected_k"],
        "criterion": k_choice["criterion"],
        "k_choice": k_choice,
        "clear_structure": structure["clear_structure"],
        "structure": structure,
        "choice_per_criterion": k_per_criterion,
        "criteria_agree": len(set(k_per_criterion.values()) - {None}) == 1,
        "selected_k_stable": k_choice["stable"],
        "segment_stability": segment_stability,
        "algorithm": algorithm_choice,
        "feature_separation": feature_separation,
        "preprocessing": preprocessing_summary,
        "algorithm_comparison": algorithm_comparison.replace({np.nan: None}).to_dict(
            orient="records"
        ),
        "scores": cluster_count_scores.to_dict(orient="records"),
    }
