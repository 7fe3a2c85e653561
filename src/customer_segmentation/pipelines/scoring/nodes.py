"""Nodes of the scoring pipeline: screen a new batch of customers with the
training schema, then segment every row that passes with the fitted model.

Every input row is accounted for: it is scored, or it is listed in the
rejects with the reason. A batch whose columns do not match the ``features``
parameter at all is a configuration error and stops the run instead.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import (
    FeatureSpec,
    InvalidCustomerDataError,
    customer_schema,
)

logger = logging.getLogger(__name__)


def _schema_reasons(failures: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """One reason per failing row and check of the training schema, with a
    rank: a missing id outranks a duplicate id, which outranks a text value."""
    rows = failures[failures["index"].notna()]
    reasons = []
    for failure in rows.itertuples():
        check, column = str(failure.check), str(failure.column)
        if check == "not_nullable" and column == spec.id_column:
            reasons.append((failure.index, 0, "missing customer id"))
        elif check == "field_uniqueness":
            reasons.append((failure.index, 2, "duplicate customer id in this batch"))
        elif check.startswith(("coerce_dtype", "dtype")):
            text = f"column '{column}' is not a number: {failure.failure_case!r}"
            reasons.append((failure.index, 3, text))
    return pd.DataFrame(reasons, columns=["row", "rank", "reason"])


def screen_customers_to_score(
    customers_to_score: pd.DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    scoring: dict,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits the batch into rows that can be scored (numeric columns made
    numbers) and rejected rows, each with its row number (0-based, after the
    header), id and reason. The rows are checked with the training schema of
    ``customer_segmentation.features`` (missing or duplicate id, text in a
    numeric column), then for a malformed id (``id_pattern``), no feature
    value at all, or a value more than ``max_abs_z`` standard deviations from
    the training mean. A row's first reason in that order is reported."""
    spec = FeatureSpec.parse(features)
    id_column = spec.id_column
    missing = [c for c in [id_column, *spec.model_columns] if c not in customers_to_score]
    if missing:
        raise InvalidCustomerDataError(
            f"customers_to_score lacks the columns {missing} that the features parameter "
            "names; every batch must have the id and feature columns the model was trained on"
        )
    batch = customers_to_score[list(dict.fromkeys([id_column, *spec.model_columns]))]
    batch = batch.reset_index(drop=True)
    if batch.empty:
        logger.warning("customers_to_score is empty: nothing to score")
        return batch, pd.DataFrame(columns=["row", id_column, "reason"])
    schema = customer_schema(spec)
    try:
        schema.validate(batch, lazy=True)
        found = pd.DataFrame(columns=["row", "rank", "reason"])
    except SchemaErrors as errors:
        found = _schema_reasons(errors.failure_cases, spec)

    ids = batch[id_column]
    extra = []
    if pattern := scoring.get("id_pattern"):
        malformed = ids.notna() & ~ids.astype(str).str.fullmatch(pattern)
        reason = f"unknown id format: expected ids matching {pattern!r}"
        extra += [(row, 1, reason) for row in batch.index[malformed]]
    values = batch[list(spec.numeric)].apply(pd.to_numeric, errors="coerce")
    empty = values.isna().all(axis=1) & batch[spec.categorical].isna().all(axis=1)
    extra += [(row, 4, "no feature values") for row in batch.index[empty]]
    limit = scoring["max_abs_z"]
    scaled = segmentation.scaled_numeric(segmentation_model, values)
    for column in scaled.columns:
        far = ~(scaled[column].abs() <= limit) & values[column].notna()
        extra += [
            (
                row,
                5,
                f"column '{column}' value {values.at[row, column]:,.6g} is outside the "
                f"training range (more than {limit} SD from the mean)",
            )
            for row in batch.index[far]
        ]
    reasons = (
        pd.concat([found, pd.DataFrame(extra, columns=["row", "rank", "reason"])])
        .astype({"row": "int64"})
        .sort_values(["row", "rank"], kind="stable")
        .drop_duplicates("row")
        .set_index("row")["reason"]
    )
    rejected = batch.index.isin(reasons.index)
    scorable = batch.loc[~rejected].copy()
    scorable[list(spec.numeric)] = values.loc[~rejected]
    rejects = pd.DataFrame(
        {"row": batch.index[rejected], id_column: ids[rejected], "reason": reasons.to_numpy()}
    ).reset_index(drop=True)
    if len(rejects):
        logger.warning(
            "Rejected %d of %d customers to score: %s",
            len(rejects),
            len(batch),
            rejects["reason"]
            .str.replace(r": .*$| value .*$", "", regex=True)
            .value_counts()
            .to_dict(),
        )
    return scorable, rejects


def score_customers(
    scorable_customers: pd.DataFrame,
    segmentation_model: Pipeline,
    segmentation_model_version: str | None,
    segment_profiles: pd.DataFrame,
    id_column: str,
) -> pd.DataFrame:
    """Assigns each screened customer a segment with the model, and names it
    from the segment profiles made with the same model (checked by model
    fingerprint). ``model_version`` is the catalog version of the model that
    was used (the latest complete one, or the one pinned with
    ``--load-versions``)."""
    fingerprint = segmentation.fingerprint(segmentation_model)
    made_with = set(segment_profiles["model_fingerprint"])
    if made_with != {fingerprint}:
        raise ValueError(
            "segment_profiles was made with another segmentation_model (fingerprint "
            f"{sorted(made_with)} against {fingerprint}): pin both to the same run, for "
            "example --load-versions segmentation_model:<version>,segment_profiles:<version>"
        )
    version = segmentation_model_version or "unversioned"
    segments = (
        segmentation_model.predict(scorable_customers)
        if len(scorable_customers)
        else np.empty(0, dtype="int64")
    )
    names = segment_profiles.set_index("segment")["name"]
    scored = pd.DataFrame(
        {id_column: scorable_customers[id_column].to_numpy(), "segment": segments.astype("int64")}
    )
    scored["segment_name"] = scored["segment"].map(names)
    scored["model_version"] = version
    logger.info("Scored %d customers with segmentation_model %s", len(scored), version)
    return scored
