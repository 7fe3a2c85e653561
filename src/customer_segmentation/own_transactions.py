"""From a transaction log (a file or SQL table) to a working environment.

``kedro configure-data LOG --env NAME --transactions`` reads the log (never
writes it), infers what each column is from its name and values, and writes
``conf/NAME/`` so that ``kedro run --env NAME --pipelines
segmentation_from_transactions`` goes from the log to segments and a report:
the ``transactions`` catalog entry, the ``customer_features`` block (column
roles, date reading, the cancellation prefix) and the ``features`` of the
derived table with their roles (monetary, frequency, recency, tenure).

What is inferred (``COLUMN_NAMES`` for the names):

- the **customer id**: a column named like a customer, client, user or member
  id, else one named plain ``id`` (``ID``, ``uid``) whatever its values (in a
  log ids repeat), read as text;
- the **timestamp**: a column named like a date or time whose values parse as
  dates (day first when a value such as 13/01/2011 says so);
- the **amount**, or a **quantity** and a **unit price** to multiply; or
  neither (lifetimes' ``date,id`` example): spend is then unknown, the
  features that need it (``MONEY_FEATURES``) are not computed and customer
  value rests on frequency;
- an **order id** (invoice, order, transaction, receipt); when some of its
  values start with a letter the others lack (UCI Online Retail's "C" on
  cancelled invoices), that letter is the **cancellation prefix**;
- a **category** and a **channel**, when named so.

Besides ``transactions``, the catalog gets ``transactions_to_score`` (the same
log until pointed at the nightly one: ``--pipelines
scoring_from_transactions``) and ``customers_to_score``: the versioned
customer features training derived, so that ``--pipelines scoring`` works
right after ``--pipelines segmentation_from_transactions`` (the versioning
hooks read its newest complete version, the one the model was fitted on).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from customer_segmentation.features import TRANSACTION_FEATURES
from customer_segmentation.own_columns import is_customer_id_named, is_plain_id_named
from customer_segmentation.own_data import (
    Inspection,
    SourceError,
    catalog_filepath,
    environment_folder,
    globals_yaml,
    read_source,
    source_entry,
    write_credentials,
)
from customer_segmentation.own_yaml import comment, flow, masked, printable, scalar

COLUMN_NAMES = {
    "customer_id": re.compile(
        r"^(customer|client|user|member|account|buyer|shopper|cust)[\s_.-]*(id|no|number|key|code|ref)?$",
        re.I,
    ),
    "order_id": re.compile(
        r"^(invoice|order|transaction|receipt|basket|ticket|bill)[\s_.-]*(id|no|number|key|code|ref)?$",
        re.I,
    ),
    "timestamp": re.compile(r"date|time|timestamp|datetime|created|purchased|ordered|^day$", re.I),
    "quantity": re.compile(r"^(quantity|qty|units|number[\s_]*of[\s_]*\w+|items|count)$", re.I),
    "unit_price": re.compile(r"price|unit[\s_]*cost|rate", re.I),
    "amount": re.compile(
        r"amount|value|total|revenue|sales|spend|dollar|euro|pound|sum|paid|net|gross", re.I
    ),
    "category": re.compile(r"category|department|genre|product[\s_]*(type|group|line)", re.I),
    "channel": re.compile(r"channel|platform|source|store[\s_]*type|medium", re.I),
}


# The features that need the value of a line: spend, or spend-weighted mixes.
MONEY_FEATURES = (
    "monetary_total",
    "average_order_value",
    "return_share",
    "category_shares",
    "top_category",
    "top_channel",
)


def _first(columns: list[str], role: str, taken: set[str]) -> str | None:
    return next(
        (c for c in columns if c not in taken and COLUMN_NAMES[role].search(c.strip())), None
    )


def _parses_as_dates(values: pd.Series) -> tuple[bool, bool]:
    """Whether the values are dates, and whether they are written day first."""
    present = values.dropna().astype(str).str.strip().head(2000)
    if present.empty:
        return False, False
    if present.str.fullmatch(r"(19|20)\d{6}").mean() > 0.9:
        return True, False
    parsed = pd.to_datetime(present, errors="coerce", format="mixed")
    day_first = bool(present.str.match(r"^(1[3-9]|2\d|3[01])[/.-]\d{1,2}[/.-]").any())
    if day_first:
        parsed = pd.to_datetime(present, errors="coerce", format="mixed", dayfirst=True)
    return bool(parsed.notna().mean() > 0.9), day_first


def _cancellation_prefix(values: pd.Series) -> str | None:
    """A letter some order ids start with and most lack, as "C" in C536379."""
    text = values.dropna().astype(str).str.strip()
    letters = text.str.extract(r"^([A-Za-z])\d", expand=False).dropna()
    if letters.empty or len(letters) > 0.5 * len(text):
        return None
    return str(letters.value_counts().index[0])


def _customer_id(columns: list[str]) -> str | None:
    """The customer id of a log: named like one (``customer_id``, ``CUST_ID``,
    ``CLIENTNUM``), else named plain ``id``, ``ID`` or ``uid``."""
    return (
        _first(columns, "customer_id", set())
        or next((c for c in columns if is_customer_id_named(c)), None)
        or next((c for c in columns if is_plain_id_named(c)), None)
    )


def infer_transaction_columns(log: pd.DataFrame) -> tuple[dict, dict, list[str]]:
    """The role of each column of a log, the date settings and notes."""
    columns = [str(c) for c in log.columns]
    roles: dict[str, str | None] = {"customer_id": _customer_id(columns)}
    taken: set[str | None] = {roles["customer_id"]}
    for role in ("order_id", "quantity", "unit_price"):
        roles[role] = _first(columns, role, taken)
        taken.add(roles[role])
    timestamp, day_first = None, False
    for column in columns:
        if column in taken or not COLUMN_NAMES["timestamp"].search(column):
            continue
        is_date, day_first = _parses_as_dates(log[column])
        if is_date:
            timestamp = column
            break
    roles["timestamp"] = timestamp
    taken.add(timestamp)
    has_price = roles["quantity"] and roles["unit_price"]
    roles["amount"] = None if has_price else _first(columns, "amount", taken)
    if not has_price:
        roles["quantity"] = roles["unit_price"] = None
    for role in ("category", "channel"):
        roles[role] = _first(columns, role, taken)
        taken.add(roles[role])
    missing = [role for role in ("customer_id", "timestamp") if not roles[role]]
    if missing:
        raise SourceError(
            f"could not tell which columns are the {' and '.join(missing)} among "
            f"{printable(str(columns))}: "
            "name them in customer_features.columns of an environment by hand "
            "(see conf/cdnow_example)"
        )
    times = log[roles["timestamp"]].dropna().astype(str).str.strip().head(2000)
    dates_only = bool(  # a time of midnight on every line is no time of day
        times.str.fullmatch(
            r"((19|20)\d{6}|\d{4}-\d{2}-\d{2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})"
            r"([ T]00:00(:00(\.0+)?)?)?"
        ).all()
    )
    settings = {
        "dayfirst": day_first,
        # Without order ids or times of day, two equal lines are two equal
        # purchases on one day, not a duplicate export.
        "duplicates": "keep" if roles["order_id"] is None and dates_only else "drop",
        "cancellation_prefix": _cancellation_prefix(log[roles["order_id"]])
        if roles["order_id"]
        else None,
    }
    notes = [f"{role}: {name}" for role, name in roles.items() if name]
    if not has_money(roles):
        skipped = [
            f
            for f in MONEY_FEATURES
            if not (f.endswith("category") or f == "category_shares") or roles["category"]
            if f != "top_channel" or roles["channel"]
        ]
        notes.append(
            "no amount, quantity or unit price: spend is unknown, so customer value rests on "
            f"frequency (and recency); not computed: {', '.join(skipped)}"
        )
    return roles, settings, notes


def has_money(roles: dict) -> bool:
    """Whether the log says what each line is worth."""
    return bool(roles["amount"] or (roles["quantity"] and roles["unit_price"]))


def catalog_yaml(inspection: Inspection, env: str, filepath: str) -> str:
    """The log, the log to score (the same until pointed at the nightly one),
    and the customers ``--pipelines scoring`` reads: the derived features."""
    return (
        comment(f"Written by `kedro configure-data --transactions` from {inspection.shown}.")
        + "# The transaction log, only ever read.\n"
        + source_entry(inspection, "transactions", env, filepath)
        + "\n\n# The log `--pipelines scoring_from_transactions` scores: this same log until\n"
        "# you point it at the nightly log (same columns, same format).\n"
        + source_entry(inspection, "transactions_to_score", env, filepath)
        + "\n\n# What `--pipelines scoring` scores: the customer features that\n"
        "# segmentation_from_transactions derived (its newest complete version).\n"
        "customers_to_score:\n"
        "  type: pandas.ParquetDataset\n"
        "  filepath: ${globals:data_dir}/02_intermediate/customer_features.parquet\n"
        "  versioned: true\n"
    )


def _features_yaml(roles: dict) -> str:
    """``customer_features.compute`` and the ``features`` of the derived
    table: clustered on recency, frequency, spend and tenure (without spend
    when the log has no amounts), the rest profiled."""
    money = has_money(roles)
    numeric = ["recency_days", "frequency", "monetary_total", "average_order_value", "tenure_days"]
    profiled = ["mean_days_between_orders", "orders_per_week", "return_share"]
    categorical = ["top_category"] if roles["category"] else []
    monetary = ["monetary_total", "average_order_value"]
    compute = ""
    if not money:
        numeric, profiled, categorical, monetary = (
            [f for f in names if f not in MONEY_FEATURES]
            for names in (numeric, profiled, categorical, monetary)
        )
        compute = (
            "  # The log says nothing of spend: only the features that need no amount.\n"
            f"  compute: {flow([f for f in TRANSACTION_FEATURES if f not in MONEY_FEATURES])}\n"
        )
    return (
        compute
        + "\n# The derived table, one row per customer: clustered on recency, frequency"
        + (
            ",\n# spend and tenure"
            if money
            else "\n# and tenure (the log has no amounts: no spend)"
        )
        + "; the rest is profiled.\n# Roles make names and actions read in RFM terms.\n"
        "features:\n"
        "  id_column: customer_id\n"
        f"  numeric: {flow(numeric)}\n"
        "  categorical: []\n"
        "  categories: {}\n"
        "  bounds: {}\n"
        "  profile_only:\n"
        f"    numeric: {flow(profiled)}\n"
        f"    categorical: {flow(categorical)}\n"
        "  roles:\n"
        f"    monetary: {flow(monetary)}\n"
        "    frequency: [frequency, orders_per_week]\n"
        "    recency: [recency_days]\n"
        "    tenure: [tenure_days]\n"
        "    demographic: []\n"
    )


def parameters_yaml(inspection: Inspection, env: str, roles: dict, settings: dict) -> str:
    """customer_features (column roles, dates, cancellations) and the
    features of the derived table."""
    return (
        comment(
            f"Written by `kedro configure-data --transactions` from {inspection.shown} "
            f"({inspection.rows:,} lines)."
        )
        + "# Check the column roles, then:\n"
        f"#   kedro run --env {env} --pipelines segmentation_from_transactions\n"
        "customer_features:\n"
        "  columns:\n"
        + "".join(f"    {role}: {scalar(name)}\n" for role, name in roles.items())
        + f"  dayfirst: {scalar(settings['dayfirst'])}\n"
        + "  # keep: equal lines are equal purchases (no order id, dates without times).\n"
        + f"  duplicates: {settings['duplicates']}\n"
        + "  # Order ids starting with this are cancellations (null: none seen).\n"
        + f"  cancellation_prefix: {scalar(settings['cancellation_prefix'])}\n"
        + f"  first_line: {inspection.first_line}\n"
        + _features_yaml(roles)
        + "\n# customer_features is Parquet: its first row is row 1, in training and scoring.\n"
        "preprocessing:\n  first_line: 1\n"
        "scoring:\n  first_line: 1\n"
    )


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
    text_columns = [c for c in (roles["customer_id"], roles["order_id"]) if c]
    if kind == "csv":
        load_args = {**load_args, "dtype": dict.fromkeys(text_columns, "str")}
    inspection = Inspection(source=source, kind=kind, rows=len(log), columns=[], table=table)
    inspection.load_args = {k: v for k, v in load_args.items() if k in ("sep", "encoding", "dtype")}
    filepath = catalog_filepath(source, kind, project)
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        folder / "catalog.yml": catalog_yaml(inspection, env, filepath),
        folder / "parameters.yml": parameters_yaml(inspection, env, roles, settings),
        folder / "globals.yml": globals_yaml(env),
    }
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    if kind == "sql":
        write_credentials(project, env, source)
    lines = [
        f"{inspection.shown}: {len(log):,} lines, read with "
        f"{printable(str(inspection.load_args)) if inspection.load_args else 'defaults'}",
        *(f"  {printable(note)}" for note in notes),
        f"  dates day first: {settings['dayfirst']}; cancellation prefix: "
        f"{printable(str(settings['cancellation_prefix']))}; equal lines: {settings['duplicates']}",
        "Wrote " + ", ".join(str(p.relative_to(project)) for p in written),
        "Check the column roles, then train, and score the customers it derived:",
        f"  kedro run --env {env} --pipelines segmentation_from_transactions",
        f"  kedro run --env {env} --pipelines scoring",
        "Later, point transactions_to_score in conf/"
        f"{env}/catalog.yml at the nightly log and score it:",
        f"  kedro run --env {env} --pipelines scoring_from_transactions",
    ]
    return list(written), lines
