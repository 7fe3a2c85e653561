"""What each column of a customer table is, for ``kedro configure-data``.

Column by column, the name (``own_names``) is checked against the values:

- the **id** (``find_id``): a column named like a customer id (customer,
  client, account, member, user, cust ... id, number, no; ``CLIENTNUM``),
  else one named plain ``id``, whatever its values (a 1..n counter, or a
  repeated value: the run then stops on it, naming it), each because of its
  name; else another id-named, text or row-counter column that is unique and
  never empty. A running 1, 2, 3 ... counter is never preferred to a named
  id, and is never clustered on;
- **dropped**: a second id, a person's name or contact detail (surname,
  email, phone, zip), other columns named like an id or code that hold many
  values, row counters, constant, mostly empty, free text and dates;
- **sensitive attributes** (``own_sensitive``): gender, ethnicity, religion,
  nationality, marital status, disability, sexual orientation, pregnancy,
  political opinion, health and trade-union membership, by name or by
  values: profile-only, never clustered on;
- **outcomes** (``own_outcomes``, ``features.outcomes``): profile-only, like
  yes/no flags (0/1, true/false, yes/no: each named in the printout, as it
  may be an outcome no name gave away), labels and groupings (an integer
  code named like a type or class with up to 50 values: ``MOSTYPE``);
- a numeric feature's **unit** and **role** (``own_units``); a calendar
  year (``Year``, 2003 to 2009) is profile-only: it says when a record was
  taken or something happened, not who the customer is; a birth year
  (``Year_Birth``) is an age, and a feature;
- **near-duplicates** (``near_duplicates``): of numeric features that move
  together (absolute Spearman rank correlation at least 0.95, on at most
  10,000 sampled rows), the first is clustered on and the others are
  profiled, so that one quantity (``INCOME`` and ``INCOMESQ``) does not
  count twice; a column whose name is another's with a transform
  (``logwage`` of ``wage``, ``income_ln``) comes after it, as the raw
  column reads in real units and preprocessing transforms skewed ones
  itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.features import NEAR_CONSTANT_SHARE, category_text
from customer_segmentation.own_names import (
    is_customer_id_named,
    is_id_named,
    is_personal,
    is_plain_id_named,
    joined_name,
    name_words,
)
from customer_segmentation.own_outcomes import (
    FLAG_HINT,
    flag_text,
    is_outcome_named,
    outcome_of,
    yes_no_flag,
)
from customer_segmentation.own_sensitive import sensitive_kind
from customer_segmentation.own_units import as_numbers, role_of, unit_of

MAX_FEATURE_CATEGORIES = 15
MAX_PROFILE_CATEGORIES = 50
MOSTLY_EMPTY_SHARE = 0.5
NUMERIC_SHARE = 0.9
SKEWNESS = 1.0
MAX_CODE_VALUES = 10
# Numeric features whose ranks move together this closely measure one thing.
NEAR_DUPLICATE_CORRELATION = 0.95
CORRELATION_SAMPLE_ROWS = 10_000
CORRELATION_SEED = 0


_INDEX_NAME = re.compile(r"^(unnamed:?\s*\d+|index|level_\d+|)$", re.I)
_CODE_NAME = re.compile(
    r"channel|region|type|class|group|segment|cluster|status|level|grade|tier|zone|area", re.I
)
# A grouping code by the end of its name (``MOSTYPE``, ``customer_type``,
# ``ProductCategory``, ``class``): one with more values than MAX_CODE_VALUES
# is a code too, up to MAX_PROFILE_CATEGORIES. Only the end counts, as "level"
# or "area" inside a name are often a quantity.
_CODE_SUFFIX = re.compile(r"(type|class|category|segment|cluster|group)$")
_DATE_NAME = re.compile(r"date|time|dt_|_dt$|day$|timestamp|created|joined|since", re.I)
# A year named like a birth year is an age (``Year_Birth``, ``YearOfBirth``).
_BIRTH_WORDS = {"birth", "born", "yob", "dob"}
# A transform that a name adds before or after a quantity's name (``logwage``).
_TRANSFORMS = ("log1p", "log10", "log2", "log", "ln", "sqrt")


@dataclass
class Column:
    """One column of the source: what it is, and why we think so."""

    name: str
    role: str  # id, numeric, categorical, profile_numeric, profile_categorical, dropped
    why: str
    meaning: str | None = None  # its features.roles role
    bounds: tuple[float | None, float | None] | None = None
    outcome: tuple[str, Any] | None = None  # (kind, positive value) for features.outcomes
    unit: str | None = None  # of a numeric feature: money, count, share, ... (``unit_of``)
    # A yes/no flag that no name marks as an outcome: its yes value and that
    # value's share, which the printout names (``own_outcomes.outcome_lines``).
    flag: tuple[Any, float] | None = None
    sensitive: str | None = None  # the sensitive attribute it holds (``own_sensitive``)


def is_row_counter(name: str, values: pd.Series) -> bool:
    """A column that only counts rows (1, 2, 3, ... or 0, 1, 2, ...), or the
    increasing index column a pandas export leaves behind (``Unnamed: 0``)."""
    numbers, texts = as_numbers(values)
    if texts or numbers.isna().any() or len(numbers) < 2:
        return False
    steps = numbers.diff().iloc[1:]
    if numbers.iloc[0] in (0, 1) and bool((steps == 1).all()):
        return True
    return bool(_INDEX_NAME.match(str(name).strip()) and (steps > 0).all())


def find_id(table: pd.DataFrame) -> tuple[str | None, str]:
    """The column that identifies customers, and why: named like a customer
    id, else a plain ``id`` (either because of its name, even a 1..n counter
    or with repeated values: the run reports them); else, unique and never
    empty, another id-named column, a text column, a row counter."""
    if len(table) < 2:
        return None, ""

    def complete(name: str) -> bool:
        return bool(table[name].notna().all() and table[name].is_unique)

    ranked = []
    for position, name in enumerate(table.columns):
        values = table[name]
        counter = is_row_counter(name, values)
        if is_customer_id_named(name):
            rank, why = 0, "named like a customer id"
        elif is_plain_id_named(name):
            rank, why = 1, "named like an id"
        elif not complete(name) or is_personal(name):
            continue
        elif counter:
            rank, why = 4, "unique and never empty (a row counter: nothing better found)"
        elif is_id_named(name):
            rank, why = 2, "named like an id, unique and never empty"
        elif as_numbers(values)[1]:
            rank, why = 3, "text, unique and never empty"
        else:
            continue
        ranked.append((rank, not complete(name), position, name, why))
    if not ranked:
        return None, ""
    _, _, _, name, why = min(ranked)
    return name, why


def _is_date(name: str, values: pd.Series) -> bool:
    present = values.dropna().astype(str).head(500)
    if present.empty or pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values) or present.str.fullmatch(r"-?[\d.]+").all():
        return bool(_DATE_NAME.search(name) and present.str.fullmatch(r"(19|20)\d{6}").mean() > 0.9)
    parsed = pd.to_datetime(present, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.9)


def _not_used(name: str, values: pd.Series) -> str | None:  # noqa: PLR0911 - one return per case
    """Why a column is not used at all, if it is not."""
    present_share = values.notna().mean()
    if is_row_counter(name, values):
        return "counts rows (1, 2, 3, ...): says nothing about customers"
    if is_customer_id_named(name) or is_plain_id_named(name):
        return "a second id: identifies customers, does not describe them"
    if is_personal(name):
        return "a person's name or contact detail: identifies, does not describe"
    if values.dropna().astype(str).str.strip().nunique() <= 1:
        return "constant: says nothing"
    if present_share < MOSTLY_EMPTY_SHARE:
        return f"mostly empty ({1 - present_share:.0%} missing)"
    if _is_date(name, values):
        return "a date: not clustered on (derive tenure or recency from it first)"
    return None


def _outcome(name: str, values: pd.Series, role: str) -> Column | None:
    """A two-valued column named like an outcome, with its kind and positive value."""
    found = outcome_of(name, values)
    if found is None:
        return None
    kind, positive, why = found
    column = Column(name, role, f"outcome ({kind}; positive {positive!r}: {why}): profiled")
    column.outcome = (kind, positive)
    return column


def _flag(name: str, values: pd.Series, role: str, why: str) -> Column | None:
    """A yes/no flag (``yes_no_flag``) as a profile-only column: ``why``,
    with the yes value's share and what to do if it is an outcome."""
    flag = yes_no_flag(values)
    if flag is None:
        return None
    column = Column(
        name,
        role,
        f"{why} ({flag_text(flag)}): profiled per segment, not clustered on; {FLAG_HINT}",
    )
    column.flag = flag
    return column


def _is_code_named(name: str, integers: bool, distinct: int) -> bool:
    """An integer code named like a label or grouping: ``_CODE_NAME`` or an
    id-like name with at most MAX_CODE_VALUES values, or a name ending in a
    grouping word (``_CODE_SUFFIX``) with at most MAX_PROFILE_CATEGORIES."""
    if not integers:
        return False
    if distinct <= MAX_CODE_VALUES and (_CODE_NAME.search(name) or is_id_named(name)):
        return True
    return distinct <= MAX_PROFILE_CATEGORIES and bool(_CODE_SUFFIX.search(joined_name(name)))


def profile_duplicate(column: Column, partner: str, correlation: float) -> Column:
    """``column``, a numeric feature that moves with ``partner``, as a
    profile-only column without a role (so that it does not count twice in
    customer value either), saying why."""
    unit_why = column.why.rsplit(f": {column.meaning or 'no role'}", 1)[0]
    return Column(
        column.name,
        "profile_numeric",
        f"moves with {partner} (rank correlation {correlation:.2f}): profiled, not clustered "
        f"on, so it does not count twice; {unit_why}",
        bounds=column.bounds,
        unit=column.unit,
    )


def _inspect_numeric(name: str, numbers: pd.Series) -> Column:  # noqa: PLR0911 - one return per case
    present = numbers.dropna()
    distinct = present.nunique()
    top_share = present.value_counts(normalize=True).iloc[0]
    integers = bool((present % 1 == 0).all())
    if column := _outcome(name, present, "profile_numeric"):
        return column
    if is_outcome_named(name):
        return _flag(name, present, "profile_numeric", "looks like an outcome") or Column(
            name, "profile_numeric", "looks like an outcome: profiled, not clustered on"
        )
    if column := _flag(name, present, "profile_numeric", "0/1 flag"):
        return column
    if top_share >= NEAR_CONSTANT_SHARE:
        return Column(
            name,
            "profile_numeric",
            f"near-constant ({top_share:.1%} one value): cannot separate segments, profiled",
        )
    if _is_code_named(name, integers, distinct):
        return Column(
            name,
            "profile_categorical",
            f"integer code with {distinct} values named like a label: profiled, not clustered on",
        )
    if is_id_named(name):
        return Column(name, "dropped", "named like an id or code: identifies, is not a quantity")
    unit, unit_why = unit_of(name, present)
    if unit == "year" and not set(name_words(name)) & _BIRTH_WORDS:
        column = Column(
            name,
            "profile_numeric",
            f"{unit_why}: a calendar year says when a record was taken or something happened, "
            "not who the customer is: profiled per segment, not clustered on; to cluster on it "
            "anyway, move it from features.profile_only.numeric to features.numeric",
        )
        column.unit = unit
        return column
    role = role_of(name, unit)
    column = Column(name, "numeric", unit_why + (f": {role}" if role else ": no role"))
    column.meaning, column.unit = role, unit
    if unit == "age":
        column.bounds = (0, 120)
        column.why += "; bounds [0, 120]"
    elif float(present.min()) >= 0:
        column.bounds = (0, None)
        column.why += "; none negative: bounds [0, none]"
    skewness = float(present.skew()) if distinct > 2 else 0.0
    if abs(skewness) > SKEWNESS and distinct > 10:
        column.why += f"; skewed ({skewness:.1f}): transformed before scaling"
    return column


def _inspect_text(name: str, values: pd.Series) -> Column:  # noqa: PLR0911 - one return per case
    present = values.dropna().astype(str)
    distinct = present.nunique()
    if column := _outcome(name, values, "profile_categorical"):
        return column
    if is_outcome_named(name) and distinct <= MAX_PROFILE_CATEGORIES:
        return _flag(name, values, "profile_categorical", "looks like an outcome") or Column(
            name, "profile_categorical", "looks like an outcome: profiled, not clustered on"
        )
    if column := _flag(name, values, "profile_categorical", "yes/no flag"):
        return column
    if is_id_named(name) and distinct > MAX_FEATURE_CATEGORIES:
        return Column(name, "dropped", f"named like an id or code, {distinct:,} values: not used")
    if _CODE_NAME.search(name) and distinct <= MAX_PROFILE_CATEGORIES:
        return Column(
            name,
            "profile_categorical",
            f"{distinct} categories named like a label or grouping: profiled, not clustered on",
        )
    top_share = present.value_counts(normalize=True).iloc[0]
    if top_share >= NEAR_CONSTANT_SHARE:
        return Column(
            name, "profile_categorical", f"near-constant ({top_share:.1%} one value): profiled"
        )
    if distinct <= MAX_FEATURE_CATEGORIES:
        return Column(name, "categorical", f"text with {distinct} categories")
    if distinct <= MAX_PROFILE_CATEGORIES:
        return Column(
            name,
            "profile_categorical",
            f"text with {distinct} categories: profiled, too many to cluster on",
        )
    return Column(name, "dropped", f"free text ({distinct:,} distinct values): not used")


def _sensitive(name: str, values: pd.Series, numbers: pd.Series, texts: list) -> Column | None:
    """A column holding a sensitive attribute (``own_sensitive``) as a
    profile-only categorical column (its mix per segment). A number column
    (``numbers`` without ``texts``) with more values than a code has is a
    quantity, never an attribute."""
    if not texts and numbers.nunique() > MAX_PROFILE_CATEGORIES:
        return None
    found = sensitive_kind(name, values)
    if found is None:
        return None
    kind, how = found
    column = Column(
        name,
        "profile_categorical",
        f"sensitive attribute ({kind}, by its {how}): profiled, never clustered on nor needed "
        "to score; to cluster on it anyway, move it from features.profile_only.categorical to "
        "features.categorical",
    )
    column.sensitive = kind
    return column


def inspect_column(name: str, values: pd.Series) -> tuple[Column, list[str]]:
    """The role of one column other than the id, and the texts of a numeric
    column to read as missing."""
    if why := _not_used(name, values):
        return Column(name, "dropped", why), []
    numbers, texts = as_numbers(values)
    if column := _sensitive(name, values, numbers, texts):
        return column, []
    if numbers.notna().sum() >= NUMERIC_SHARE * values.notna().sum() and len(texts) <= 3:
        column = _inspect_numeric(name, numbers)
        if texts:
            column.why += f"; {texts} read as missing"
        return column, texts
    # Categories as the model will read them: " Male" and "Male" are one.
    return _inspect_text(name, category_text(values)), []


def is_transform_of(name: str, base: str) -> bool:
    """Whether ``name`` is ``base``'s name with a transform before or after
    it (``_TRANSFORMS``): ``logwage`` of ``wage``, ``log_income`` of
    ``Income``, ``sales_ln`` of ``sales``."""
    transformed, raw = joined_name(name), joined_name(base)
    return bool(raw) and any(transformed in (t + raw, raw + t) for t in _TRANSFORMS)


def near_duplicates(table: pd.DataFrame, names: list[str]) -> dict[str, tuple[str, float]]:
    """Of the numeric columns ``names``, in order, those that move with an
    earlier one kept as a feature (absolute Spearman rank correlation at
    least ``NEAR_DUPLICATE_CORRELATION``, on at most
    ``CORRELATION_SAMPLE_ROWS`` rows sampled with a fixed seed): each with
    the column it moves with and the correlation. Clustering on both would
    count one quantity twice (``INCOME`` and its square ``INCOMESQ``). A
    transform of another of ``names`` (``is_transform_of``: ``logwage``) is
    taken after all others, so that the raw column is kept: it reads in real
    units, and preprocessing transforms a skewed column itself."""
    if len(names) < 2:
        return {}
    names = sorted(names, key=lambda n: any(is_transform_of(n, other) for other in names))
    sample = table[names]
    if len(sample) > CORRELATION_SAMPLE_ROWS:
        sample = sample.sample(CORRELATION_SAMPLE_ROWS, random_state=CORRELATION_SEED)
    numbers = pd.DataFrame({name: as_numbers(sample[name])[0] for name in names})
    # Spearman's rho is Pearson's on ranks. Each column is ranked once and a
    # missing value takes its column's mean rank (adding nothing to either
    # sum), so one matrix product correlates hundreds of columns in a second;
    # without gaps this is exactly Spearman's rho.
    ranks = numbers.rank()
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.corrcoef(ranks.fillna(ranks.mean()).to_numpy(float), rowvar=False)
    correlations = np.nan_to_num(np.abs(matrix))  # a constant column moves with nothing
    kept: list[int] = []
    moved: dict[str, tuple[str, float]] = {}
    for position, name in enumerate(names):
        with_kept = correlations[position, kept]
        if kept and with_kept.max() >= NEAR_DUPLICATE_CORRELATION:
            partner = kept[int(with_kept.argmax())]  # the first of the closest
            moved[name] = (names[partner], float(with_kept.max()))
        else:
            kept.append(position)
    return moved
