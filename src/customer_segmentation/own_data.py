"""From a customer file (or SQL table) to a working Kedro environment.

``kedro configure-data SOURCE --env NAME`` reads the source (never writes
it), infers how to read it and what each column is, and writes
``conf/NAME/catalog.yml``, ``parameters.yml`` and ``globals.yml`` with a
comment on every inferred choice. ``inspect_source`` does the inferring and
``write_environment`` the writing; both are plain functions, tested on real
files.

What is inferred, per column:

- the **id**: a column whose name says id/key/number or that is text, unique
  and never empty; read as text so ``0001`` stays ``0001``. None found: the
  rows are numbered (``id_column: null``);
- **dropped**: constant, mostly empty (over half missing), free text (many
  distinct values), and dates (not clustered on; derive tenure or recency
  from them first);
- **profile-only** (described per segment, never clustered on): 0/1 flags,
  outcome columns (response, accepted, churn, complain, ...), near-constant
  columns, codes or text named like a label or grouping (segment, cluster,
  class, channel, region, type, ...), and categorical text with many
  categories;
- **numeric features**: everything else numeric; non-negative ones get a
  lower bound of 0, ages [0, 120] (skewed ones are transformed by the
  preprocessing pipeline itself, from the data);
- **roles** of numeric columns, from their names (``ROLE_NAMES``): monetary
  (spend, amount, revenue, charges, ``Mnt...``), frequency (purchases, orders,
  visits), recency (recency, days since), tenure, demographic (age, birth,
  income, children): customer value and the recommendation rules read them;
- **categorical features**: text with at most ``MAX_FEATURE_CATEGORIES``
  categories.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from customer_segmentation.errors import UserError

MAX_FEATURE_CATEGORIES = 15
MAX_PROFILE_CATEGORIES = 50
MOSTLY_EMPTY_SHARE = 0.5
NEAR_CONSTANT_SHARE = 0.99
NUMERIC_SHARE = 0.9
SKEWNESS = 1.0
_ID_NAME = re.compile(r"(id|key|ref|reference|number|num|no|nr|code)$|^id[_\s.-]", re.I)
_OUTCOME_NAME = re.compile(
    r"response|accepted|churn|complain|target|label|outcome|converted|responded|cmp\d"
    r"|^(y|class|exited|attrition.*)$",
    re.I,
)
_CODE_NAME = re.compile(
    r"channel|region|type|class|group|segment|cluster|status|level|grade|tier|zone|area", re.I
)
_DATE_NAME = re.compile(r"date|time|dt_|_dt$|day$|timestamp|created|joined|since", re.I)
_AGE_NAME = re.compile(r"(^|_)age($|_)", re.I)
# What a numeric column's name says it means, tried in this order (``features.roles``).
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
    "frequency": re.compile(
        r"purchases|orders|frequency|visits|transactions|sessions|trips|num_?\w*purch", re.I
    ),
    "monetary": re.compile(
        r"spend|spent|amount|amt|revenue|sales|monetary|^mnt|paid|payment|order[_\s]*value"
        r"|charge|billed|billing|fee"
        r"|basket|\baov\b|ltv|clv|lifetime[_\s]*value|total[_\s]*value",
        re.I,
    ),
}


def propose_role(name: str) -> str | None:
    """The role a numeric column's name suggests, or None."""
    return next((role for role, pattern in ROLE_NAMES.items() if pattern.search(name)), None)


class SourceError(UserError, ValueError):
    """The source cannot be read or inspected."""


@dataclass
class Column:
    """One column of the source: what it is, and why we think so."""

    name: str
    role: str  # id, numeric, categorical, profile_numeric, profile_categorical, dropped
    why: str
    meaning: str | None = None  # its features.roles role, proposed from its name
    bounds: tuple[float | None, float | None] | None = None


@dataclass
class Inspection:
    """What ``inspect_source`` found out about a source."""

    source: str
    kind: str  # csv, parquet or sql
    rows: int
    columns: list[Column]
    load_args: dict = field(default_factory=dict)
    table: str | None = None
    notes: list[str] = field(default_factory=list)

    def named(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    @property
    def id_column(self) -> str | None:
        ids = self.named("id")
        return ids[0] if ids else None


def _encoding(raw: bytes) -> str:
    try:
        raw.decode("utf-8-sig")
        return "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _separator(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()][:20]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        if lines and len(lines[0].split()) > 1:
            return r"\s+"
        return ","


def _read_csv(path: Path) -> tuple[pd.DataFrame, dict]:
    raw = path.read_bytes()
    encoding = _encoding(raw[:200_000])
    text = raw[:200_000].decode(encoding, errors="replace")
    separator = _separator(text)
    load_args = {"sep": separator, "encoding": encoding}
    try:
        table = pd.read_csv(
            io.BytesIO(raw), sep=separator, encoding=encoding, dtype=str, skip_blank_lines=True
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SourceError(f"{path} could not be read as a table: {error}") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table, load_args


def read_source(source: str, table: str | None = None) -> tuple[pd.DataFrame, str, dict]:
    """The whole source (a CSV, Parquet or Excel file, or a SQL table) as a
    DataFrame (CSV columns as text), its kind and the load arguments inferred
    for it."""
    if "://" in source:
        if not table:
            raise SourceError(f"{source} is a database: name the table with --table")
        try:
            return pd.read_sql_table(table, con=source), "sql", {}
        except Exception as error:  # noqa: BLE001 - any driver error, said plainly
            raise SourceError(f"cannot read table '{table}' from {source}: {error}") from None
    path = Path(source)
    if not path.is_file():
        raise SourceError(f"{source} is not a file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path), "parquet", {}
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        # The first sheet, a header in its first row; numbers stay numbers.
        return pd.read_excel(path, sheet_name=0), "excel", {}
    frame, load_args = _read_csv(path)
    return frame, "csv", load_args


def _as_numbers(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """The column as numbers, and the distinct texts that are not numbers."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float), []
    text = values.dropna().astype(str)
    numbers = pd.to_numeric(text.str.strip(), errors="coerce")
    return numbers.reindex(values.index), sorted(text[numbers.isna()].unique().tolist())


def _is_date(name: str, values: pd.Series) -> bool:
    present = values.dropna().astype(str).head(500)
    if present.empty:
        return False
    if pd.api.types.is_numeric_dtype(values) or present.str.fullmatch(r"-?[\d.]+").all():
        return bool(_DATE_NAME.search(name) and present.str.fullmatch(r"(19|20)\d{6}").mean() > 0.9)
    parsed = pd.to_datetime(present, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.9)


def _inspect_numeric(name: str, numbers: pd.Series) -> Column:
    present = numbers.dropna()
    distinct = present.nunique()
    top_share = present.value_counts(normalize=True).iloc[0]
    integers = bool((present % 1 == 0).all())
    if _OUTCOME_NAME.search(name):
        return Column(name, "profile_numeric", "looks like an outcome: profiled, not clustered on")
    if distinct == 2 and set(present.unique()) <= {0, 1}:
        return Column(name, "profile_numeric", "0/1 flag: profiled per segment, not clustered on")
    if top_share >= NEAR_CONSTANT_SHARE:
        return Column(
            name,
            "profile_numeric",
            f"near-constant ({top_share:.1%} one value): cannot separate segments, profiled",
        )
    if integers and distinct <= 10 and _CODE_NAME.search(name):
        return Column(
            name,
            "profile_categorical",
            f"integer code with {distinct} values named like a label: profiled, not clustered on",
        )
    low = float(present.min())
    column = Column(name, "numeric", f"numeric, {distinct:,} values")
    if _AGE_NAME.search(name):
        column.bounds = (0, 120)
        column.why += "; an age: bounds [0, 120]"
    elif low >= 0:
        column.bounds = (0, None)
        column.why += "; none negative: bounds [0, none]"
    skewness = float(present.skew()) if distinct > 2 else 0.0
    if abs(skewness) > SKEWNESS and distinct > 10:
        column.why += f"; skewed ({skewness:.1f}): transformed before scaling"
    return column


def _inspect_text(name: str, values: pd.Series) -> Column:
    present = values.dropna().astype(str)
    distinct = present.nunique()
    if _OUTCOME_NAME.search(name) and distinct <= MAX_PROFILE_CATEGORIES:
        return Column(
            name, "profile_categorical", "looks like an outcome: profiled, not clustered on"
        )
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


def _is_row_counter(values: pd.Series) -> bool:
    """A column that only counts rows (0, 1, 2, ... or 1, 2, 3, ...), such as
    the unnamed index column a pandas export leaves behind."""
    numbers, texts = _as_numbers(values)
    if texts or numbers.isna().any():
        return False
    start = numbers.iloc[0] if len(numbers) else None
    return start in (0, 1) and bool((numbers.diff().iloc[1:] == 1).all())


def _find_id(table: pd.DataFrame) -> str | None:
    """A column that identifies customers: unique and never empty, named like
    an id (preferred), holding text, or else a row counter."""
    candidates = [
        name
        for name in table.columns
        if table[name].notna().all() and table[name].is_unique and len(table) > 1
    ]
    named = [name for name in candidates if _ID_NAME.search(name) or name.lower() == "id"]
    if named:
        return named[0]
    for name in candidates:
        numbers, texts = _as_numbers(table[name])
        if texts:  # text ids such as C0001 or emails
            return name
    counters = [name for name in candidates if _is_row_counter(table[name])]
    return counters[0] if counters else None


def _unused(name: str, values: pd.Series) -> str | None:
    """Why a column says nothing segments could differ on, if it does not."""
    present_share = values.notna().mean()
    if values.dropna().astype(str).str.strip().nunique() <= 1:
        return "constant: says nothing"
    if _is_row_counter(values):
        return "counts rows (1, 2, 3, ...): says nothing"
    if present_share < MOSTLY_EMPTY_SHARE:
        return f"mostly empty ({1 - present_share:.0%} missing)"
    if _is_date(name, values):
        return "a date: not clustered on (derive tenure or recency from it first)"
    return None


def _inspect_column(name: str, values: pd.Series, id_column: str | None) -> tuple[Column, list]:
    """The role of one column, and the texts of a numeric column to read as missing."""
    if name == id_column:
        return Column(name, "id", "unique and never empty: the customer id, read as text"), []
    if why := _unused(name, values):
        return Column(name, "dropped", why), []
    numbers, texts = _as_numbers(values)
    if numbers.notna().sum() >= NUMERIC_SHARE * values.notna().sum() and len(texts) <= 3:
        column = _inspect_numeric(name, numbers)
        if texts:
            column.why += f"; {texts} read as missing"
        if column.role in ("numeric", "profile_numeric"):
            column.meaning = propose_role(name)
        return column, texts
    return _inspect_text(name, values), []


def inspect_source(source: str, table: str | None = None) -> Inspection:
    """Reads the source and infers how to read it and every column's role."""
    frame, kind, load_args = read_source(source, table)
    if frame.empty:
        raise SourceError(f"{source} has no rows")
    inspection = Inspection(source=source, kind=kind, rows=len(frame), columns=[], table=table)
    inspection.load_args = load_args
    id_column = _find_id(frame)
    na_values: set[str] = set()
    for name in frame.columns:
        column, texts = _inspect_column(name, frame[name], id_column)
        inspection.columns.append(column)
        na_values.update(texts)
    if kind == "csv":
        dtype_column = id_column
        if dtype_column:
            inspection.load_args["dtype"] = {dtype_column: "str"}
        if na_values:
            inspection.load_args["na_values"] = sorted(na_values)
        inspection.load_args["skip_blank_lines"] = False
    if id_column is None:
        inspection.notes.append(
            "No id column found: the rows are numbered (id_column: null, column row_number "
            "from 1). Scoring then numbers a batch's rows the same way."
        )
    if not any(c.meaning in ("monetary", "frequency") for c in inspection.columns):
        inspection.notes.append(
            "No column name says spend or purchase frequency: customer value cannot be "
            "judged until you list such columns under features.roles (monetary, frequency) "
            "in the environment's parameters.yml."
        )
    if not inspection.named("numeric") and not inspection.named("categorical"):
        raise SourceError(
            f"{source}: no column can be clustered on (found {[c.name for c in inspection.columns]})"
        )
    return inspection


def _yaml(value) -> str:
    """One YAML value in flow style (lists and mappings on one line)."""
    import yaml  # noqa: PLC0415 - only this command writes YAML

    return (
        yaml.safe_dump(value, default_flow_style=True, width=10_000)
        .strip()
        .removesuffix("...")
        .strip()
    )


def _source_entry(inspection: Inspection, name: str, env: str, filepath: str) -> str:
    lines = [f"{name}:"]
    if inspection.kind == "sql":
        lines += [
            "  type: pandas.SQLTableDataset",
            f"  table_name: {inspection.table}",
            f"  credentials: {env}_database  # in conf/local/credentials.yml, never committed",
        ]
    else:
        kind = {
            "parquet": "pandas.ParquetDataset",
            "excel": "pandas.ExcelDataset",
        }.get(inspection.kind, "pandas.CSVDataset")
        lines += [f"  type: {kind}", f"  filepath: {filepath}"]
    if inspection.load_args:
        lines.append("  load_args:")
        comments = {
            "sep": "separator sniffed from the first lines",
            "encoding": "decodes the whole file"
            + (
                " (it starts with a byte-order mark)"
                if inspection.load_args.get("encoding") == "utf-8-sig"
                else ""
            ),
            "dtype": "the id column is read as text, so leading zeros stay",
            "na_values": "texts found in numeric columns, read as missing",
            "skip_blank_lines": "a blank line is a row, reported (not silently dropped)",
        }
        for key, value in inspection.load_args.items():
            lines.append(f"    {key}: {_yaml(value)}  # {comments[key]}")
    return "\n".join(lines)


def catalog_yaml(inspection: Inspection, env: str, filepath: str) -> str:
    return (
        f"# Written by `kedro configure-data` from {inspection.source}; edit freely.\n"
        "# The customers to segment. Only ever read: this entry has no\n"
        "# `generated_by: data_generation` mark, so data_generation refuses to run here.\n"
        + _source_entry(inspection, "raw_customers", env, filepath)
        + "\n\n# The customers scoring assigns segments to: this same file until you point\n"
        "# it at the nightly batch (same columns, same format).\n"
        + _source_entry(inspection, "customers_to_score", env, filepath)
        + "\n"
    )


def parameters_yaml(inspection: Inspection) -> str:
    def names(role: str) -> list[str]:
        return inspection.named(role)

    def why(role: str) -> str:
        return "".join(f"  #   {c.name}: {c.why}\n" for c in inspection.columns if c.role == role)

    numeric = [c for c in inspection.columns if c.role == "numeric"]
    bounds = {c.name: list(c.bounds) for c in numeric if c.bounds}
    roles = {role: [c.name for c in inspection.columns if c.meaning == role] for role in ROLE_NAMES}
    roles = {
        role: roles[role] for role in ("monetary", "frequency", "recency", "tenure", "demographic")
    }
    value_roles = roles["monetary"] or roles["frequency"]
    dropped = "".join(f"#   {c.name}: {c.why}\n" for c in inspection.columns if c.role == "dropped")
    first_line = 2 if inspection.kind in ("csv", "excel") else 1  # below a header row
    id_column = inspection.id_column
    id_line = (
        f"  id_column: {_yaml(id_column)}  # unique and never empty; read as text\n"
        if id_column
        else "  id_column: null  # no column identifies customers: rows are numbered (row_number)\n"
    )
    return (
        f"# Written by `kedro configure-data` from {inspection.source} ({inspection.rows:,} rows);\n"
        "# every choice below is inferred from the data: check it, then edit freely.\n"
        "# Everything not set here comes from conf/base (merged key by key).\n"
        + (f"# Not used:\n{dropped}" if dropped else "")
        + "features:\n"
        + id_line
        + "  # Clustered on:\n"
        + why("numeric")
        + f"  numeric: {_yaml(names('numeric'))}\n"
        + why("categorical")
        + f"  categorical: {_yaml(names('categorical'))}  # categories learned from the data\n"
        + "  categories: {}\n"
        + "  # Values outside these bounds are errors in training and rejects in scoring.\n"
        + f"  bounds: {_yaml(bounds)}\n"
        + "  # Described per segment, never clustered on:\n"
        + why("profile_numeric")
        + why("profile_categorical")
        + "  profile_only:\n"
        + f"    numeric: {_yaml(names('profile_numeric'))}\n"
        + f"    categorical: {_yaml(names('profile_categorical'))}\n"
        + "  # What numeric columns mean, proposed from their names: monetary and\n"
        + "  # frequency make a segment valuable, recency is days since the last\n"
        + "  # purchase (lower is better), tenure is time as a customer, demographic\n"
        + "  # columns never make a segment valuable. Add the ones the names missed.\n"
        + (
            ""
            if value_roles
            else "  # No column looks like spend or purchase frequency: until one is marked\n"
            "  # monetary or frequency, the report says customer value cannot be judged.\n"
        )
        + "  roles:\n"
        + "".join(f"    {role}: {_yaml(columns)}\n" for role, columns in roles.items())
        + "\npreprocessing:\n"
        + f"  first_line: {first_line}  # line of the first data row, for messages\n"
        + "\nscoring:\n"
        + f"  first_line: {first_line}  # rejects name the batch's own lines\n"
    )


def environment_folder(project: Path, env: str, force: bool) -> Path:
    """``conf/<env>``, after checking that ``env`` can name an environment and
    that it holds nothing yet (unless ``force``)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", env) or env in ("base", "local"):
        raise SourceError(f"'{env}' cannot be an environment name: use letters, digits, - or _")
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
        folder / "globals.yml": (
            f"# Everything this environment writes goes under data/{env}/, apart from other\n"
            f"# environments' versions.\ndata_dir: data/{env}\n"
        ),
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
        credentials.write_text(existing + f"\n{env}_database:\n  con: {url}\n", encoding="utf-8")
    return credentials


def summary(inspection: Inspection, env: str, written: list[Path]) -> str:
    """What was decided and what to check, for the terminal."""
    width = max(len(c.name) for c in inspection.columns)
    roles = {
        "id": "id",
        "numeric": "numeric feature",
        "categorical": "categorical feature",
        "profile_numeric": "profile-only",
        "profile_categorical": "profile-only",
        "dropped": "not used",
    }
    lines = [
        f"{inspection.source}: {inspection.rows:,} rows, {len(inspection.columns)} columns"
        + (f", read with {inspection.load_args}" if inspection.load_args else ""),
        "",
        *(
            f"  {c.name:<{width}}  "
            f"{roles[c.role] + (f' ({c.meaning})' if c.meaning else ''):<34} {c.why}"
            for c in inspection.columns
        ),
        "",
        *inspection.notes,
        "Wrote " + ", ".join(str(p) for p in written),
        "Check: the id column, that each feature is something segments should differ on,",
        "and that the profile-only columns (outcomes, flags, labels) are right; then run:",
        f"  kedro run --env {env} --pipelines segmentation",
        f"  kedro run --env {env} --pipelines scoring",
    ]
    return "\n".join(lines)
