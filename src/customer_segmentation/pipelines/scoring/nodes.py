"""Scoring a new batch of customers with a fitted segmentation model.

Every input row is accounted for: it is scored, or it is listed in the
rejects with the reason. A batch whose columns do not match the ``features``
parameter at all is a configuration error and stops the run instead.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from ..preprocessing.nodes import InvalidCustomerDataError
from ..segment_analysis.nodes import model_fingerprint

logger = logging.getLogger(__name__)


def _column_transformer(segmentation_model: Pipeline) -> ColumnTransformer:
    preprocessor = segmentation_model.named_steps["preprocessor"]
    return (
        preprocessor.named_steps["columns"] if isinstance(preprocessor, Pipeline) else preprocessor
    )


def _scaled_numeric(model: Pipeline, numeric: pd.DataFrame) -> pd.DataFrame:
    """The numeric columns as the model scales them (after imputation and any
    log transform): distances from the training mean in standard deviations."""
    columns = _column_transformer(model)
    scaled = []
    for name in ("numeric", "log_numeric"):
        if name in columns.named_transformers_:
            selected = columns.named_transformers_[name]
            names = list(
                columns.transformers_[[t[0] for t in columns.transformers_].index(name)][2]
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                values = selected.transform(numeric[names])
            scaled.append(
                pd.DataFrame(np.asarray(values, float), columns=names, index=numeric.index)
            )
    return pd.concat(scaled, axis=1)


def screen_customers_to_score(
    customers_to_score: pd.DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    scoring: dict,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits the batch into rows that can be scored (numeric columns made
    numbers) and rejected rows, each with its row number (0-based, after the
    header), id and reason: a missing, duplicate or malformed id, text in a
    numeric column, a value more than ``max_abs_z`` standard deviations from
    the training mean, or no feature value at all."""
    id_column, numeric = features["id_column"], list(features["numeric"])
    categorical = list(features.get("categorical") or {})
    missing = [c for c in [id_column, *numeric, *categorical] if c not in customers_to_score]
    if missing:
        raise InvalidCustomerDataError(
            f"customers_to_score lacks the columns {missing} that the features parameter "
            "names; every batch must have the id and feature columns the model was trained on"
        )
    batch = customers_to_score.reset_index(drop=True)
    if batch.empty:
        logger.warning("customers_to_score is empty: nothing to score")
        return batch, pd.DataFrame(columns=["row", id_column, "reason"])
    reasons = pd.Series("", index=batch.index, dtype=object)

    def reject(mask: pd.Series, reason) -> None:
        fresh = mask & (reasons == "")
        reasons[fresh] = reason if isinstance(reason, str) else reason[fresh]

    ids = batch[id_column]
    reject(ids.isna(), "missing customer id")
    pattern = scoring.get("id_pattern")
    if pattern:
        malformed = ids.notna() & ~ids.astype(str).str.fullmatch(pattern)
        reject(malformed, f"unknown id format: expected ids matching {pattern!r}")
    duplicated = ids.notna() & ids.duplicated(keep=False)
    reject(duplicated, "duplicate customer id in this batch")

    values = batch[numeric].apply(pd.to_numeric, errors="coerce")
    for column in numeric:
        text = batch[column].notna() & values[column].isna()
        reject(
            text, "column '" + column + "' is not a number: " + batch[column].astype(str).map(repr)
        )
    reject(values.isna().all(axis=1) & batch[categorical].isna().all(axis=1), "no feature values")

    scaled = _scaled_numeric(segmentation_model, values)
    limit = scoring["max_abs_z"]
    for column in scaled.columns:
        far = ~(scaled[column].abs() <= limit) & values[column].notna()
        reject(
            far,
            "column '"
            + column
            + "' value "
            + values[column].map("{:,.6g}".format)
            + f" is outside the training range (more than {limit} SD from the mean)",
        )

    rejected = reasons != ""
    scorable = batch.loc[~rejected].copy()
    scorable[numeric] = values.loc[~rejected]
    rejects = pd.DataFrame(
        {"row": batch.index[rejected], id_column: ids[rejected], "reason": reasons[rejected]}
    ).reset_index(drop=True)
    if len(rejects):
        logger.warning(
            "Rejected %d of %d customers to score: %s",
            len(rejects),
            len(batch),
            rejects["reason"]
            .str.replace(r"'[^']*'$|: .*$", "", regex=True)
            .value_counts()
            .to_dict(),
        )
    return scorable, rejects


def score_customers(
    scorable_customers: pd.DataFrame,
    segmentation_model: Pipeline,
    segment_profiles: pd.DataFrame,
    features: dict,
) -> pd.DataFrame:
    """Assigns each screened customer a segment with the model, and names it
    from the segment profiles made with the same model (checked by model
    fingerprint). ``model_version`` is the catalog version of the model that
    was loaded (the latest, or the one pinned with ``--load-versions``)."""
    fingerprint = model_fingerprint(segmentation_model)
    if "model_fingerprint" not in segment_profiles:
        raise ValueError(
            "segment_profiles has no model_fingerprint column (it was made by an older "
            "version of the project): run `kedro run --pipelines segment_analysis` first"
        )
    made_with = set(segment_profiles["model_fingerprint"])
    if made_with != {fingerprint}:
        raise ValueError(
            "segment_profiles was made with another segmentation_model (fingerprint "
            f"{sorted(made_with)} against {fingerprint}): pin both to the same run, for "
            "example --load-versions segmentation_model:<version>,segment_profiles:<version>"
        )
    version = getattr(segmentation_model, "kedro_version_", None) or "unversioned"
    segments = (
        segmentation_model.predict(scorable_customers)
        if len(scorable_customers)
        else np.empty(0, dtype="int64")
    )
    names = segment_profiles.set_index("segment")["name"]
    scored = pd.DataFrame(
        {
            features["id_column"]: scorable_customers[features["id_column"]].to_numpy(),
            "segment": segments.astype("int64"),
        }
    )
    scored["segment_name"] = scored["segment"].map(names)
    scored["model_version"] = version
    logger.info("Scored %d customers with segmentation_model %s", len(scored), version)
    return scored
