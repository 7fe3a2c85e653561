"""The ``features`` contract: which columns are what, and the table schema.

The ``features`` parameter names the id column, the numeric and categorical
features the model clusters on, and the profile-only columns that segments
are described by but never clustered on. ``FeatureSpec`` is its parsed form,
used by every pipeline; ``customer_schema`` is the pandera schema it implies,
used both to validate the training table (errors stop the run) and to screen
a scoring batch (failing rows become rejects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

_EXAMPLE_ROWS = 3


class InvalidCustomerDataError(ValueError):
    """A customer table does not match the ``features`` parameter."""


@dataclass(frozen=True)
class FeatureSpec:
    """The parsed ``features`` parameter."""

    id_column: str
    numeric: tuple[str, ...]
    categories: dict[str, tuple[Any, ...]]
    profile_numeric: tuple[str, ...] = ()
    profile_categorical: tuple[str, ...] = ()

    @classmethod
    def parse(cls, features: dict) -> FeatureSpec:
        profile_only = features.get("profile_only") or {}
        return cls(
            id_column=features["id_column"],
            numeric=tuple(features["numeric"]),
            categories={c: tuple(v) for c, v in (features.get("categorical") or {}).items()},
            profile_numeric=tuple(profile_only.get("numeric") or ()),
            profile_categorical=tuple(profile_only.get("categorical") or ()),
        )

    @property
    def categorical(self) -> list[str]:
        """The categorical features, in order."""
        return list(self.categories)

    @property
    def model_columns(self) -> list[str]:
        """The columns the model reads: numeric then categorical features."""
        return [*self.numeric, *self.categories]

    @property
    def described_numeric(self) -> list[str]:
        """Numeric columns profiled per segment: features, then profile-only."""
        return list(dict.fromkeys([*self.numeric, *self.profile_numeric]))

    @property
    def described_categorical(self) -> list[str]:
        """Categorical columns profiled per segment: features, then profile-only."""
        return list(dict.fromkeys([*self.categories, *self.profile_categorical]))

    def one_hot_columns(self, columns: list[str]) -> list[str]:
        """Those of ``columns`` (encoded column names) that one-hot encode a
        categorical feature."""
        return [c for c in columns if any(c.startswith(f"{name}_") for name in self.categories)]


def _not_entirely_null(series: pd.Series) -> bool:
    return bool(series.notna().any())


def customer_schema(spec: FeatureSpec, min_rows: int | None = None) -> pa.DataFrameSchema:
    """The pandera schema of a customer table: a unique, non-missing id;
    numeric feature and profile columns that coerce to numbers; every
    feature column present. With ``min_rows`` (training), the table needs that
    many rows and no feature column may be entirely empty."""
    training = min_rows is not None
    not_all_null = [pa.Check(_not_entirely_null, name="not_entirely_null")] if training else []
    columns = {
        spec.id_column: pa.Column(
            nullable=False, unique=True, checks=not_all_null, description="customer id"
        )
    }
    for column in spec.numeric:
        columns[column] = pa.Column(float, coerce=True, nullable=True, checks=not_all_null)
    for column in spec.categories:
        columns[column] = pa.Column(nullable=True, checks=not_all_null)
    for column in spec.profile_numeric:
        columns.setdefault(column, pa.Column(float, coerce=True, nullable=True))
    for column in spec.profile_categorical:
        columns.setdefault(column, pa.Column(nullable=True))
    checks = [pa.Check(lambda t: len(t) >= min_rows, name="enough_rows")] if training else []
    return pa.DataFrameSchema(columns, checks=checks, strict=False)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _rows(failures: pd.DataFrame, data: pd.DataFrame, id_column: str) -> str:
    """Names the first failing rows (0-based) with their id."""
    examples = []
    for row in failures["index"].head(_EXAMPLE_ROWS):
        text = f"row {row}"
        if id_column in data.columns and row in data.index:
            text += f" ({id_column} {data.at[row, id_column]})"
        examples.append(text)
    more = f" and {len(failures) - _EXAMPLE_ROWS} more" if len(failures) > _EXAMPLE_ROWS else ""
    return ", ".join(examples) + more


def describe_failures(
    failures: pd.DataFrame, data: pd.DataFrame, spec: FeatureSpec, min_rows: int, name: str
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
        count, rows = len(group), _rows(group, data, spec.id_column)
        if check == "enough_rows":
            messages.append(
                (
                    0,
                    f"{name} has {len(data)} rows; expected at least {min_rows} "
                    "(model_selection.k_max) to compare that many segments",
                )
            )
        elif check == "column_in_dataframe":
            messages += [
                (1, f"column '{missing}' is missing: the features parameter expects it")
                for missing in group["failure_case"]
            ]
        elif check == "not_entirely_null":
            messages.append(
                (2, f"column '{column}': every value is missing; expected at least one value")
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
        elif check != "not_nullable":
            messages.append((4, f"column '{column}': failed {check} in {_count(count, 'row')}"))
    return [text for _, text in sorted(messages, key=lambda item: item[0])]


def validate_customer_table(
    table: pd.DataFrame, spec: FeatureSpec, min_rows: int, name: str
) -> pd.DataFrame:
    """The table with numeric columns coerced to numbers, or one
    ``InvalidCustomerDataError`` listing every problem (missing or non-numeric
    columns, too few rows, missing or duplicate ids, entirely empty columns),
    each naming its column and, where there is one, its rows."""
    if table.empty:
        raise InvalidCustomerDataError(
            f"{name} is empty: expected at least {min_rows} customer rows (model_selection.k_max)"
        )
    try:
        return customer_schema(spec, min_rows).validate(table, lazy=True)
    except pa.errors.SchemaErrors as errors:
        problems = describe_failures(errors.failure_cases, table, spec, min_rows, name)
        raise InvalidCustomerDataError(
            f"{name} does not match the features parameter "
            "(rows are counted from 0, after the header):\n  - " + "\n  - ".join(problems)
        ) from None
