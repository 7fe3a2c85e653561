"""What both engines of the scoring pipeline share: the checks of a batch's
columns, the screening and scoring of a batch of rows (the whole batch on
one machine, each Arrow batch on Spark), the names the scored segments
take, and the reject-share limit. A leaf module: it imports neither engine.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from typing import Any

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
    number_text,
)

_REASONS = ["row", "rank", "reason"]


# The column of scorable and scored rows naming the feature values the model
# filled (see ``filled_columns``).
FILLED = "filled"


class TooManyRejectsError(UserError, RuntimeError):
    """More of a scoring batch was rejected than ``max_reject_share`` allows.

    The message ends with where the rejects are: ``rejects_at``, the file a
    run saved them to (the node that raises this knows no paths, so a run's
    hook, ``run_summary.RunSummary``, fills it in), or, from the Python API,
    ``result``, whose ``rejects`` hold them (no file is written)."""

    rejects_at: str | None = None
    # The Python API's ScoringResult of the batch (its rejects included).
    result: Any = None

    def __str__(self) -> str:
        if self.rejects_at:
            where = f"see scoring_rejects in {self.rejects_at}"
        elif self.result is not None:
            where = "see the rejects in this error's result.rejects"
        else:
            where = "see scoring_rejects"
        return f"{super().__str__()}; {where}"


def not_a_number(column: str, value: object) -> str:
    """The reason of a row whose ``column`` holds text instead of a number."""
    return f"column '{column}' is not a number: {str(value)!r}"


def not_finite(column: str, value: float) -> str:
    """The reason of a row whose ``column`` holds an infinite number."""
    return f"column '{column}' is not a finite number: {number_text(value)}"


def outside_bounds(column: str, value: float, spec: FeatureSpec) -> str:
    """The reason of a row whose ``column`` is outside its ``features.bounds``."""
    return (
        f"column '{column}' value {number_text(value)} is outside its {bounds_text(spec, column)}"
    )


def outside_training_range(column: str, value: float, max_abs_z: float) -> str:
    """The reason of a row whose ``column`` is far outside the training range."""
    return (
        f"column '{column}' value {number_text(value)} is outside the training range "
        f"(more than {number_text(max_abs_z)} SD from the mean)"
    )


# A number as ``number_text`` writes it and a value as Python quotes text
# (``repr``): what ``reason_kind`` takes out of a reason.
_NUMBER = r"(?:-?\d+(?:\.\d+)?(?:e[+-]\d+)?|-?inf|nan)"
_QUOTED = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
# Each reason that quotes its row's value, and its kind (the groups kept).
# The whole reason must match, so a column name with quotes, colons or
# spaces stays whole: the value is only ever the part its template puts there.
_KINDS = [
    (re.compile(rf"(?s)(column '.*?' is not a number): {_QUOTED}"), r"\1"),
    (re.compile(rf"(?s)(column '.*?' is not a finite number): {_NUMBER}"), r"\1"),
    (
        re.compile(
            rf"(?s)(column '.*?') value {_NUMBER} "
            r"(is outside (?:its bounds \[[^\]]*\]|the training range \([^)]*\)))"
        ),
        r"\1 \2",
    ),
]


def reason_kind(reason: str) -> str:
    """A reject's reason without its row's own value: the kind of reason
    that summaries count ("column 'age' is not a number" for "column 'age'
    is not a number: 'n/a'"). A reason that quotes no value (a missing id,
    whatever the id column is called) is its own kind."""
    for pattern, kind in _KINDS:
        if match := pattern.fullmatch(reason):
            return match.expand(kind)
    return reason


def reason_counts(reasons: pd.Series) -> pd.Series:
    """How many rows each kind of reason (``reason_kind``) rejected, in
    ``most_first`` order."""
    kinds = {reason: reason_kind(reason) for reason in reasons.dropna().unique()}
    return most_first(reasons.map(kinds).value_counts())


def most_first(counts: pd.Series) -> pd.Series:
    """``counts`` (by kind or value) most first, equal counts in the order of
    their text: the same order on both engines (a Spark table has no row order)."""
    order = sorted(range(len(counts)), key=lambda i: (-counts.iloc[i], str(counts.index[i])))
    return counts.iloc[order]


# How many kinds of reason a summary of rejects names; the rest it counts, so
# a refusal stays a few lines however many ways a batch is broken.
SHOWN_KINDS = 5


def reasons_text(counts: pd.Series) -> str:
    """``reason_counts`` in words, the ``SHOWN_KINDS`` most common kinds
    named and any others counted, never left out: "12 missing Unnamed: 0,
    3 column 'age' is not a number, ... and 2 more kinds of reason in 4 rows"."""
    shown = ", ".join(f"{count} {kind}" for kind, count in counts.head(SHOWN_KINDS).items())
    rest = counts.iloc[SHOWN_KINDS:]
    if rest.empty:
        return shown
    kinds, rows = len(rest), int(rest.sum())
    return (
        f"{shown} and {kinds} more {'kind' if kinds == 1 else 'kinds'} of reason in "
        f"{rows} {'row' if rows == 1 else 'rows'}"
    )


def _schema_reasons(failures: pd.DataFrame, values: pd.DataFrame, spec: FeatureSpec) -> list[tuple]:
    """One reason per failing row and check of the training schema, with a
    rank: a missing id outranks a duplicate id, which outranks a value
    outside its bounds. The schema sees the numbers as read (``values``), so
    text in a numeric column is never its failure; a reason quotes the
    number as read, not the schema's copy of it (a float)."""
    reasons = []
    for failure in failures[failures["index"].notna()].itertuples():
        check, column = str(failure.check), str(failure.column)
        if check == "not_nullable" and column == spec.id_column:
            reasons.append((failure.index, 1, f"missing {spec.id_column}"))
        elif check == "field_uniqueness":
            reasons.append((failure.index, 3, f"duplicate {spec.id_column} in this batch"))
        elif check.startswith("in_range"):
            text = outside_bounds(column, values.at[int(failure.index), column], spec)
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
            (row, 6, outside_training_range(column, values.at[row, column], max_abs_z))
            for row in batch.index[far]
        ]
    return reasons


def batch_spec(columns: list[str], segmentation_model: Pipeline, features: dict) -> FeatureSpec:
    """What both engines check before screening a batch: a model of this
    release, and a batch with the id and every feature column; returns the
    parsed ``features``."""
    segmentation.require_current(segmentation_model)
    spec = FeatureSpec.parse(features)
    check_batch_columns(columns, spec)
    return spec


# The columns a batch has that a missing-column error names (the rest counted).
SHOWN_COLUMNS = 20


def check_batch_columns(columns: list[str], spec: FeatureSpec) -> None:
    """A batch without the id or a feature column is a configuration error
    (with ``id_column: null`` the rows are numbered, so only features count)."""
    id_column = [] if spec.numbered_rows else [spec.id_column]  # numbered rows: no id column
    missing = [c for c in [*id_column, *spec.model_columns] if c not in columns]
    if missing:
        shown = ", ".join(repr(c) for c in columns[:SHOWN_COLUMNS])
        more = f" and {len(columns) - SHOWN_COLUMNS} more" if len(columns) > SHOWN_COLUMNS else ""
        raise InvalidCustomerDataError(
            f"customers_to_score lacks the columns {missing} that the features parameter "
            "names; every batch must have the id and feature columns the model was trained on"
            f" (it has {len(columns)} columns: {shown}{more})"
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


def _spells_nan(value: object) -> bool:
    """Whether ``value`` is a spelling of NaN ("nan", "NaN"): a missing value."""
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _text_cells(numbers: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """The cells of the numeric columns ``numbers`` that hold text, not a
    number: present, yet missing once read as numbers (``values``), and no
    spelling of NaN. Judged cell by cell, so text in one row never keeps
    another row's value from its checks."""
    text = numbers.notna() & values.isna()
    for column in text.columns[text.any()]:
        nan_spellings = [v for v in numbers.loc[text[column], column].unique() if _spells_nan(v)]
        text[column] &= ~numbers[column].isin(nan_spellings)
    return text


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
    categorical columns as the model reads them (``model.category_text``:
    text without surrounding spaces, a value of only spaces missing) and its
    ``filled`` column naming each row's features without a value.
    ``repeated`` marks rows whose id occurs elsewhere in the whole batch
    (Spark finds those across batches)."""
    batch = ids_as_text(customers_to_score.reset_index(drop=True), spec)
    id_column = spec.id_column
    blank = customers_to_score.isna().all(axis=1).to_numpy()
    batch = batch[list(dict.fromkeys([id_column, *spec.model_columns]))]
    batch = batch.assign(**{c: segmentation.category_text(batch[c]) for c in spec.categorical})
    numbers = batch[list(spec.numeric)]
    values = numbers.apply(pd.to_numeric, errors="coerce")
    text = _text_cells(numbers, values)
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
    for column in values.columns[text.any()]:
        reasons += [
            (row, 4, not_a_number(column, numbers.at[row, column]))
            for row in batch.index[text[column]]
        ]
    try:
        # The schema checks the numbers as read, text as missing: each row's
        # value is held to its bounds whatever other rows of its column hold.
        customer_schema(spec).validate(
            batch.assign(**{column: values[column] for column in values.columns}), lazy=True
        )
    except SchemaErrors as errors:
        reasons += _schema_reasons(errors.failure_cases, values, spec)
    ids = batch[id_column]
    if pattern := scoring["id_pattern"]:
        malformed = ids.notna() & ~ids.astype(str).str.fullmatch(pattern).fillna(False)
        reason = f"unknown id format: expected ids matching {pattern!r}"
        reasons += [(row, 2, reason) for row in batch.index[malformed]]
    empty = values.isna().all(axis=1) & batch[list(spec.categorical)].isna().all(axis=1)
    reasons += [(row, 5, "no feature values") for row in batch.index[empty]]
    for column in values.columns[infinite.any()]:
        reasons += [
            (row, 4, not_finite(column, values.at[row, column]))
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


def score_rows(
    scorable_customers: pd.DataFrame,
    segmentation_model: Pipeline,
    names: pd.Series,
    version: str,
    id_column: str,
) -> pd.DataFrame:
    """Each screened row's id, segment, confidence (its membership
    probability of that segment, ``model.assign``), segment name, model
    version and the feature columns the model filled (the whole batch on one
    machine, each Arrow batch on Spark)."""
    segments, confidence = (
        segmentation.assign(segmentation_model, scorable_customers)
        if len(scorable_customers)
        else (np.empty(0, dtype="int64"), np.empty(0, dtype="float64"))
    )
    scored = pd.DataFrame(
        {
            id_column: scorable_customers[id_column].to_numpy(),
            "segment": segments.astype("int64"),
            "confidence": confidence.astype("float64"),
        }
    )
    scored["segment_name"] = scored["segment"].map(names)
    scored["model_version"] = version
    scored[FILLED] = scorable_customers[FILLED].to_numpy()
    return scored


# A categorical column whose values outside the model's categories are more
# than this share of the scorable rows is warned about. Values rarer in
# training than ``preprocessing.min_category_share`` (1%) are "other" there
# too, so a batch's sprinkling of rare values adds up to a few percent at
# most; beyond 5% (the default ``scoring.max_reject_share`` too) it is most
# likely a new spelling, case or code of a known category, scored off its mark.
OUTSIDE_CATEGORIES_WARNING_SHARE = 0.05
# ... and at least this many rows: a batch of a few customers (a web service
# scoring one at a time through the API) would otherwise warn at every rare
# value; the summary line counts them all the same.
OUTSIDE_CATEGORIES_WARNING_ROWS = 10
# How many of a column's values outside the model's categories a warning quotes.
OUTSIDE_EXAMPLES = 3


def outside_categories(
    scorable: pd.DataFrame, known: dict[str, list[str]]
) -> dict[str, tuple[int, list[str]]]:
    """Per categorical column (``known``: the model's categories,
    ``model.fitted_categories``), how many ``scorable`` rows (screened by
    ``screen_rows``: categories as the model reads them) hold a value not
    among them, and the most common such values (``most_first``), a missing
    value as "missing". The model scores such a value as "other" (a pinned
    column: as none of its categories). It keeps no list of the values it
    saw rarely in training, so these are values absent from training and
    values rarer there than ``preprocessing.min_category_share`` alike."""
    found = {}
    for column, categories in known.items():
        values = scorable[column].fillna(segmentation.MISSING)
        counts = values[~values.isin(categories)].value_counts()
        if len(counts):
            examples = most_first(counts).index[:OUTSIDE_EXAMPLES]
            found[column] = (int(counts.sum()), [str(value) for value in examples])
    return found


def _share(count: int, total: int) -> str:
    """``count`` of ``total`` as a percent: one decimal under 10%, so that a
    share just over a 5% threshold does not read as 5%."""
    share = count / total
    return f"{share:.1%}" if share < 0.1 else f"{share:.0%}"


def screening_messages(
    rows: int,
    scorable: int,
    counts: pd.Series,
    outside: dict[str, tuple[int, list[str]]],
    spec: FeatureSpec,
) -> list[tuple[int, str]]:
    """The log records (level, message) of a screened batch, the same on
    both engines: one summary line (rejects by kind of reason,
    ``reason_counts``; rows per column with values not among the model's
    categories, ``outside_categories``), and one warning naming each column
    whose such rows are more than ``OUTSIDE_CATEGORIES_WARNING_SHARE`` of
    the scorable rows and at least ``OUTSIDE_CATEGORIES_WARNING_ROWS``, with
    a few of their values and how they are scored."""
    rejected = rows - scorable
    reasons = f" ({reasons_text(counts)})" if rejected else ""
    shown = {column: count for column, (count, _) in outside.items()} or "none"
    messages = [
        (
            logging.INFO,
            f"Screened {rows} customers to score: {scorable} scorable, {rejected} rejected"
            f"{reasons}; rows with values not among the model's categories: {shown}",
        )
    ]
    many = [
        f"column '{column}' in {count} of {scorable} scorable rows ({_share(count, scorable)}, "
        f"for example {', '.join(map(repr, examples))}), scored as "
        + ("none of its pinned categories" if column in spec.pinned else '"other"')
        for column, (count, examples) in outside.items()
        if count > OUTSIDE_CATEGORIES_WARNING_SHARE * scorable
        and count >= OUTSIDE_CATEGORIES_WARNING_ROWS
    ]
    if many:
        messages.append(
            (
                logging.WARNING,
                "Values not among the model's categories: "
                + "; ".join(many)
                + ". The model knows the categories that at least "
                "preprocessing.min_category_share of its training rows held, or those "
                "pinned in features.categories: fix the batch if these values write a known "
                "category anew (case, spelling, a code), retrain if they are new",
            )
        )
    return messages


def segment_names_and_version(
    segmentation_model: Pipeline, segmentation_model_version: str | None, segments: pd.DataFrame
) -> tuple[pd.Series, str]:
    """The name of each segment (by number) from the segment profiles made
    with the same model (checked by model fingerprint), and the model's
    catalog version ("unversioned" without one)."""
    fingerprint = segmentation.fingerprint(segmentation_model)
    made_with = set(segments["model_fingerprint"])
    if made_with != {fingerprint}:
        raise ValueError(
            "segment_profiles was made with another segmentation_model (fingerprint "
            f"{sorted(made_with)} against {fingerprint}): pin both to the same run, for "
            "example --load-versions segmentation_model:<version>,segment_profiles:<version>"
        )
    version = segmentation_model_version or "unversioned"
    return segments.set_index("segment")["name"], version


def check_reject_share(
    scored: int, rejected: int, max_reject_share: float, count_reasons: Callable[[], pd.Series]
) -> None:
    """Raises ``TooManyRejectsError`` when more than ``max_reject_share`` of
    the ``scored + rejected`` rows were rejected, naming the most common
    kinds of reason and counting the others (``reasons_text`` of
    ``count_reasons``, as ``reason_counts`` gives them, asked only then)."""
    total = scored + rejected
    share = rejected / total if total else 0.0
    if share > max_reject_share:
        raise TooManyRejectsError(
            f"Scoring rejected {rejected} of {total} customers ({share:.0%}, more "
            f"than scoring.max_reject_share {max_reject_share:.0%}): "
            f"{reasons_text(count_reasons())}"
        )
