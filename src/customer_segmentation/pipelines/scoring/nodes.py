"""The scoring nodes on one machine (pandas): screen a new batch of customers with the
training schema, segment every row that passes with the fitted model, and
fail the run when too much of the batch was rejected.

Every input row is accounted for: it is scored, or it is listed in the
rejects with the file's own line number and the reason. A batch whose columns
do not match the ``features`` parameter at all is a configuration error and
stops the run instead.
"""

from __future__ import annotations

import logging

import pandas as pd
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.features import key_column

from . import kernels
from .kernels import (
    FILLED,
    batch_spec,
    outside_categories,
    reason_counts,
    score_rows,
    screen_rows,
    screening_messages,
    segment_names_and_version,
)

logger = logging.getLogger(__name__)


def screen_customers_to_score(
    customers_to_score: pd.DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    scoring: dict,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits the batch into rows that can be scored (ids as text, numeric
    columns made numbers) and rejected rows, each with its line in the source
    (``first_line`` is the line of the first data row), id and reason: a blank
    line; a missing or duplicate id, text in a numeric column or a value
    outside ``features.bounds`` (the training schema); an id not matching
    ``id_pattern``; no feature value at all; a value far outside the training
    range. A row's first reason in that order is reported. Logs the
    screening (``kernels.screening_messages``): a summary line, and a warning
    when many rows of a categorical column hold values the model does not
    know (scored as "other")."""
    spec = batch_spec(list(customers_to_score.columns), segmentation_model, features)
    id_column = spec.id_column
    batch, values, first = screen_rows(customers_to_score, segmentation_model, spec, scoring)
    if batch.empty:
        logger.warning("customers_to_score is empty: nothing to score")
        return batch, pd.DataFrame(columns=["line", id_column, "reason"])
    rejected = batch.index.isin(first.index)
    scorable = batch.loc[~rejected].copy()
    scorable[list(spec.numeric)] = values.loc[~rejected]
    rejects = pd.DataFrame(
        {
            "line": batch.index[rejected] + scoring["first_line"],
            id_column: batch[id_column][rejected].to_numpy(),
            "reason": first.reindex(batch.index[rejected]).to_numpy(),
        }
    )
    outside = outside_categories(scorable, segmentation.fitted_categories(segmentation_model))
    counts = reason_counts(rejects["reason"])
    for level, message in screening_messages(len(batch), len(scorable), counts, outside, spec):
        logger.log(level, message)
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
    id_column = key_column(id_column)
    names, version = segment_names_and_version(
        segmentation_model, segmentation_model_version, segment_profiles
    )
    scored = score_rows(scorable_customers, segmentation_model, names, version, id_column)
    logger.info(
        "Scored %d customers with segmentation_model %s; values filled %s",
        len(scored),
        version,
        filled_counts(scored) or "none",
    )
    return scored


def filled_counts(scored_customers: pd.DataFrame) -> dict[str, int]:
    """How many scored rows had each feature column filled, most first."""
    named = scored_customers[FILLED].dropna()
    counts = named[named != ""].str.split(", ").explode().value_counts()
    counts = counts.sort_values(ascending=False, kind="stable")
    return {str(column): int(count) for column, count in counts.items()}


def check_reject_share(
    scored_customers: pd.DataFrame, scoring_rejects: pd.DataFrame, max_reject_share: float
) -> None:
    """Fails the run, once scored_customers and scoring_rejects are written,
    when more than ``max_reject_share`` of the batch was rejected: a nightly
    job must not stay green while scoring nobody."""
    kernels.check_reject_share(
        len(scored_customers),
        len(scoring_rejects),
        max_reject_share,
        lambda: reason_counts(scoring_rejects["reason"]),
    )
