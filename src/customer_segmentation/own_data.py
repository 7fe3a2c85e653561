"""From a customer file (or SQL table) to a working Kedro environment.

``kedro configure-data SOURCE --env NAME`` reads the source (never writes
it), infers how to read it and what each column is, and writes
``conf/NAME/catalog.yml``, ``parameters.yml`` and ``globals.yml`` with a
comment on every inferred choice. ``inspect_source`` does the inferring,
``write_environment`` the writing and ``summary`` the printout; all are
plain functions, and ``own_transactions`` writes a log's environment with
the same folder, path and credentials rules (``environment_folder``,
``catalog_filepath``, ``write_files``, ``write_credentials``).

The concerns live in their own modules: reading the source
(``own_reading``), what a column is (``own_columns``, with ``own_names``,
``own_units``, ``own_outcomes`` and ``own_sensitive``), the text of the YAML files
(``own_yaml``) and quoting what comes from the data (``own_quoting``:
database passwords live only in ``conf/local/credentials.yml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from customer_segmentation.own_columns import (
    Column,
    find_id,
    inspect_column,
    near_duplicates,
    profile_duplicate,
)
from customer_segmentation.own_outcomes import outcome_lines
from customer_segmentation.own_quoting import masked, printable, scalar
from customer_segmentation.own_reading import SourceError, read_source
from customer_segmentation.own_sensitive import sensitive_lines
from customer_segmentation.own_units import unnamed_spend
from customer_segmentation.own_yaml import catalog_yaml, globals_yaml, parameters_yaml


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
        """The names of the columns of ``role``, in the source's order."""
        return [c.name for c in self.columns if c.role == role]

    @property
    def id_column(self) -> str | None:
        """The customer id column, None when the rows are numbered."""
        ids = self.named("id")
        return ids[0] if ids else None


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


def _inspect_columns(frame: pd.DataFrame, id_column: str | None, id_why: str) -> tuple[list, set]:
    """Every column's role (``own_columns``), a numeric feature that moves
    with an earlier one profiled instead, and the texts found in numeric
    columns (read as missing)."""
    columns: list[Column] = []
    na_values: set[str] = set()
    for name in frame.columns:
        if name == id_column:
            columns.append(Column(name, "id", f"{id_why}: the customer id, as text"))
            continue
        column, texts = inspect_column(name, frame[name])
        columns.append(column)
        na_values.update(texts)
    moved = near_duplicates(frame, [c.name for c in columns if c.role == "numeric"])
    return [
        profile_duplicate(c, *moved[c.name]) if c.name in moved else c for c in columns
    ], na_values


def _csv_load_args(load_args: dict, id_column: str | None, na_values: set[str]) -> dict:
    """A CSV's load arguments: as sniffed, the id read as text (leading zeros
    stay), the texts of numeric columns as missing, and blank lines kept as
    rows (so that a run reports them)."""
    load_args = dict(load_args)
    if id_column is not None:
        load_args["dtype"] = {id_column: "str"}
    if na_values:
        load_args["na_values"] = sorted(na_values)
    load_args["skip_blank_lines"] = False
    return load_args


def _notes(inspection: Inspection, frame: pd.DataFrame) -> list[str]:
    """What the user must check: no id (rows are numbered), repeated or
    missing ids, and no column that tells customer value."""
    notes = []
    id_column = inspection.id_column
    if id_column is None:
        notes.append(
            "No id column found: the rows are numbered (id_column: null, column row_number "
            "from 1). Scoring then numbers a batch's rows the same way."
        )
    elif note := _duplicate_ids(frame, id_column, inspection.first_line):
        notes.append(note)
    if not any(c.meaning in ("monetary", "frequency") for c in inspection.columns):
        notes.append(
            "No column reads as spend or purchase frequency: customer value cannot be "
            "judged until you list such columns under features.roles (monetary, frequency) "
            "in the environment's parameters.yml."
        )
        notes += [
            f"{c.name} reads as money but its name does not say spend: if it is what "
            "customers spend, list it under features.roles.monetary."
            for c in inspection.columns
            if unnamed_spend(c)
        ]
    return notes


def inspect_source(source: str, table: str | None = None) -> Inspection:
    """Reads the source and infers how to read it and every column's role."""
    frame, kind, load_args = read_source(source, table)
    shown = masked(source)
    if frame.empty:
        raise SourceError(f"{shown} has a header but no data rows: expected one row per customer")
    id_column, id_why = find_id(frame)
    columns, na_values = _inspect_columns(frame, id_column, id_why)
    if kind == "csv":
        load_args = _csv_load_args(load_args, id_column, na_values)
    inspection = Inspection(source, kind, len(frame), columns, load_args, table)
    inspection.notes = _notes(inspection, frame)
    if not inspection.named("numeric") and not inspection.named("categorical"):
        names = ", ".join(repr(printable(c.name)) for c in inspection.columns)
        raise SourceError(f"{shown}: no column can be clustered on (found {names})")
    return inspection


def environment_folder(project: Path, env: str, force: bool) -> Path:
    """``conf/<env>``, after checking that ``env`` can name an environment and
    that it holds nothing yet (unless ``force``)."""
    if (
        not env.isascii()
        or not env.replace("-", "").replace("_", "").isalnum()
        or env in ("base", "local")
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


def write_files(folder: Path, texts: dict[str, str]) -> list[Path]:
    """Writes each text to its file name in ``folder`` (created if needed),
    as UTF-8; returns the files, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def write_environment(
    inspection: Inspection, env: str, project: Path, force: bool = False
) -> list[Path]:
    """Writes ``conf/<env>/{catalog,parameters,globals}.yml`` (and, for a
    database, the connection in ``conf/local/credentials.yml``); refuses to
    overwrite an environment unless ``force``. Returns the files written."""
    folder = environment_folder(project, env, force)
    filepath = catalog_filepath(inspection.source, inspection.kind, project)
    written = write_files(
        folder,
        {
            "catalog.yml": catalog_yaml(inspection, env, filepath),
            "parameters.yml": parameters_yaml(inspection),
            "globals.yml": globals_yaml(env),
        },
    )
    if inspection.kind == "sql":
        written.append(write_credentials(project, env, inspection.source))
    return written


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
        *outcome_lines(inspection.columns),
        *sensitive_lines(inspection.columns, env),
        "",
        *(printable(note) for note in inspection.notes),
        "Wrote " + ", ".join(str(p) for p in written),
        "Check: the id column, that each feature is something segments should differ on,",
        "and that the profile-only columns (outcomes, flags, labels, sensitive attributes)",
        "are right; then run:",
        f"  kedro run --env {env} --pipelines segmentation",
        f"  kedro run --env {env} --pipelines scoring",
    ]
    return "\n".join(lines)
