"""Nodes of the scoring pipeline: screen a new batch of customers with the
training schema, segment every row that passes with the fitted model, and
fail the run when too much of the batch was rejected.

Every input row is accounted for: it is scored, or it is listed in the
rejects with the file's own line number and the reason. A batch whose columns
do not match the ``features`` parameter at all is a configuration error and
stops the run instead.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.errors import UserError
from customer_segmentation.features import (
    FeatureSpec,
    InvalidCustomerDataError,
    bounds_text,
    customer_schema,
    ids_as_text,
    key_column,
)
from customer_segmentation.spark import is_spark

logger = logging.getLogger(__name__)

_REASONS = ["row", "rank", "reason"]

# The column of scorable and scored rows naming the feature values the model
# filled (see ``filled_columns``).
FILLED = "filled"


class TooManyRejectsError(UserError, RuntimeError):
    """More of a scoring batch was rejected than ``max_reject_share`` allows."""


def _schema_reasons(failures: pd.DataFrame, spec: FeatureSpec) -> list[tuple]:
    """One reason per failing row and check of the training schema, with a
    rank: a missing id outranks a duplicate id, which outranks a bad value."""
    reasons = []
    for failure in failures[failures["index"].notna()].itertuples():
        check, column = str(failure.check), str(failure.column)
        if check == "not_nullable" and column == spec.id_column:
            reasons.append((failure.index, 1, f"missing {spec.id_column}"))
        elif check == "field_uniqueness":
            reasons.append((failure.index, 3, f"duplicate {spec.id_column} in this batch"))
        elif check.startswith(("coerce_dtype", "dtype")):
            text = f"column '{column}' is not a number: {failure.failure_case!r}"
            reasons.append((failure.index, 4, text))
        elif check.startswith("in_range"):
            text = (
                f"column '{column}' value {float(failure.failure_case):g} is outside its "
                f"{bounds_text(spec, column)}"
            )
            reasons.append((failure.index, 5, text))
    return reasons


def _range_reasons(
    batch: pd.DataFrame, values: pd.DataFrame, model: Pipeline, max_abs_z: float
) -> list[tuple]:
    """Values outside the training range and more than ``max_abs_z`` standard
    deviations from the training mean (a unit error, say)."""
    scaled = segmentation.scaled_numeric(model, values, clipped=False)
    ranges = segmentation.training_range(model)
    reasons = []
    for column in scaled.columns:
        low, high = ranges.get(column, (np.inf, -np.inf))
        outside = ~values[column].between(low, high) & values[column].notna()
        far = outside & ~(scaled[column].abs() <= max_abs_z)
        reasons += [
            (
                row,
                6,
                f"column '{column}' value {values.at[row, column]:,.6g} is outside the training "
                f"range (more than {max_abs_z:g} SD from the mean)",
            )
            for row in batch.index[far]
        ]
    return reasons


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
    range. A row's first reason in that order is reported."""
    spec = FeatureSpec.parse(features)
    check_batch_columns(list(customers_to_score.columns), spec)
    if is_spark(customers_to_score):
        from . import spark_nodes  # noqa: PLC0415

        return spark_nodes.screen_customers_to_score(
            customers_to_score, segmentation_model, spec, scoring
        )
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
    _log_screening(batch, scorable, rejects, segmentation_model, spec)
    return scorable, rejects


def check_batch_columns(columns: list[str], spec: FeatureSpec) -> None:
    """A batch without the id or a feature column is a configuration error
    (with ``id_column: null`` the rows are numbered, so only features count)."""
    id_column = [] if spec.numbered_rows else [spec.id_column]  # numbered rows: no id column
    missing = [c for c in [*id_column, *spec.model_columns] if c not in columns]
    if missing:
        raise InvalidCustomerDataError(
            f"customers_to_score lacks the columns {missing} that the features parameter "
            "names; every batch must have the id and feature columns the model was trained on"
            f" (it has {columns[:8]})"
        )


def filled_columns(features: pd.DataFrame) -> pd.Series:
    """Per row, the feature columns without a value, comma-separated (empty
    when none): the model scores such a row with the training median of a
    numeric column and the "missing" category of a categorical one, so the
    scored row says which of its values were filled rather than read."""
    columns = np.array(features.columns, dtype=object)
    return pd.Series(
        [", ".join(columns[missing]) for missing in features.isna().to_numpy()],
        index=features.index,
        dtype="string",
    )


def screen_rows(
    customers_to_score: pd.DataFrame,
    segmentation_model: Pipeline,
    spec: FeatureSpec,
    scoring: dict,
    repeated: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The checks of ``screen_customers_to_score`` on a batch of rows (the
    whole batch on one machine, each Arrow batch on Spark): the batch's id
    and feature columns (ids as text), its numeric columns as numbers, and
    the first reason of every rejected row (by row position); the batch's
    ``filled`` column names each row's features without a value. ``repeated``
    marks rows whose id occurs elsewhere in the whole batch (Spark finds
    those across batches)."""
    batch = ids_as_text(customers_to_score.reset_index(drop=True), spec)
    id_column = spec.id_column
    blank = customers_to_score.isna().all(axis=1).to_numpy()
    batch = batch[list(dict.fromkeys([id_column, *spec.model_columns]))]
    values = batch[list(spec.numeric)].apply(pd.to_numeric, errors="coerce")
    infinite = pd.DataFrame(np.isinf(values.to_numpy(float)), batch.index, values.columns)
    finite = values.mask(infinite)
    batch = batch.assign(**{FILLED: filled_columns(finite.join(batch[list(spec.categorical)]))})
    if batch.empty:
        return batch, values, pd.Series(dtype="string")
    reasons = [(row, 0, "blank line") for row in batch.index[blank]]
    if repeated is not None:
        reasons += [
            (row, 3, f"duplicate {id_column} in this batch") for row in batch.index[repeated]
        ]
    try:
        customer_schema(spec).validate(batch, lazy=True)
    except SchemaErrors as errors:
        reasons += _schema_reasons(errors.failure_cases, spec)
    ids = batch[id_column]
    if pattern := scoring.get("id_pattern"):
        malformed = ids.notna() & ~ids.astype(str).str.fullmatch(pattern).fillna(False)
        reason = f"unknown id format: expected ids matching {pattern!r}"
        reasons += [(row, 2, reason) for row in batch.index[malformed]]
    empty = values.isna().all(axis=1) & batch[list(spec.categorical)].isna().all(axis=1)
    reasons += [(row, 5, "no feature values") for row in batch.index[empty]]
    for column in values.columns[infinite.any()]:
        reasons += [
            (row, 4, f"column '{column}' is not a finite number: {values.at[row, column]:g}")
            for row in batch.index[infinite[column]]
        ]
    reasons += _range_reasons(batch, finite, segmentation_model, scoring["max_abs_z"])
    first = (
        pd.DataFrame(reasons, columns=_REASONS)
        .astype({"row": "int64"})
        .sort_values(["row", "rank"], kind="stable")
        .drop_duplicates("row")
        .set_index("row")["reason"]
    )
    return batch, values, first


# What a reason says without the row's value: its kind.
_REASON_VALUE = r": .*$| value .*$"


def _reason_counts(rejects: pd.DataFrame) -> pd.Series:
    """How many rows each kind of reason rejected, most first."""
    if is_spark(rejects):
        from pyspark.sql import functions as F  # noqa: PLC0415

        kinds = rejects.groupBy(F.regexp_replace("reason", _REASON_VALUE, "").alias("kind"))
        counts = kinds.count().toPandas()
        return counts.set_index("kind")["count"].sort_values(ascending=False, kind="stable")
    return rejects["reason"].str.replace(_REASON_VALUE, "", regex=True).value_counts()


def _log_screening(batch, scorable, rejects, model: Pipeline, spec: FeatureSpec) -> None:
    """One summary line: rejects by reason, and values of categorical
    features the model never saw in training (scored as "other")."""
    known = segmentation.fitted_categories(model)
    unseen = {}
    for column in spec.categorical:
        values = segmentation.category_text(scorable[column]).fillna(segmentation.MISSING)
        count = int((~values.isin(known.get(column, []))).sum())
        if count:
            unseen[column] = count
    reasons = _reason_counts(rejects)
    logger.info(
        "Screened %d customers to score: %d scorable, %d rejected %s; unseen categories %s",
        len(batch),
        len(scorable),
        len(rejects),
        reasons.to_dict(),
        unseen or "none",
    )


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
    fingerprint = segmentation.fingerprint(segmentation_model)
    made_with = set(segment_profiles["model_fingerprint"])
    if made_with != {fingerprint}:
        raise ValueError(
            "segment_profiles was made with another segmentation_model (fingerprint "
            f"{sorted(made_with)} against {fingerprint}): pin both to the same run, for "
            "example --load-versions segmentation_model:<version>,segment_profiles:<version>"
        )
    version = segmentation_model_version or "unversioned"
    names = segment_profiles.set_index("segment")["name"]
    if is_spark(scorable_customers):
        from . import spark_nodes  # noqa: PLC0415

        return spark_nodes.score_customers(
            scorable_customers, segmentation_model, names, version, id_column
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
    if is_spark(scored_customers):
        from pyspark.sql import functions as F  # noqa: PLC0415

        columns = F.explode(F.split(F.col(FILLED), ", ")).alias("column")
        rows = scored_customers.where(F.col(FILLED) != "").select(columns).groupBy("column")
        counts = rows.count().toPandas().set_index("column")["count"]
    else:
        named = scored_customers[FILLED].dropna()
        counts = named[named != ""].str.split(", ").explode().value_counts()
    counts = counts.sort_values(ascending=False, kind="stable")
    return {str(column): int(count) for column, count in counts.items()}


def score_rows(
    scorable_customers: pd.DataFrame,
    segmentation_model: Pipeline,
    names: pd.Series,
    version: str,
    id_column: str,
) -> pd.DataFrame:
    """Each screened row's id, segment, segment name, model version and the
    feature columns the model filled (the whole batch on one machine, each
    Arrow batch on Spark)."""
    segments = (
        segmentation_model.predict(scorable_customers)
        if len(scorable_customers)
        else np.empty(0, dtype="int64")
    )
    scored = pd.DataFrame(
        {
            id_column: scorable_customers[id_column].to_numpy(),
            "segment": segments.astype("int64"),
        }
    )
    scored["segment_name"] = scored["segment"].map(names)
    scored["model_version"] = version
    scored[FILLED] = scorable_customers[FILLED].to_numpy()
    return scored


def check_reject_share(
    scored_customers: pd.DataFrame, scoring_rejects: pd.DataFrame, max_reject_share: float
) -> None:
    """Fails the run, once scored_customers and scoring_rejects are written,
    when more than ``max_reject_share`` of the batch was rejected: a nightly
    job must not stay green while scoring nobody."""
    rejected = scoring_rejects.count() if is_spark(scoring_rejects) else len(scoring_rejects)
    scored = scored_customers.count() if is_spark(scored_customers) else len(scored_customers)
    total = scored + rejected
    share = rejected / total if total else 0.0
    if share > max_reject_share:
        reasons = _reason_counts(scoring_rejects)
        raise TooManyRejectsError(
            f"Scoring rejected {rejected} of {total} customers ({share:.0%}, more "
            f"than scoring.max_reject_share {max_reject_share:.0%}): "
            + ", ".join(f"{count} {reason}" for reason, count in reasons.head(4).items())
            + "; see scoring_rejects"
        )
