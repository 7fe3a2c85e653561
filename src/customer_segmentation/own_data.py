"""From a customer file (or SQL table) to a working Kedro environment.

``kedro configure-data SOURCE --env NAME`` reads the source (never writes
it), infers how to read it and what each column is, and writes
``conf/NAME/catalog.yml``, ``parameters.yml`` and ``globals.yml`` with a
comment on every inferred choice. ``inspect_source`` does the inferring and
``write_environment`` the writing; both are plain functions.

Reading (``read_source``): CSV with any separator and encoding (UTF-8 with or
without a byte-order mark, UTF-16 and UTF-32 in either byte order with or
without one, else Windows-1252), Parquet, Excel or a SQL table. A missing,
empty, binary or header-only file, and a header that names a column twice,
are refused in one line (``SourceError``). What each column is comes from
``own_columns``; everything written from the data or the user goes through
``own_yaml``, which quotes it and masks database passwords (they live only in
``conf/local/credentials.yml``).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from customer_segmentation.errors import UserError
from customer_segmentation.own_columns import (
    Column,
    find_id,
    inspect_column,
    near_duplicates,
    profile_duplicate,
    unnamed_spend,
)
from customer_segmentation.own_yaml import comment, flow, masked, printable, redacted, scalar

ROLES = ("monetary", "frequency", "recency", "tenure", "demographic")
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


class SourceError(UserError, ValueError):
    """The source cannot be read or inspected."""


@dataclass
class Inspection:
    """What ``inspect_source`` found out about a source."""

    source: str
    kind: str  # csv, parquet, excel or sql
    rows: int
    columns: list[Column]
    load_args: dict = field(default_factory=dict)
    table: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def shown(self) -> str:
        """The source as messages and comments show it: no password."""
        return masked(self.source)

    @property
    def first_line(self) -> int:
        """The line of the first data row: below the header in a file."""
        return 2 if self.kind in ("csv", "excel") else 1

    def named(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    @property
    def id_column(self) -> str | None:
        ids = self.named("id")
        return ids[0] if ids else None


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
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SourceError(f"{path} could not be read as a table: {first}") from None
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
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SourceError(f"{path} could not be read as a {suffix[1:]} file: {first}") from None
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
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise SourceError(
                redacted(f"cannot read table {printable(table)!r} from {shown}: {first}", source)
            ) from None
    path = Path(source)
    if path.is_dir():
        raise SourceError(f"{source} is a folder: name the file to read inside it")
    if not path.is_file():
        raise SourceError(f"{source} does not exist: check the path")
    return _read_file(path)


def _duplicate_ids(frame: pd.DataFrame, id_column: str, first_line: int) -> str | None:
    """A note naming repeated or missing ids with their lines, if any."""
    ids = frame[id_column]
    repeated = ids[ids.notna() & ids.duplicated(keep=False)]
    missing = int(ids.isna().sum())
    if repeated.empty and not missing:
        return None
    parts = []
    for value, rows in list(repeated.groupby(repeated, sort=False).groups.items())[:5]:
        lines = ", ".join(str(i + first_line) for i in list(rows)[:3])
        parts.append(f"{printable(str(value))!r} (lines {lines}{', ...' if len(rows) > 3 else ''})")
    text = f"The id column {printable(id_column)!r} "
    if parts:
        count = repeated.nunique()
        text += f"repeats {count} value{'s' * (count > 1)}: " + "; ".join(parts)
        text += " and more" if count > 5 else ""
    if missing:
        text += (" and " if parts else "") + f"is empty in {missing} rows"
    return (
        text + ". It stays the id column: the run stops on these rows until the source is "
        "fixed (or set features.id_column to another column)."
    )


def inspect_source(source: str, table: str | None = None) -> Inspection:
    """Reads the source and infers how to read it and every column's role."""
    frame, kind, load_args = read_source(source, table)
    shown = masked(source)
    if frame.empty:
        raise SourceError(f"{shown} has a header but no data rows: expected one row per customer")
    inspection = Inspection(source=source, kind=kind, rows=len(frame), columns=[], table=table)
    inspection.load_args = load_args
    id_column, id_why = find_id(frame)
    na_values: set[str] = set()
    for name in frame.columns:
        if name == id_column:
            inspection.columns.append(Column(name, "id", f"{id_why}: the customer id, as text"))
            continue
        column, texts = inspect_column(name, frame[name])
        inspection.columns.append(column)
        na_values.update(texts)
    moved = near_duplicates(frame, inspection.named("numeric"))
    inspection.columns = [
        profile_duplicate(c, *moved[c.name]) if c.name in moved else c for c in inspection.columns
    ]
    if kind == "csv":
        if id_column is not None:
            inspection.load_args["dtype"] = {id_column: "str"}
        if na_values:
            inspection.load_args["na_values"] = sorted(na_values)
        inspection.load_args["skip_blank_lines"] = False
    if id_column is None:
        inspection.notes.append(
            "No id column found: the rows are numbered (id_column: null, column row_number "
            "from 1). Scoring then numbers a batch's rows the same way."
        )
    elif note := _duplicate_ids(frame, id_column, inspection.first_line):
        inspection.notes.append(note)
    if not any(c.meaning in ("monetary", "frequency") for c in inspection.columns):
        inspection.notes.append(
            "No column reads as spend or purchase frequency: customer value cannot be "
            "judged until you list such columns under features.roles (monetary, frequency) "
            "in the environment's parameters.yml."
        )
        inspection.notes += [
            f"{c.name} reads as money but its name does not say spend: if it is what "
            "customers spend, list it under features.roles.monetary."
            for c in inspection.columns
            if unnamed_spend(c)
        ]
    if not inspection.named("numeric") and not inspection.named("categorical"):
        names = ", ".join(repr(printable(c.name)) for c in inspection.columns)
        raise SourceError(f"{shown}: no column can be clustered on (found {names})")
    return inspection


def source_entry(inspection: Inspection, name: str, env: str, filepath: str) -> str:
    """The catalog entry that reads the source (a database through credentials)."""
    lines = [f"{name}:"]
    if inspection.kind == "sql":
        lines += [
            "  type: pandas.SQLTableDataset",
            f"  table_name: {scalar(inspection.table)}",
            f"  credentials: {env}_database  # in conf/local/credentials.yml, never committed",
        ]
    else:
        kind = {
            "parquet": "pandas.ParquetDataset",
            "excel": "pandas.ExcelDataset",
        }.get(inspection.kind, "pandas.CSVDataset")
        lines += [f"  type: {kind}", f"  filepath: {scalar(filepath)}"]
    if inspection.load_args:
        lines.append("  load_args:")
        encoding = inspection.load_args.get("encoding", "")
        comments = {
            "sep": "separator sniffed from the first lines",
            "encoding": "decodes the whole file"
            + (" (it starts with a byte-order mark)" if encoding in _BOM_ENCODINGS else ""),
            "dtype": "ids are read as text, so leading zeros stay",
            "na_values": "texts found in numeric columns, read as missing",
            "skip_blank_lines": "a blank line is a row, reported (not silently dropped)",
        }
        for key, value in inspection.load_args.items():
            lines.append(f"    {key}: {flow(value)}  # {comments[key]}")
    return "\n".join(lines)


_BOM_ENCODINGS = {encoding for _, encoding in _BOMS}


def catalog_yaml(inspection: Inspection, env: str, filepath: str) -> str:
    return (
        comment(f"Written by `kedro configure-data` from {inspection.shown}; edit freely.")
        + "# The customers to segment. Only ever read: this entry has no\n"
        "# `generated_by: data_generation` mark, so data_generation refuses to run here.\n"
        + source_entry(inspection, "raw_customers", env, filepath)
        + "\n\n# The customers scoring assigns segments to: this same file until you point\n"
        "# it at the nightly batch (same columns, same format).\n"
        + source_entry(inspection, "customers_to_score", env, filepath)
        + "\n"
    )


def parameters_yaml(inspection: Inspection) -> str:
    """``features`` and the first data line, every choice with its reason."""

    def why(*roles: str, indent: str = "  ") -> str:
        return "".join(
            comment(f"  {c.name}: {c.why}", indent) for c in inspection.columns if c.role in roles
        )

    numeric = [c for c in inspection.columns if c.role == "numeric"]
    bounds = {c.name: list(c.bounds) for c in numeric if c.bounds}
    roles = {role: [c.name for c in inspection.columns if c.meaning == role] for role in ROLES}
    outcomes = {c.name: c.outcome for c in inspection.columns if c.outcome}
    id_column = inspection.id_column
    id_line = (
        f"  id_column: {scalar(id_column)}  # read as text\n"
        if id_column
        else "  id_column: null  # no column identifies customers: rows are numbered (row_number)\n"
    )
    return (
        comment(
            f"Written by `kedro configure-data` from {inspection.shown} ({inspection.rows:,} rows);"
        )
        + "# every choice below is inferred from the data: check it, then edit freely.\n"
        "# Everything not set here comes from conf/base (merged key by key).\n"
        + ("# Not used:\n" + why("dropped", indent="") if inspection.named("dropped") else "")
        + "features:\n"
        + why("id")
        + id_line
        + "  # Clustered on:\n"
        + why("numeric", "categorical")
        + f"  numeric: {flow(inspection.named('numeric'))}\n"
        + f"  categorical: {flow(inspection.named('categorical'))}  # categories learned from the data\n"
        + "  categories: {}\n"
        + "  # Values outside these bounds are errors in training and rejects in scoring.\n"
        + f"  bounds: {flow(bounds)}\n"
        + "  # Described per segment, never clustered on:\n"
        + why("profile_numeric", "profile_categorical")
        + "  profile_only:\n"
        + f"    numeric: {flow(inspection.named('profile_numeric'))}\n"
        + f"    categorical: {flow(inspection.named('profile_categorical'))}\n"
        + "  # Outcomes: churn is one to prevent, response one to repeat; positive is the\n"
        + "  # value that means it happened. Each is profile-only too.\n"
        + (
            "  outcomes:\n"
            + "".join(
                f"    {scalar(name)}: {flow({'kind': kind, 'positive': positive})}\n"
                for name, (kind, positive) in outcomes.items()
            )
            if outcomes
            else "  outcomes: {}\n"
        )
        + "  # What numeric columns mean, from their names and values (the unit and\n"
        + "  # reason of each is above): monetary and frequency make a segment valuable,\n"
        + "  # recency is days since the last purchase (lower is better), tenure is time\n"
        + "  # as a customer, demographic columns never make a segment valuable; shares,\n"
        + "  # scores, balances and limits play none. Add the ones the names missed.\n"
        + (
            ""
            if roles["monetary"] or roles["frequency"]
            else "  # No column reads as spend or purchase frequency: until one is marked\n"
            "  # monetary or frequency, the report says customer value cannot be judged.\n"
            + "".join(
                comment(f"{c.name} reads as money but its name does not say spend.", "  ")
                for c in inspection.columns
                if unnamed_spend(c)
            )
        )
        + "  roles:\n"
        + "".join(f"    {role}: {flow(columns)}\n" for role, columns in roles.items())
        + "\npreprocessing:\n"
        + f"  first_line: {inspection.first_line}  # line of the first data row, for messages\n"
        + "\nscoring:\n"
        + f"  first_line: {inspection.first_line}  # rejects name the batch's own lines\n"
    )


def environment_folder(project: Path, env: str, force: bool) -> Path:
    """``conf/<env>``, after checking that ``env`` can name an environment and
    that it holds nothing yet (unless ``force``)."""
    if (
        not env.isascii()
        or not env.replace("-", "").replace("_", "").isalnum()
        or env
        in (
            "base",
            "local",
        )
    ):
        raise SourceError(
            f"{printable(env)!r} cannot be an environment name: use letters, digits, - or _"
        )
    folder = project / "conf" / env
    if folder.exists() and any(folder.iterdir()) and not force:
        raise SourceError(f"{folder} already exists: choose another --env, or add --force")
    return folder


def catalog_filepath(source: str, kind: str, project: Path) -> str:
    """The source as a catalog entry names it: a file relative to the project
    when it lies inside it, else absolute; a database URL as it is."""
    if kind == "sql":
        return source
    path, root = Path(source).resolve(), project.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def globals_yaml(env: str) -> str:
    return (
        f"# Everything this environment writes goes under data/{env}/, apart from other\n"
        f"# environments' versions.\ndata_dir: data/{env}\n"
    )


def write_environment(
    inspection: Inspection, env: str, project: Path, force: bool = False
) -> list[Path]:
    """Writes ``conf/<env>/{catalog,parameters,globals}.yml`` (and, for a
    database, the connection in ``conf/local/credentials.yml``); refuses to
    overwrite an environment unless ``force``. Returns the files written."""
    folder = environment_folder(project, env, force)
    folder.mkdir(parents=True, exist_ok=True)
    filepath = catalog_filepath(inspection.source, inspection.kind, project)
    written = {
        folder / "catalog.yml": catalog_yaml(inspection, env, filepath),
        folder / "parameters.yml": parameters_yaml(inspection),
        folder / "globals.yml": globals_yaml(env),
    }
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    if inspection.kind == "sql":
        written[write_credentials(project, env, inspection.source)] = ""
    return list(written)


def write_credentials(project: Path, env: str, url: str) -> Path:
    """Adds the database connection ``<env>_database`` to
    ``conf/local/credentials.yml`` (never committed; the project reads it
    under any environment), unless it is there already."""
    credentials = project / "conf" / "local" / "credentials.yml"
    credentials.parent.mkdir(parents=True, exist_ok=True)
    existing = credentials.read_text(encoding="utf-8") if credentials.exists() else ""
    if f"\n{env}_database:" not in f"\n{existing}":
        credentials.write_text(
            existing + f"\n{env}_database:\n  con: {scalar(url)}\n", encoding="utf-8"
        )
    return credentials


def summary(inspection: Inspection, env: str, written: list[Path]) -> str:
    """What was decided and what to check, for the terminal."""
    names = {c.name: printable(c.name) for c in inspection.columns}
    width = min(30, max(len(n) for n in names.values()))
    roles = {
        "id": "id",
        "numeric": "numeric feature",
        "categorical": "categorical feature",
        "profile_numeric": "profile-only",
        "profile_categorical": "profile-only",
        "dropped": "not used",
    }
    outcomes = [
        f"  {names[c.name]}: {c.outcome[0]}, positive {c.outcome[1]!r}"
        for c in inspection.columns
        if c.outcome
    ]
    load_args = {k: v for k, v in inspection.load_args.items() if k != "na_values"}
    lines = [
        f"{inspection.shown}: {inspection.rows:,} rows, {len(inspection.columns)} columns"
        + (f", read with {printable(str(load_args))}" if load_args else ""),
        "",
        *(
            f"  {names[c.name]:<{width}}  "
            f"{roles[c.role] + (f' ({c.meaning})' if c.meaning else ''):<34} {printable(c.why)}"
            for c in inspection.columns
        ),
        "",
        *(["Outcomes (features.outcomes):", *outcomes, ""] if outcomes else []),
        *(printable(note) for note in inspection.notes),
        "Wrote " + ", ".join(str(p) for p in written),
        "Check: the id column, that each feature is something segments should differ on,",
        "and that the profile-only columns (outcomes, flags, labels) are right; then run:",
        f"  kedro run --env {env} --pipelines segmentation",
        f"  kedro run --env {env} --pipelines scoring",
    ]
    return "\n".join(lines)
