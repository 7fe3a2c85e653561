"""How a log's timestamps are read, on either engine: on one machine by
pandas (``parse_timestamps``: a format given, whole numbers as YYYYMMDD, or
any form pandas infers), on Spark by datetime patterns (``spark_pattern``
for a format given, ``text_forms`` for the fixed list of common forms,
since Spark infers none). A leaf module: it imports neither engine, and no
pyspark (patterns are text)."""

from __future__ import annotations

import re
import warnings

import pandas as pd

from .contracts import InvalidTransactionsError

# strftime directives and the Spark datetime patterns that read them.
_STRFTIME = {
    "%Y": "yyyy",
    "%y": "yy",
    "%m": "MM",
    "%d": "dd",
    "%H": "HH",
    "%I": "hh",
    "%p": "a",
    "%M": "mm",
    "%S": "ss",
    "%f": "SSSSSS",
    "%b": "MMM",
    "%B": "MMMM",
    "%j": "DDD",
    "%z": "Z",
    "%%": "%",
}


def spark_pattern(date_format: str) -> str:
    """A strftime format as a Spark datetime pattern (literal text quoted)."""
    parts = re.split(r"(%.)", date_format)
    pattern = []
    for part in parts:
        if part in _STRFTIME:
            pattern.append(_STRFTIME[part])
        elif part.startswith("%"):
            raise InvalidTransactionsError(
                f"customer_features.date_format {date_format!r}: {part} has no Spark equivalent"
            )
        elif part:
            pattern.append(re.sub(r"([A-Za-z]+)", r"'\1'", part))
    return "".join(pattern)


def text_forms(dayfirst: bool) -> list[str]:
    """The text forms a timestamp may take without ``date_format``."""
    first, second = ("d", "M") if dayfirst else ("M", "d")
    forms = ["yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]", "yyyy-M-d[ H:mm[:ss][.SSSSSS]]"]
    for separator in ("/", "-", "."):
        forms.append(f"{first}{separator}{second}{separator}yyyy[ H:mm[:ss]]")
    return forms


def parse_timestamps(values: pd.Series, date_format: str | None, dayfirst: bool) -> pd.Series:
    """Parses dates and times: ``date_format`` when given; else whole numbers
    as YYYYMMDD and text in ISO or the usual day/month forms; NaT when not a date."""
    if date_format:
        return pd.to_datetime(values, format=date_format, errors="coerce")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(None) if values.dt.tz is not None else values
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_datetime(
            values.astype("Int64").astype("string"), format="%Y%m%d", errors="coerce"
        )
    text = values.astype("string").str.strip()
    if text.dropna().str.fullmatch(r"\d{8}").all():
        return pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    # One format, inferred from the first value, parses a consistent log fast;
    # only the values it misses are parsed one by one (format="mixed" on every
    # value is many times slower on a log of hundreds of thousands of lines).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
        stamps = pd.to_datetime(text, dayfirst=dayfirst, errors="coerce")
    missed = stamps.isna() & text.notna()
    if missed.any():
        stamps[missed] = pd.to_datetime(
            text[missed], format="mixed", dayfirst=dayfirst, errors="coerce"
        )
    return stamps
