"""What each column of a customer table is, for ``kedro configure-data``.

Names are read as words (``CustomerId`` -> customer id, ``PURCHASES_TRX`` ->
purchases trx) and checked against the values, column by column:

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
- **outcomes** (``features.outcomes``): two-valued columns named like churn
  (churn, exited, attrition, cancelled, closed, complain, default) or a
  response (response, accepted, AcceptedCmpN, converted, subscribed, ``y``),
  with the value meaning "it happened": 1 for 0/1, a text that reads as yes,
  else the rarer value. Profile-only, like 0/1 flags, labels and groupings;
- the **unit** of a numeric column (``unit_of``), by name and values: money,
  count, frequency (per period, or a 0-1 how-often score), share or
  percentage, score or plain number; and from unit and name its **role**
  (``role_of``, ``features.roles``): a share is never monetary, income is
  demographic, a purchase count or frequency is frequency, cash advances and
  balances are no value; expenditure, expenses and ``exp`` (``AVGEXP``,
  ``monthly_exp``; never experience) are spend;
- **near-duplicates** (``near_duplicates``): of numeric features that move
  together (absolute Spearman rank correlation at least 0.95, on at most
  10,000 sampled rows), the first is clustered on and the others are
  profiled, so that one quantity (``INCOME`` and ``INCOMESQ``) does not
  count twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MAX_FEATURE_CATEGORIES = 15
MAX_PROFILE_CATEGORIES = 50
MOSTLY_EMPTY_SHARE = 0.5
NEAR_CONSTANT_SHARE = 0.99
NUMERIC_SHARE = 0.9
SKEWNESS = 1.0
MAX_CODE_VALUES = 10
# Numeric features whose ranks move together this closely measure one thing.
NEAR_DUPLICATE_CORRELATION = 0.95
CORRELATION_SAMPLE_ROWS = 10_000
CORRELATION_SEED = 0

_CUSTOMER = "customer|client|account|acct|member|user|cust|subscriber|consumer|buyer|shopper|patron|contact|person"
_ID_SUFFIX = "id|ids|key|ref|reference|number|num|no|nr|code|uuid|guid"
_CUSTOMER_ID = re.compile(rf"^(id)?({_CUSTOMER})({_ID_SUFFIX})$")
_PLAIN_ID = {"id", "uid", "uuid", "guid"}
_ID_WORDS = set(_ID_SUFFIX.split("|"))
_PERSONAL = {
    *("surname", "firstname", "lastname", "fullname", "forename", "email", "mail", "phone"),
    *("mobile", "telephone", "tel", "fax", "address", "street", "zip", "zipcode", "postcode"),
    *("postal", "ssn", "iban", "passport"),
}
_NAME_QUALIFIERS = {
    "first",
    "last",
    "full",
    "given",
    "family",
    "sur",
    "fore",
    *_CUSTOMER.split("|"),
}
_INDEX_NAME = re.compile(r"^(unnamed:?\s*\d+|index|level_\d+|)$", re.I)

CHURN_WORDS = {
    *("churn", "churned", "churner", "exited", "exit", "attrition", "attrited", "cancel"),
    *("cancelled", "canceled", "cancellation", "closed", "complain", "complained"),
    *("complaint", "complaints", "default", "defaulted", "lapsed"),
}
RESPONSE_WORDS = {
    *("response", "responded", "accepted", "accept", "converted", "conversion", "subscribed"),
}
_OTHER_OUTCOMES = {"target", "label", "outcome", "class"}
_HAPPENED = {"yes", "y", "true", "t", "1", "positive", "left", "won"}
_NEGATION = {"not", "no", "non", "never", "without", "false", "n"}
_CODE_NAME = re.compile(
    r"channel|region|type|class|group|segment|cluster|status|level|grade|tier|zone|area", re.I
)
_DATE_NAME = re.compile(r"date|time|dt_|_dt$|day$|timestamp|created|joined|since", re.I)

_SHARE = {"pct", "prc", "perc", "percent", "percentage", "share", "ratio", "rate", "proportion"}
_SHARE |= {"frac", "fraction"}
_SCORE = {"score", "rating", "rank", "ranking", "grade", "index", "nps", "satisfaction"}
_FREQUENCY = {"frequency", "freq"}
_COUNT = {"num", "number", "count", "cnt", "trx", "qty", "quantity", "items", "products", "times"}
_COUNT |= {"visits", "orders", "transactions", "n"}
_COUNTED = {"num", "number", "count", "cnt", "trx", "qty", "quantity"}  # even beside money words
_SPEND = {
    *("spend", "spent", "spending", "amount", "amt", "revenue", "sales", "monetary", "mnt"),
    *("paid", "payment", "payments", "charge", "charges", "billed", "billing", "fee", "fees"),
    *("basket", "aov", "ltv", "clv", "value", "purchases", "purchase", "ordervalue"),
    *("expenditure", "expenditures", "expense", "expenses", "exp"),
}
# AVGEXP, TOTEXP, MonthlyExpenses: spend words written as one with a qualifier
# (never "experience").
_JOINED_SPEND = re.compile(
    r"(avg|average|tot|total|mean|monthly|annual|yearly)(exp|expenses?|expenditures?)"
)
_OTHER_MONEY = {"balance", "limit", "credit", "cash", "advance", "price", "cost", "income"}
_OTHER_MONEY |= {"salary", "wage", "wages", "earnings", "profit", "margin", "dollars", "usd"}
_PURCHASE_ACTS = {"purchase", "purchases", "order", "orders", "visit", "visits", "transaction"}
_PURCHASE_ACTS |= {"transactions", "trx", "session", "sessions", "trip", "trips", "buy", "buys"}
_NOT_PURCHASES = {"cash", "advance", "balance", "withdrawal", "withdrawals", "transfer"}
_NOT_PURCHASES |= {"transfers", "payment", "payments", "credit", "call", "calls", "complaint"}
_NOT_PURCHASES |= {"complaints", "service", "login", "logins", "return", "returns", "refund"}
_NOT_SPEND = {"balance", "limit", "credit", "cash", "advance", "price", "cost", "income", "salary"}
ROLE_NAMES = {
    "recency": re.compile(
        r"recen|days?[_\s]*since|since[_\s]*last|last[_\s]*(purchase|order)", re.I
    ),
    "tenure": re.compile(
        r"tenure|seniority|years?[_\s]*with|months?[_\s]*with|customer[_\s]*for", re.I
    ),
    "demographic": re.compile(
        r"(^|_|\s)age($|_|\s)|birth|income|salary|kid|child|teen|household|family|dependent",
        re.I,
    ),
}


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


def name_words(name: str) -> list[str]:
    """A column name as lower-case words: ``CustomerId`` -> [customer, id]."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))]


def _joined(name: str) -> str:
    return "".join(name_words(name))


def _unit_words(name: str) -> set[str]:
    """The name's words, with a spend word written into a qualifier split
    off (``AVGEXP`` -> avgexp, exp)."""
    words = set(name_words(name))
    return words | {"exp" for word in words if _JOINED_SPEND.fullmatch(word)}


def is_customer_id_named(name: str) -> bool:
    """customer_id, CUST_ID, customerID, Customer ID, CLIENTNUM, AccountNo, ..."""
    return bool(_CUSTOMER_ID.match(_joined(name)))


def is_plain_id_named(name: str) -> bool:
    return _joined(name) in _PLAIN_ID


def is_id_named(name: str) -> bool:
    """Named like an identifier of anything: ends in id, number, no, code, key, ..."""
    words = name_words(name)
    return bool(words) and (
        words[-1] in _ID_WORDS or words[0] == "id" or _joined(name) in _PLAIN_ID
    )


def is_personal(name: str) -> bool:
    """A person's name or contact detail: Surname, first_name, email, Phone, ZIP, ..."""
    words = name_words(name)
    if not words:
        return False
    if words[-1] == "name":
        return len(words) == 1 or words[-2] in _NAME_QUALIFIERS
    return words[-1] in _PERSONAL or _joined(name) in _PERSONAL


def as_numbers(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """The column as numbers, and the distinct texts that are not numbers."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float), []
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float), []
    text = values.dropna().astype(str)
    numbers = pd.to_numeric(text.str.strip(), errors="coerce")
    return numbers.reindex(values.index), sorted(text[numbers.isna()].unique().tolist())


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


def outcome_kind(name: str) -> str | None:
    """churn (an outcome to prevent) or response (one to repeat), by name."""
    words = set(name_words(name))
    if words & CHURN_WORDS:
        return "churn"
    if words & RESPONSE_WORDS or re.search(r"cmp\d", _joined(name)) or _joined(name) == "y":
        return "response"
    return None


def _is_outcome_named(name: str) -> bool:
    return outcome_kind(name) is not None or bool(set(name_words(name)) & _OTHER_OUTCOMES)


def positive_value(values: pd.Series) -> tuple[Any, str]:
    """Of a two-valued column, the value that means "it happened", and why."""
    counts = values.dropna().value_counts()
    numbers, texts = as_numbers(counts.index.to_series())
    if not texts:
        if set(numbers) == {0.0, 1.0}:
            return 1, "0/1: 1 means it happened"
        rarer = numbers.iloc[-1]
        return (int(rarer) if rarer % 1 == 0 else float(rarer)), "the rarer value"

    def happened(value: Any) -> bool:
        text = str(value).strip().lower()
        words = set(name_words(str(value)))
        return text in _HAPPENED or bool(
            words & (CHURN_WORDS | RESPONSE_WORDS | {"attrited"}) and not words & _NEGATION
        )

    readers = [value for value in counts.index if happened(value)]
    if len(readers) == 1:
        value, why = readers[0], "reads as it happened"
    else:
        value, why = counts.index[-1], "the rarer value: neither reads as yes"
    if {str(v) for v in counts.index} <= {"True", "TRUE", "true", "False", "FALSE", "false"}:
        value = str(value).lower() == "true"  # pandas reads these as booleans
    return value, why


def _outcome(name: str, values: pd.Series, role: str) -> Column | None:
    """A two-valued column named like an outcome, with its kind and positive value."""
    kind = outcome_kind(name)
    if kind is None or values.dropna().nunique() != 2:
        return None
    positive, why = positive_value(values)
    column = Column(name, role, f"outcome ({kind}; positive {positive!r}: {why}): profiled")
    column.outcome = (kind, positive)
    return column


def _number(value: float) -> str:
    """A value as a label shows it: 0.4, 12.5, 100, 49,040."""
    return f"{value:,.0f}" if abs(value) >= 99.95 else f"{value:.3g}"


def _describe(numbers: pd.Series) -> tuple[str, bool, bool, bool]:
    """The values in a few words that say no unit (``unit_of`` says money);
    whether all are whole numbers, all lie in [0, 1], and most have at most
    two decimals (cents)."""
    low, high = float(numbers.min()), float(numbers.max())
    integers = bool((numbers % 1 == 0).all())
    in_unit = low >= 0 and high <= 1
    cents = bool(((numbers * 100).round(6) % 1 == 0).mean() > 0.9)
    kind = "whole numbers" if integers else "decimals from"
    return f"{kind} {_number(low)} to {_number(high)}", integers, in_unit, cents


def unit_of(name: str, numbers: pd.Series) -> tuple[str, str]:  # noqa: PLR0911, PLR0912 - one return per unit
    """The unit of a numeric column (money, count, frequency, frequency score,
    share, percentage, score, age, year, number) and the phrase that says why."""
    present = numbers.dropna()
    words = _unit_words(name)
    values, integers, in_unit, cents = _describe(present)
    low, high = float(present.min()), float(present.max())
    amounts = f"decimal amounts up to {_number(high)}" if not integers and high >= 100 else values

    def says(found: set[str]) -> str:
        return "name says " + ", ".join(sorted(found)) if found else ""

    shares = words & _SHARE or ({"%"} if "%" in str(name) else set())
    if shares and in_unit:
        return "share", f"share 0-1 ({values}; {says(shares)})"
    if shares and low >= 0 and high <= 100:
        return "percentage", f"percentage 0-100 ({values}; {says(shares)})"
    if words & _FREQUENCY:
        if in_unit:
            return "frequency score", f"how-often score 0-1 ({values}; {says(words & _FREQUENCY)})"
        return "frequency", f"frequency per period ({values}; {says(words & _FREQUENCY)})"
    if words & _SCORE:
        return "score", f"score ({values}; {says(words & _SCORE)})"
    if ROLE_NAMES["demographic"].search(name) and "age" in words:
        return "age", f"an age ({values})"
    if words & {"year", "birth"} and integers and low >= 1800 and high <= 2100:
        return "year", f"a year ({low:.0f} to {high:.0f})"
    money = words & (_SPEND | _OTHER_MONEY)
    counted = words & _COUNT
    purchases_only = money <= {"purchase", "purchases"}
    if money and not in_unit and not (counted & _COUNTED and integers):
        if not (purchases_only and integers and high < 1000):
            return "money", f"money ({amounts}; {says(money)})"
    if integers and low >= 0 and (counted or high < 1000):
        return "count", f"count ({values}" + (f"; {says(counted)})" if counted else ")")
    if in_unit:
        return "score", f"share or score 0-1 ({values})"
    if integers and low >= 0:
        return "number", f"number ({values}: an amount or a count, the name does not say)"
    if cents and high >= 100:
        return "money", f"money ({amounts})"
    return "number", f"number ({values})"


def role_of(name: str, unit: str) -> str | None:
    """The ``features.roles`` role of a numeric column of this unit, or None."""
    if unit in ("share", "percentage", "score"):
        return None
    for role, pattern in ROLE_NAMES.items():
        if pattern.search(name):
            return role
    words = _unit_words(name)
    purchase_acts = words & _PURCHASE_ACTS and not words & _NOT_PURCHASES
    if unit in ("count", "frequency", "frequency score") and purchase_acts:
        return "frequency"
    if unit == "frequency" and words <= _FREQUENCY:
        return "frequency"  # a column named just Frequency (RFM tables)
    if unit == "money" and words & _SPEND and not words & _NOT_SPEND:
        return "monetary"
    return None


def unnamed_spend(column: Column) -> bool:
    """A numeric feature read as money with no role whose name says neither
    spend nor another kind of money (balance, income, price, ...): it may be
    what customers spend, which only the user can say."""
    return (
        column.role == "numeric"
        and column.unit == "money"
        and column.meaning is None
        and not _unit_words(column.name) & (_SPEND | _OTHER_MONEY)
    )


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
    if _is_outcome_named(name):
        return Column(name, "profile_numeric", "looks like an outcome: profiled, not clustered on")
    if distinct == 2 and set(present.unique()) <= {0, 1}:
        return Column(name, "profile_numeric", "0/1 flag: profiled per segment, not clustered on")
    if top_share >= NEAR_CONSTANT_SHARE:
        return Column(
            name,
            "profile_numeric",
            f"near-constant ({top_share:.1%} one value): cannot separate segments, profiled",
        )
    if integers and distinct <= MAX_CODE_VALUES and (_CODE_NAME.search(name) or is_id_named(name)):
        return Column(
            name,
            "profile_categorical",
            f"integer code with {distinct} values named like a label: profiled, not clustered on",
        )
    if is_id_named(name):
        return Column(name, "dropped", "named like an id or code: identifies, is not a quantity")
    unit, unit_why = unit_of(name, present)
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
    if _is_outcome_named(name) and distinct <= MAX_PROFILE_CATEGORIES:
        return Column(
            name, "profile_categorical", "looks like an outcome: profiled, not clustered on"
        )
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


def inspect_column(name: str, values: pd.Series) -> tuple[Column, list[str]]:
    """The role of one column other than the id, and the texts of a numeric
    column to read as missing."""
    if why := _not_used(name, values):
        return Column(name, "dropped", why), []
    numbers, texts = as_numbers(values)
    if numbers.notna().sum() >= NUMERIC_SHARE * values.notna().sum() and len(texts) <= 3:
        column = _inspect_numeric(name, numbers)
        if texts:
            column.why += f"; {texts} read as missing"
        return column, texts
    return _inspect_text(name, values), []


def near_duplicates(table: pd.DataFrame, names: list[str]) -> dict[str, tuple[str, float]]:
    """Of the numeric columns ``names``, in order, those that move with an
    earlier one kept as a feature (absolute Spearman rank correlation at
    least ``NEAR_DUPLICATE_CORRELATION``, on at most
    ``CORRELATION_SAMPLE_ROWS`` rows sampled with a fixed seed): each with
    the column it moves with and the correlation. Clustering on both would
    count one quantity twice (``INCOME`` and its square ``INCOMESQ``)."""
    if len(names) < 2:
        return {}
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
