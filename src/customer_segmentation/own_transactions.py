"""From a transaction log (a file or SQL table) to a working environment.

``kedro configure-data LOG --env NAME --transactions`` reads the log (never
writes it), infers what each column is from its name and values
(``own_log_columns``), and writes ``conf/NAME/`` (``own_yaml``) so that
``kedro run --env NAME --pipelines segmentation_from_transactions`` goes
from the log to segments and a report: the ``transactions`` catalog entry,
the ``customer_features`` block (column roles, date reading, the
cancellation prefix) and the ``features`` of the derived table with their
roles (monetary, frequency, recency, tenure).

Besides ``transactions``, the catalog gets ``transactions_to_score`` (the same
log until pointed at the nightly one: ``--pipelines
scoring_from_transactions``) and ``customers_to_score``: the versioned
customer features training derived, so that ``--pipelines scoring`` works
right after ``--pipelines segmentation_from_transactions`` (the versioning
hooks read its newest complete version, the one the model was fitted on).
"""

from __future__ import annotations

from pathlib import Path

from customer_segmentation.own_data import (
    Inspection,
    catalog_filepath,
    environment_folder,
    write_credentials,
    write_files,
)
from customer_segmentation.own_log_columns import infer_transaction_columns
from customer_segmentation.own_quoting import masked, printable
from customer_segmentation.own_reading import SourceError, read_source
from customer_segmentation.own_yaml import globals_yaml, log_catalog_yaml, log_parameters_yaml


def _printout(inspection: Inspection, notes: list[str], settings: dict) -> list[str]:
    """What was decided and what to run next, for the terminal (the files
    written are listed by the caller)."""
    return [
        f"{inspection.shown}: {inspection.rows:,} lines, read with "
        f"{printable(str(inspection.load_args)) if inspection.load_args else 'defaults'}",
        *(f"  {printable(note)}" for note in notes),
        f"  dates day first: {settings['dayfirst']}; cancellation prefix: "
        f"{printable(str(settings['cancellation_prefix']))}; equal lines: {settings['duplicates']}",
    ]


def _next_steps(env: str) -> list[str]:
    """The commands that train on the log and score, in the order to run them."""
    return [
        "Check the column roles, then train, and score the customers it derived:",
        f"  kedro run --env {env} --pipelines segmentation_from_transactions",
        f"  kedro run --env {env} --pipelines scoring",
        "Later, point transactions_to_score in conf/"
        f"{env}/catalog.yml at the nightly log and score it:",
        f"  kedro run --env {env} --pipelines scoring_from_transactions",
    ]


def write_transactions_environment(
    source: str, env: str, project: Path, table: str | None = None, force: bool = False
) -> tuple[list[Path], list[str]]:
    """Writes ``conf/<env>/{catalog,parameters,globals}.yml`` for a log (and,
    for a database, the connection in ``conf/local/credentials.yml``);
    returns the files written and the lines to print."""
    folder = environment_folder(project, env, force)
    log, kind, load_args = read_source(source, table)
    if log.empty:
        raise SourceError(f"{masked(source)} has a header but no lines: expected one per purchase")
    roles, settings, notes = infer_transaction_columns(log)
    if kind == "csv":  # ids read as text, so that leading zeros stay
        text_columns = [c for c in (roles["customer_id"], roles["order_id"]) if c]
        load_args = {**load_args, "dtype": dict.fromkeys(text_columns, "str")}
    kept = {k: v for k, v in load_args.items() if k in ("sep", "encoding", "dtype")}
    inspection = Inspection(source, kind, len(log), columns=[], load_args=kept, table=table)
    filepath = catalog_filepath(source, kind, project)
    written = write_files(
        folder,
        {
            "catalog.yml": log_catalog_yaml(inspection, env, filepath),
            "parameters.yml": log_parameters_yaml(inspection, env, roles, settings),
            "globals.yml": globals_yaml(env),
        },
    )
    if kind == "sql":
        write_credentials(project, env, source)
    lines = [
        *_printout(inspection, notes, settings),
        "Wrote " + ", ".join(str(p.relative_to(project)) for p in written),
        *_next_steps(env),
    ]
    return written, lines
