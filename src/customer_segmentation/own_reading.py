"""Reading a user's source for ``kedro configure-data``: a file or a SQL table,
only ever read.

``read_source`` reads CSV with any separator and encoding (UTF-8 with or
without a byte-order mark, UTF-16 and UTF-32 in either byte order with or
without one, else Windows-1252), Parquet, Excel or a SQL table, and returns
the load arguments it inferred, which the catalog entry then uses. A missing,
empty, binary or header-only file, and a header that names a column twice,
are refused in one line (``SourceError``); a database error never shows the
password (``own_yaml.redacted``).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter
from pathlib import Path

import pandas as pd

from customer_segmentation.errors import UserError
from customer_segmentation.own_quoting import masked, printable, redacted

_SAMPLE_BYTES = 200_000
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
)
_NOT_TABLES = (
    (b"PK\x03\x04", "a ZIP archive (an Excel workbook? name it .xlsx)"),
    (b"PAR1", "a Parquet file (name it .parquet)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "gzip-compressed (unpack it first)"),
    (b"SQLite format 3", "a SQLite database (pass sqlite:///PATH --table NAME)"),
)

# The encodings a byte-order mark announces (the catalog comment says so).
BOM_ENCODINGS = {encoding for _, encoding in _BOMS}


class SourceError(UserError, ValueError):
    """The source cannot be read or inspected."""


def _first_line(error: Exception) -> str:
    """The first line of a reader's error message (its type when it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def detect_encoding(raw: bytes) -> str:  # noqa: PLR0911 - one return per case
    """The encoding of a text file from its first bytes: a byte-order mark,
    else the NUL bytes UTF-32 or UTF-16 put beside ASCII, else UTF-8 when
    it decodes, else Windows-1252 (or Latin-1 for bytes cp1252 lacks)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding
    sample = raw[: 4000 // 4 * 4]
    quads = [sample[i : i + 4] for i in range(0, len(sample) - 3, 4)]
    if quads:
        if sum(q[1:] == b"\0\0\0" for q in quads) > 0.5 * len(quads):
            return "utf-32-le"
        if sum(q[:3] == b"\0\0\0" for q in quads) > 0.5 * len(quads):
            return "utf-32-be"
    odd, even = sample[1::2], sample[0::2]
    if odd and odd.count(0) > 0.5 * len(odd) and not even.count(0):
        return "utf-16-le"
    if even and even.count(0) > 0.5 * len(even) and not odd.count(0):
        return "utf-16-be"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if len(raw) == _SAMPLE_BYTES and error.start >= len(raw) - 3:
            return "utf-8"  # a character cut by the sample's end
    try:
        raw.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _separator(text: str, truncated: bool) -> str:
    """The delimiter that splits the first rows (quoted fields may hold line
    breaks) into as many fields as the header, the most of them; else
    whitespace when the first line has several words; else a comma."""
    best, widest = ",", 1
    for separator in (",", ";", "\t", "|"):
        try:
            rows = [
                r
                for r in itertools.islice(csv.reader(io.StringIO(text), delimiter=separator), 50)
                if r
            ]
        except csv.Error:
            continue
        if truncated and len(rows) > 2:
            rows = rows[:-1]  # may be cut short by the sample's end
        width = len(rows[0]) if rows else 0
        if width > widest and sum(len(r) == width for r in rows) >= 0.9 * len(rows):
            best, widest = separator, width
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if widest == 1 and len(first_line.split()) > 1:
        return r"\s+"
    return best


def _refuse_non_tables(shown: str, raw: bytes, text: str) -> None:
    for magic, what in _NOT_TABLES:
        if raw.startswith(magic):
            raise SourceError(f"{shown} is not a text table: it is {what}")
    if not text.strip():
        raise SourceError(
            f"{shown} is empty"
            + (" (only blank lines)" if raw else " (0 bytes)")
            + ": expected a header row and one row per customer"
        )
    controls = sum(ch < " " and ch not in "\t\r\n\f" for ch in text[:20_000])
    if controls > 0.01 * min(len(text), 20_000):
        raise SourceError(
            f"{shown} is not a text table (it holds binary data): export it as CSV, "
            "Parquet or Excel"
        )


def refuse_duplicate_names(shown: str, header: list) -> None:
    """Refuses a header that names a column twice (pandas would silently
    rename the second ``Milk`` to ``Milk.1``)."""
    twice = [str(name) for name, count in Counter(header).items() if count > 1]
    if twice:
        raise SourceError(
            f"{shown}: the header names {', '.join(repr(printable(n)) for n in twice)} more than "
            "once; rename the columns so that each name is used once"
        )


def _read_csv(path: Path) -> tuple[pd.DataFrame, dict]:
    raw = path.read_bytes()
    encoding = detect_encoding(raw[:_SAMPLE_BYTES])
    text = raw[:_SAMPLE_BYTES].decode(encoding, errors="replace")
    _refuse_non_tables(str(path), raw[:_SAMPLE_BYTES], text)
    separator = _separator(text.removeprefix("\ufeff"), len(raw) > _SAMPLE_BYTES)
    load_args = {"sep": separator, "encoding": encoding}
    try:
        header = pd.read_csv(io.BytesIO(raw), header=None, nrows=1, dtype=str, **load_args)
        refuse_duplicate_names(str(path), header.iloc[0].tolist())
        table = pd.read_csv(io.BytesIO(raw), dtype=str, skip_blank_lines=True, **load_args)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as error:
        raise SourceError(f"{path} could not be read as a table: {_first_line(error)}") from None
    return table, load_args


def _read_file(path: Path) -> tuple[pd.DataFrame, str, dict]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path), "parquet", {}
        if suffix in (".xlsx", ".xlsm", ".xls"):
            # The first sheet, a header in its first row; numbers stay numbers.
            header = pd.read_excel(path, sheet_name=0, header=None, nrows=1)
            if not header.empty:
                refuse_duplicate_names(str(path), header.iloc[0].tolist())
            return pd.read_excel(path, sheet_name=0), "excel", {}
    except SourceError:
        raise
    except Exception as error:  # noqa: BLE001 - any reader's error, said in one line
        raise SourceError(
            f"{path} could not be read as a {suffix[1:]} file: {_first_line(error)}"
        ) from None
    frame, load_args = _read_csv(path)
    return frame, "csv", load_args


def read_source(source: str, table: str | None = None) -> tuple[pd.DataFrame, str, dict]:
    """The whole source (a CSV, Parquet or Excel file, or a SQL table) as a
    DataFrame (CSV columns as text), its kind and the load arguments inferred
    for it."""
    shown = masked(source)
    if "://" in source:
        if not table:
            raise SourceError(f"{shown} is a database: name the table with --table")
        try:
            return pd.read_sql_table(table, con=source), "sql", {}
        except Exception as error:  # noqa: BLE001 - any driver error, said plainly
            message = f"cannot read table {printable(table)!r} from {shown}: {_first_line(error)}"
            raise SourceError(redacted(message, source)) from None
    path = Path(source)
    if path.is_dir():
        raise SourceError(f"{source} is a folder: name the file to read inside it")
    if not path.is_file():
        raise SourceError(f"{source} does not exist: check the path")
    return _read_file(path)
