"""The ``features`` contract: which columns are what, and the table schema.

The ``features`` parameter names the id column, the numeric and categorical
features the model clusters on, optional pinned categories and value bounds,
and the profile-only columns that segments are described by but never
clustered on. ``Features`` is its pydantic model, the one list of its keys
(checked with every parameter, ``customer_segmentation.parameters``), and
``FeatureSpec.parse`` its one parse: the forms every pipeline reads;
``customer_schema`` is the pandera schema it implies, used both to validate
the training table (errors stop the run) and to screen a scoring batch
(failing rows become rejects).

Ids are text end to end: ``0001`` stays ``0001``. With ``id_column: null``
the rows are numbered instead (``ROW_NUMBER``, 1 for the first data row).
Category values are read one way everywhere, ``category_text``: " Male" is
"Male", a value of only spaces is missing, a code 1.0 is "1".

An infinite number in a numeric feature or profile column (``inf`` as a
float, or a text such as ``"-inf"``, ``"Infinity"`` or ``"1e999"``: what a
division by zero in an export leaves) is a value that was not measured, not a
very large one: ``validate_customer_table`` treats it as missing, like an
empty cell, before the bounds are checked, and logs one warning per column
with its count and first lines. The run goes on; the model imputes it.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from customer_segmentation.errors import UserError

logger = logging.getLogger(__name__)

_EXAMPLE_ROWS = 3
ROW_NUMBER = "row_number"
# Roles a numeric column may play (``features.roles``). Customer value and the
# default recommendation rules read roles, never column names: monetary and
# frequency make a segment valuable; recency counts days since the last
# purchase, so lower is better; tenure is time as a customer; demographic
# columns describe customers but never make a segment valuable.
ROLES = ("monetary", "frequency", "recency", "tenure", "demographic")
VALUE_ROLES = ("monetary", "frequency")
# The features the customer_features pipeline can derive from a transaction
# log (customer_features.compute picks them; definitions in the README).
TRANSACTION_FEATURES = (
    "recency_days",
    "frequency",
    "monetary_total",
    "average_order_value",
    "tenure_days",
    "mean_days_between_orders",
    "orders_per_week",
    "return_share",
    "category_shares",
    "top_category",
    "top_channel",
)
# A feature whose most common value covers this share of rows cannot separate segments.
NEAR_CONSTANT_SHARE = 0.99
# Where the fewest customer rows training accepts is set, for messages.
MIN_ROWS_KEY = "preprocessing.min_rows, by default model_selection.k_max: as many as the most segments compared"
_SEPARATORS = {";": "';'", "\t": "'\\t' (tab)", "|": "'|'"}


class InvalidFeaturesError(UserError, ValueError):
    """A ``features`` parameter that does not fit ``Features`` (names every bad key)."""


class InvalidCustomerDataError(UserError, ValueError):
    """A customer table does not match the ``features`` parameter."""


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileOnly(_Block):
    """``features.profile_only``: columns profiled per segment, never clustered on."""

    numeric: list[str] = Field(
        default=[], description="Numeric columns profiled per segment, never clustered on."
    )
    categorical: list[str] = Field(
        default=[], description="Text columns profiled per segment, never clustered on."
    )


class Outcome(_Block):
    """One ``features.outcomes`` entry: what the column records and the value
    that means it happened."""

    kind: Literal["churn", "response"] = Field(
        description="churn: an outcome to prevent; response: an outcome to repeat."
    )
    positive: bool | int | float | str = Field(
        description="The value that means it happened: 1 for a 0/1 column, the text for a text one."
    )


class Features(_Block):
    """The ``features`` parameter: which columns of the customer table are what.

    Its one parsed form for the pipelines is ``FeatureSpec``."""

    id_column: str | None = Field(
        description="Unique customer id, read as text; null: rows are numbered (row_number)."
    )
    numeric: list[str] = Field(
        min_length=1, description="Numeric features clustered on (missing values imputed)."
    )
    categorical: list[str] = Field(
        default=[], description="Categorical features clustered on (one-hot encoded)."
    )
    categories: dict[str, list[Any]] = Field(
        default={},
        description="Pinned categories, {column: [values]}: exactly these one-hot columns.",
    )
    bounds: dict[str, tuple[float | None, float | None]] = Field(
        default={},
        description="{column: [min, max]} (null: open): values outside are errors or rejects.",
    )
    profile_only: ProfileOnly = Field(
        default=ProfileOnly(), description="Columns profiled per segment, never clustered on."
    )
    roles: dict[Literal[ROLES], list[str]] = Field(
        default={},
        description="What numeric columns mean, {role: [columns]}: monetary, frequency, "
        "recency, tenure, demographic.",
    )
    outcomes: dict[str, Outcome] = Field(
        default={},
        description="Outcomes among the profile-only columns, {column: {kind, positive}}.",
    )

    @model_validator(mode="after")
    def _known_columns(self) -> Features:
        for column in self.categories:
            if column not in self.categorical:
                raise ValueError(f"categories names '{column}', which is not in categorical")
        numeric = {*self.numeric, *self.profile_only.numeric}
        for column, (low, high) in self.bounds.items():
            if column not in numeric:
                raise ValueError(f"bounds names '{column}', which is not a numeric column")
            if low is not None and high is not None and low > high:
                raise ValueError(f"bounds of '{column}': {low} is above {high}")
        seen: dict[str, str] = {}
        for role, columns in self.roles.items():
            for column in columns:
                if column not in numeric:
                    raise ValueError(
                        f"roles.{role} names '{column}', which is not a numeric feature or "
                        "profile-only numeric column (environments merge with conf/base role "
                        f"by role: set {role}: [] to clear the base's list)"
                    )
                if column in seen:
                    raise ValueError(f"'{column}' has two roles: {seen[column]} and {role}")
                seen[column] = role
        profiled = {*self.profile_only.numeric, *self.profile_only.categorical}
        for column in self.outcomes:
            if column not in profiled:
                raise ValueError(
                    f"outcomes names '{column}', which is not a profile-only column: list it "
                    "under profile_only.numeric (a 0/1 number) or profile_only.categorical "
                    "(text), so that it is profiled but never clustered on"
                )
        return self


@dataclass(frozen=True)
class FeatureSpec:
    """The validated ``features`` parameter (``Features``) in the forms the
    pipelines read it: the key column, feature tuples, open bounds as
    infinities, roles by column, outcomes as (kind, positive value). Built
    only by ``FeatureSpec.parse``; every form is derived from ``features``,
    so the parameter's keys are listed once, in ``Features``."""

    features: Features

    @classmethod
    def parse(cls, features: dict[str, Any] | Features) -> FeatureSpec:
        """The spec of a ``features`` parameter, validated by ``Features``."""
        if isinstance(features, Features):
            return cls(features)
        try:
            return cls(Features.model_validate(features))
        except ValidationError as error:
            problems = [
                f"'features.{'.'.join(map(str, item['loc']))}': {item['msg']}"
                if item["loc"]
                else f"'features': {item['msg']}"
                for item in error.errors()
            ]
            raise InvalidFeaturesError(
                "Invalid features parameter:\n  - " + "\n  - ".join(problems)
            ) from None

    @cached_property
    def id_column(self) -> str:
        """The id column of validated tables (``row_number`` when ``id_column`` is null)."""
        return key_column(self.features.id_column)

    @cached_property
    def numbered_rows(self) -> bool:
        """Whether the rows are numbered because the data has no id column."""
        return self.features.id_column is None

    @cached_property
    def numeric(self) -> tuple[str, ...]:
        return tuple(self.features.numeric)

    @cached_property
    def categorical(self) -> tuple[str, ...]:
        return tuple(self.features.categorical)

    @cached_property
    def pinned(self) -> dict[str, tuple[str, ...]]:
        """``features.categories``: the pinned categories of each column as
        the model reads them (``pinned_text``: " Male" pins "Male", 2.0 pins
        "2"), each once, a blank one left out, as the encoder pins them."""
        return {
            column: tuple(pinned_text(values).dropna().unique())
            for column, values in self.features.categories.items()
        }

    @cached_property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """``features.bounds`` with open ends as infinities."""
        return {
            column: (
                -math.inf if low is None else float(low),
                math.inf if high is None else float(high),
            )
            for column, (low, high) in self.features.bounds.items()
        }

    @cached_property
    def profile_numeric(self) -> tuple[str, ...]:
        return tuple(self.features.profile_only.numeric)

    @cached_property
    def profile_categorical(self) -> tuple[str, ...]:
        return tuple(self.features.profile_only.categorical)

    @cached_property
    def roles(self) -> dict[str, str]:
        """The role of each column that has one."""
        return {column: role for role, columns in self.features.roles.items() for column in columns}

    @cached_property
    def outcomes(self) -> dict[str, tuple[str, Any]]:
        """``features.outcomes``: column -> (kind, positive value), kind ``churn``
        (an outcome to prevent) or ``response`` (an outcome to repeat)."""
        return {
            column: (outcome.kind, outcome.positive)
            for column, outcome in self.features.outcomes.items()
        }

    @property
    def model_columns(self) -> list[str]:
        """The columns the model reads: numeric then categorical features."""
        return [*self.numeric, *self.categorical]

    @property
    def described_numeric(self) -> list[str]:
        """Numeric columns profiled per segment: features, then profile-only."""
        return list(dict.fromkeys([*self.numeric, *self.profile_numeric]))

    @property
    def described_categorical(self) -> list[str]:
        """Categorical columns profiled per segment: features, then profile-only."""
        return list(dict.fromkeys([*self.categorical, *self.profile_categorical]))

    @property
    def used_columns(self) -> list[str]:
        """Every column the pipelines read, id first."""
        return list(
            dict.fromkeys(
                [
                    self.id_column,
                    *self.model_columns,
                    *self.profile_numeric,
                    *self.profile_categorical,
                ]
            )
        )

    def with_role(self, role: str) -> list[str]:
        """The described numeric columns that play ``role``."""
        return [c for c in self.described_numeric if self.roles.get(c) == role]


def key_column(id_column: str | None) -> str:
    """The name of the id column of validated tables: ``features.id_column``,
    or ``row_number`` when it is null."""
    return id_column or ROW_NUMBER


def ids_as_text(table: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The table with its id column as text (or numbered rows with
    ``id_column: null``). Ids a reader parsed as numbers are turned back
    into text, without a trailing ``.0``; leading zeros lost by that reader
    cannot come back, which is why the catalog reads ids as text."""
    if spec.numbered_rows:
        numbered = table.copy()
        numbered.insert(0, ROW_NUMBER, pd.array(np.arange(1, len(table) + 1).astype(str)))
        return numbered
    if spec.id_column not in table.columns:
        return table
    ids = table[spec.id_column]
    if pd.api.types.is_float_dtype(ids) and (ids.dropna() % 1 == 0).all():
        ids = ids.astype("Int64")
    if pd.api.types.is_string_dtype(ids) and not pd.api.types.is_object_dtype(ids):
        return table
    return table.assign(**{spec.id_column: ids.astype("string")})


def category_text(values: pd.Series) -> pd.Series:
    """A categorical column as text: the one way the model's encoder, the
    profiles, the rules and the checks of pinned categories read a category,
    in training and scoring alike. Whole numbers without ".0" (a column of
    codes with a gap reads as floats), text without surrounding white space
    (" Male" is "Male": files pad values, and one batch may pad where
    another does not), missing values and values of only white space as
    <NA>. It lives with the ``features`` contract, which reads ids as text
    too (``ids_as_text``), so that this module's checks can use it."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        present = values.dropna()
        if (present % 1 == 0).all():
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _not_entirely_null(series: pd.Series) -> bool:
    return bool(series.notna().any())


def _not_constant(series: pd.Series) -> bool:
    """Not one value in ``NEAR_CONSTANT_SHARE`` of the rows (counted on a
    seeded sample of 100,000 rows of larger tables)."""
    if len(series) > 100_000:
        # numpy's Generator draws 100,000 of n rows in O(100,000); pandas'
        # sample shuffles all n for every column.
        rows = np.random.default_rng(0).choice(len(series), 100_000, replace=False)
        series = series.iloc[np.sort(rows)]
    counts = series.value_counts(dropna=True)
    return counts.empty or counts.iloc[0] < NEAR_CONSTANT_SHARE * counts.sum()


# The largest magnitude a numeric feature may have in training: beyond it
# the model's arithmetic fails (squares overflow, the rules' tree reads in
# float32) with an error that names nothing; no customer quantity is that
# large, so such a value is a corrupted cell or a unit mistake.
MAX_MAGNITUDE = 1e15


def _computable(values: pd.Series) -> pd.Series:
    return values.isna() | (values.abs() <= MAX_MAGNITUDE)


def too_large(column: str, values: str, count: int, rows: str) -> str:
    """The problem of a feature column with numbers beyond ``MAX_MAGNITUDE``
    (``values``: a few of them as shown; ``rows``: where), on both engines."""
    return (
        f"column '{column}': {values} larger than {MAX_MAGNITUDE:.0e} in magnitude in "
        f"{_count(count, 'row')}: {rows}; no customer quantity is that large (a corrupted "
        "value, or a unit mistake?): fix the source or make the column profile-only"
    )


def customer_schema(spec: FeatureSpec, min_rows: int | None = None) -> pa.DataFrameSchema:
    """The pandera schema of a customer table: a unique, non-missing id;
    numeric feature and profile columns that coerce to numbers, inside their
    ``bounds``; every feature column present. With ``min_rows`` (training),
    the table needs that many rows and no feature column may be entirely
    empty, constant or near-constant, nor hold a number beyond
    ``MAX_MAGNITUDE``."""
    training = min_rows is not None
    table_checks = (
        [
            pa.Check(_not_entirely_null, name="not_entirely_null"),
            pa.Check(_not_constant, name="not_constant"),
        ]
        if training
        else []
    )

    def bounded(column: str, checks: list) -> list:
        if column not in spec.bounds:
            return list(checks)
        low, high = spec.bounds[column]
        return [*checks, pa.Check.in_range(low, high)]

    columns = {
        spec.id_column: pa.Column(
            nullable=False, unique=True, checks=table_checks[:1], description="customer id"
        )
    }
    magnitude = [pa.Check(_computable, name="computable")] if training else []
    for column in spec.numeric:
        columns[column] = pa.Column(
            float, coerce=True, nullable=True, checks=bounded(column, table_checks + magnitude)
        )
    for column in spec.categorical:
        columns[column] = pa.Column(nullable=True, checks=list(table_checks))
    for column in spec.profile_numeric:
        columns.setdefault(
            column, pa.Column(float, coerce=True, nullable=True, checks=bounded(column, []))
        )
    for column in spec.profile_categorical:
        columns.setdefault(column, pa.Column(nullable=True))
    checks = [pa.Check(lambda t: len(t) >= min_rows, name="enough_rows")] if training else []
    return pa.DataFrameSchema(columns, checks=checks, strict=False)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _rows(failures: pd.DataFrame, data: pd.DataFrame, spec: FeatureSpec, first_line: int) -> str:
    """Names the first failing rows by their line in the source, with their id."""
    examples = []
    for row in failures["index"].dropna().head(_EXAMPLE_ROWS):
        text = f"line {int(row) + first_line}"
        if not spec.numbered_rows and spec.id_column in data.columns and row in data.index:
            text += f" ({spec.id_column} {data.at[row, spec.id_column]})"
        examples.append(text)
    more = f" and {len(failures) - _EXAMPLE_ROWS} more" if len(failures) > _EXAMPLE_ROWS else ""
    return ", ".join(examples) + more


def _separator_hint(data: pd.DataFrame, missing: list[str], spec: FeatureSpec) -> str | None:
    """When most expected columns are missing because the file was read with
    the wrong separator, which separator to set."""
    if len(missing) < max(1, len(spec.used_columns) // 2):
        return None
    header = " ".join(str(c) for c in data.columns)
    for separator, shown in _SEPARATORS.items():
        if separator in header:
            return (
                f"the header reads {header[:60]!r}: the file seems to be separated by {shown}; "
                f"set it in the catalog entry (load_args: {{sep: {shown.split()[0]}}})"
            )
    return None


def describe_failures(  # noqa: PLR0912 - one branch per kind of problem
    failures: pd.DataFrame,
    data: pd.DataFrame,
    spec: FeatureSpec,
    min_rows: int,
    name: str,
    first_line: int,
) -> list[str]:
    """Turns pandera's failure cases into one sentence per column and problem,
    table-wide problems first, each naming the column, rows and expectation."""
    failures = failures.assign(
        column=failures["column"].fillna(""), check=failures["check"].astype(str)
    )
    entirely_null = set(failures.loc[failures["check"] == "not_entirely_null", "column"])
    messages: list[tuple[int, str]] = []
    not_numbers: set[str] = set()
    for (column, check), group in failures.groupby(["column", "check"], sort=False):
        count, rows = len(group), _rows(group, data, spec, first_line)
        if check == "enough_rows":
            messages.append(
                (
                    0,
                    f"{name} has {len(data)} rows; expected at least {min_rows} ({MIN_ROWS_KEY})",
                )
            )
        elif check == "column_in_dataframe":
            missing = list(group["failure_case"])
            messages += [
                (1, f"column '{c}' is missing: {named_in(c, spec)} names it") for c in missing
            ]
            if hint := _separator_hint(data, missing, spec):
                messages.append((1, hint))
        elif check == "not_entirely_null":
            messages.append(
                (2, f"column '{column}': every value is missing; expected at least one value")
            )
        elif check == "not_constant" and column not in entirely_null:
            top = data[column].value_counts(normalize=True)
            messages.append(
                (
                    2,
                    f"column '{column}': {top.iloc[0]:.1%} of the rows hold {_show(top.index[0])}, so "
                    "it cannot separate segments; remove it from the features (or make it "
                    "profile-only)",
                )
            )
        elif check == "not_nullable" and column not in entirely_null:
            messages.append((3, f"column '{column}': {_count(count, 'row')} without an id: {rows}"))
        elif check == "field_uniqueness":
            messages.append(
                (3, f"column '{column}': {_count(count, 'row')} share a duplicate id: {rows}")
            )
        elif check.startswith(("coerce_dtype", "dtype")):
            if column in not_numbers:
                continue
            not_numbers.add(column)
            values = ", ".join(repr(v) for v in group["failure_case"].drop_duplicates().head(3))
            messages.append(
                (
                    3,
                    f"column '{column}': expected a number, got {values} in "
                    f"{_count(count, 'row')}: {rows}",
                )
            )
        elif check.startswith("in_range"):
            values = ", ".join(_show(v) for v in group["failure_case"].drop_duplicates().head(3))
            messages.append(
                (
                    3,
                    f"column '{column}': {values} outside its {bounds_text(spec, column)} "
                    f"(features.bounds) in {_count(count, 'row')}: {rows}",
                )
            )
        elif check == "computable":
            values = ", ".join(_show(v) for v in group["failure_case"].drop_duplicates().head(3))
            messages.append((3, too_large(column, values, count, rows)))
        elif check != "not_nullable":
            messages.append((4, f"column '{column}': failed {check} in {_count(count, 'row')}"))
    return [text for _, text in sorted(messages, key=lambda item: item[0])]


def _show(value: Any) -> str:
    """A value as a person writes it: 40 rather than np.float64(40.0),
    10000000 rather than 1e+07 (``number_text``)."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return number_text(value)
    return repr(str(value))


def number_text(value: float) -> str:
    """A number as a message shows it, as near to how the file or the
    parameters wrote it as a number read allows: a whole number as digits
    (9999999, -50, 150: no ".0", no exponent), any other the shortest text
    that reads back as the same number (0.5, 14.891); an exponent only from
    1e16 up or under 1e-4 (Python's ``repr``), and "inf", "-inf", "nan".
    Both engines give the same text: a whole number read as a float on
    Spark reads as digits too."""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = float(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def bounds_text(spec: FeatureSpec, column: str) -> str:
    """``column``'s ``features.bounds`` as messages quote them: "bounds [0,
    10000000]", an open end as "none"."""
    low, high = (
        "none" if math.isinf(bound) else number_text(bound) for bound in spec.bounds[column]
    )
    return f"bounds [{low}, {high}]"


def named_in(column: str, spec: FeatureSpec) -> str:
    """Which key of the features parameter names ``column``."""
    if column == spec.id_column:
        return "features.id_column"
    if column in spec.numeric:
        return "features.numeric"
    if column in spec.categorical:
        return "features.categorical"
    if column in spec.profile_numeric:
        return "features.profile_only.numeric"
    return "features.profile_only.categorical"


def pinned_text(values: list[Any]) -> pd.Series:
    """Pinned categories (one column's ``features.categories``, in their
    order) as the model reads them: ``category_text`` of the list,
    as the encoder reads it (<NA> where a value is blank or missing)."""
    return category_text(pd.Series(list(values)))


def check_pinned_categories(table: pd.DataFrame, spec: FeatureSpec) -> list[str]:
    """Problems with ``features.categories``, the data and the pinned values
    both read as the model reads them (``category_text``: " Male"
    is "Male", a code 2.0 is "2"): a pinned category the data writes only in
    another case, or a pinned list that matches none of the data's values."""
    problems = []
    for column, written in spec.features.categories.items():
        if column not in table.columns:
            continue
        seen = category_text(table[column]).dropna().unique().tolist()
        by_case = {value.casefold(): value for value in seen}
        pinned = pinned_text(written)
        for category, text in zip(written, pinned, strict=True):
            if pd.notna(text) and text not in seen and text.casefold() in by_case:
                problems.append(
                    f"column '{column}': pinned category {category!r} is written "
                    f"{by_case[text.casefold()]!r} in the data; fix features.categories"
                )
        if not set(pinned.dropna()) & set(seen):
            problems.append(
                f"column '{column}': none of the pinned categories {list(written)} occurs in "
                f"the data, whose values are {sorted(seen)[:10]}; fix features.categories "
                "or remove the column from it to learn the categories"
            )
    return problems


def infinite_as_missing(
    table: pd.DataFrame, spec: FeatureSpec, name: str, first_line: int
) -> pd.DataFrame:
    """``table`` with every infinite number (a float, or a text that reads
    as one) in its numeric feature and profile columns made missing, and one
    warning per such column naming its count and first lines (the table's
    index is the row's position in the source, ``first_line`` the line of
    the first data row). ``table`` itself is not changed."""
    missing = {}
    for column in dict.fromkeys([*spec.numeric, *spec.profile_numeric]):
        if column not in table.columns:
            continue
        values = table[column]
        if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        numbers = values
        if not pd.api.types.is_float_dtype(values):
            # Text, read as pandera's coercion reads it: " inf " is infinite too.
            numbers = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
        infinite = np.isinf(numbers.to_numpy(float, na_value=np.nan))
        if not infinite.any():
            continue
        count = int(infinite.sum())
        lines = ", ".join(str(int(row) + first_line) for row in table.index[infinite][:5])
        more = f" and {count - 5} more" if count > 5 else ""
        logger.warning(
            "%s, column '%s': %s infinite (%s %s%s): treated as missing",
            name,
            column,
            "1 value was" if count == 1 else f"{count} values were",
            "line" if count == 1 else "lines",
            lines,
            more,
        )
        missing[column] = values.mask(infinite)
    return table.assign(**missing) if missing else table


def validate_customer_table(
    table: pd.DataFrame, spec: FeatureSpec, min_rows: int, name: str, first_line: int
) -> pd.DataFrame:
    """The table with ids as text, numeric columns coerced to numbers and
    infinite numbers made missing (``infinite_as_missing``), or
    one ``InvalidCustomerDataError`` listing every problem (missing or
    non-numeric columns, too few rows, missing or duplicate ids, empty,
    constant or out-of-bounds columns, mistyped pinned categories), each
    naming its column and, where there is one, its lines in the source
    (``first_line`` is the line of the first data row)."""
    if table.empty:
        raise InvalidCustomerDataError(
            f"{name} is empty: expected at least {min_rows} customer rows ({MIN_ROWS_KEY})"
        )
    table = infinite_as_missing(ids_as_text(table, spec), spec, name, first_line)
    problems = []
    try:
        validated = customer_schema(spec, min_rows).validate(table, lazy=True)
    except pa.errors.SchemaErrors as errors:
        problems = describe_failures(errors.failure_cases, table, spec, min_rows, name, first_line)
        validated = None
    problems += check_pinned_categories(table, spec)
    if problems:
        raise InvalidCustomerDataError(
            f"{name} does not match the features parameter:\n  - " + "\n  - ".join(problems)
        )
    return validated
