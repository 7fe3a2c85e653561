"""The segment_analysis nodes on one machine (pandas) that read every
customer: join every customer to the segment the fit gave it, profile the
segments and export the customers to target. Names are in ``names.py``,
actions and priorities in ``recommendations.py`` (they read the profiles,
whichever engine made them), the choice of targets in ``targets.py``,
pictures in ``plots.py``, drift against the previous run in ``drift.py``
and the HTML report in ``report.py``."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec, key_column

from .kernels import assemble_profiles
from .targets import confident, target_columns, targeted_segments

logger = logging.getLogger(__name__)


def segment_customers(
    validated_customers: pd.DataFrame, customer_segments: pd.DataFrame, id_column: str
) -> pd.DataFrame:
    """The validated customers with their ``segment`` and ``confidence``
    (the membership probability of that segment) columns: the one table
    that profiles, pictures, drift and the report read. Every customer must
    have a segment (the model and the customers come from the same run's
    lineage)."""
    id_column = key_column(id_column)
    ids = validated_customers[id_column].reset_index(drop=True)
    if ids.equals(customer_segments[id_column].reset_index(drop=True)):
        # The usual case: both in the order of the validated table, so the
        # join by id is a column assignment.
        return validated_customers.assign(
            segment=customer_segments["segment"].to_numpy("int64"),
            confidence=customer_segments["confidence"].to_numpy("float64"),
        )
    segmented = validated_customers.merge(
        customer_segments[[id_column, "segment", "confidence"]],
        on=id_column,
        how="left",
        validate="one_to_one",
    )
    unassigned = segmented["segment"].isna()
    if unassigned.any():
        raise ValueError(
            f"{int(unassigned.sum())} customers have no segment in customer_segments "
            f"(first {id_column}: {segmented.loc[unassigned, id_column].iloc[0]}); "
            "validated_customers and customer_segments come from different runs"
        )
    return segmented.astype({"segment": "int64"})


def sample_segmented_customers(
    segmented_customers: pd.DataFrame, sample_size: int, id_column: str, random_seed: int
) -> pd.DataFrame:
    """At most ``sample_size`` segmented customers (all of them below; beyond,
    a seeded random sample) for the pictures, drift and the report: what they
    show costs the same at ten thousand customers as at ten million, on one
    machine or on Spark. Counts and profiles always come from every customer."""
    if len(segmented_customers) <= sample_size:
        return segmented_customers
    return segmented_customers.sample(sample_size, random_state=random_seed)


def _category_counts(segments: np.ndarray, values: pd.Series) -> pd.DataFrame:
    """Customers of each segment (a row, in segment order) in each category
    of ``values`` (a column, in order of first appearance), read as the model
    reads them (``category_text``: " Male" is "Male", a code 1.0 is "1";
    missing and blank values as "missing"). Counted with one ``bincount``,
    as a crosstab of a million text values is slow: the values are factorized
    as they are, and only their few distinct ones read (the same set of
    values, so the same whole-number rule as for the column)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    read = segmentation.category_text(pd.Series(uniques)).fillna(segmentation.MISSING)
    # Each distinct value's category, a missing value's ("missing") last.
    category, labels = pd.factorize(pd.Series([*read, segmentation.MISSING]))
    codes = category[np.where(codes < 0, len(uniques), codes)]
    k = int(segments.max()) + 1
    counts = np.bincount(segments * len(labels) + codes, minlength=k * len(labels))
    counts = pd.DataFrame(counts.reshape(k, len(labels)), columns=labels)
    return counts.loc[:, counts.sum() > 0]


def profile_segments(
    segmented_customers: pd.DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    naming: dict,
    model_selection_metrics: dict | None = None,
) -> pd.DataFrame:
    """Describes each segment: its name, size and share of customers, its
    ``stability`` on resampled customers (``model_selection_metrics``'s
    ``segment_stability``; NaN when not measured); the mean
    (under the column's own name) and median of every numeric feature and
    profile-only column in original units, and its z-score (``_z``: the
    difference of the segment's mean from the whole customer base's, in
    standard deviations). A feature's z-score is measured on the scale the
    clustering used (after its log or power transform and clipping), so a
    segment with six times the median spend reads as far from the base even
    when a few giants inflate the raw spread; profile-only columns use their
    original units. Then the mix of every categorical column (share of the
    segment in each category; profile-only columns keep their
    ``max_categories`` most common values, the rest is "other"), and the
    fingerprint of the model that made the segments."""
    spec = FeatureSpec.parse(features)
    statistics = segment_statistics(segmented_customers, segmentation_model, spec)
    stability = (model_selection_metrics or {}).get("segment_stability")
    return assemble_profiles(*statistics, segmentation_model, spec, features, naming, stability)


def segment_statistics(
    segmented: pd.DataFrame, segmentation_model: Pipeline, spec: FeatureSpec
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """What profiles are made of, per segment (the index): customers; mean
    and median of every described numeric column; its z-score on the
    clustering's scale (``profile_segments``); the customers in each value
    of every described categorical column (``_category_counts``)."""
    numeric, categorical = spec.described_numeric, spec.described_categorical
    grouped = segmented.groupby("segment")
    customers = grouped.size()
    means = grouped[numeric].mean()
    medians = grouped[numeric].median()
    features_scaled = segmentation.scaled_numeric(segmentation_model, segmented[list(spec.numeric)])
    scale = segmented[numeric].assign(**{c: features_scaled[c] for c in spec.numeric})
    spread = scale.std(ddof=0).replace(0, float("nan"))
    z_scores = ((scale.groupby(segmented["segment"]).mean() - scale.mean()) / spread).fillna(0.0)
    counts = {
        column: _category_counts(segmented["segment"].to_numpy(), segmented[column])
        for column in categorical
    }
    return customers, means, medians, z_scores, counts


def select_target_customers(
    customer_segments: pd.DataFrame,
    segment_recommendations: pd.DataFrame,
    id_column: str,
    min_confidence: float = 0.0,
) -> pd.DataFrame:
    """The customers of the segments ``recommend_actions`` marked
    ``targeted`` whose confidence in their segment reaches
    ``min_confidence``, one row each, ready for a CRM upload (empty, with its
    columns, when no segment is worth a campaign)."""
    id_column = key_column(id_column)
    chosen, details = targeted_segments(segment_recommendations)
    targets = customer_segments[customer_segments["segment"].isin(chosen)]
    targets = targets[confident(targets["confidence"], min_confidence).to_numpy()]
    targets = targets.join(details, on="segment").rename(columns={"name": "segment_name"})
    logger.info("target_customers: %d customers", len(targets))
    return targets[target_columns(id_column)].reset_index(drop=True)
