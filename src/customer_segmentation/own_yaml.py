"""The text of the YAML files ``kedro configure-data`` writes into
``conf/<env>/``: ``catalog.yml`` (how to read the source), ``parameters.yml``
(what every column is, each inferred choice with its reason in a comment)
and ``globals.yml`` (where the environment writes), for a customer table
(``catalog_yaml``, ``parameters_yaml``) and for a transaction log
(``log_catalog_yaml``, ``log_parameters_yaml``).

The files are written as text, not dumped, so that every choice carries its
comment; everything that comes from the data or the user goes through
``own_quoting`` (quoted so that it cannot add keys or break a comment; no
database password: a database is read through ``conf/local/credentials.yml``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from customer_segmentation.features import ROLES, TRANSACTION_FEATURES
from customer_segmentation.own_log_columns import MONEY_FEATURES, has_money
from customer_segmentation.own_quoting import comment, flow, scalar
from customer_segmentation.own_reading import BOM_ENCODINGS
from customer_segmentation.own_units import unnamed_spend

if TYPE_CHECKING:
    from customer_segmentation.own_data import Inspection

# The comment on each load argument ``own_data`` infers for a CSV file.
_LOAD_ARGUMENTS = {
    "sep": "separator sniffed from the first lines",
    "encoding": "decodes the whole file",
    "dtype": "ids are read as text, so leading zeros stay",
    "na_values": "texts found in numeric columns, read as missing",
    "skip_blank_lines": "a blank line is a row, reported (not silently dropped)",
}


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
        bom = inspection.load_args.get("encoding", "") in BOM_ENCODINGS
        for key, value in inspection.load_args.items():
            why = _LOAD_ARGUMENTS[key]
            if key == "encoding" and bom:
                why += " (it starts with a byte-order mark)"
            lines.append(f"    {key}: {flow(value)}  # {why}")
    return "\n".join(lines)


def globals_yaml(env: str) -> str:
    """``data_dir``: everything the environment writes goes under ``data/<env>``."""
    return (
        f"# Everything this environment writes goes under data/{env}/, apart from other\n"
        f"# environments' versions.\ndata_dir: data/{env}\n"
    )


# A customer table.


def catalog_yaml(inspection: Inspection, env: str, filepath: str) -> str:
    """The customers to segment and the customers to score: the source, both."""
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


def _reasons(inspection: Inspection, *roles: str, indent: str = "  ") -> str:
    """A comment line per column of ``roles``: its name and why it has that role."""
    return "".join(
        comment(f"  {c.name}: {c.why}", indent) for c in inspection.columns if c.role in roles
    )


def _id_yaml(inspection: Inspection) -> str:
    """``features.id_column``, with why it is that column (or why it is null)."""
    id_column = inspection.id_column
    return _reasons(inspection, "id") + (
        f"  id_column: {scalar(id_column)}  # read as text\n"
        if id_column
        else "  id_column: null  # no column identifies customers: rows are numbered (row_number)\n"
    )


def _clustered_yaml(inspection: Inspection) -> str:
    """The features clustered on, their categories and bounds, and the
    profile-only columns, each with its reason."""
    bounds = {
        c.name: list(c.bounds) for c in inspection.columns if c.role == "numeric" and c.bounds
    }
    return (
        "  # Clustered on:\n"
        + _reasons(inspection, "numeric", "categorical")
        + f"  numeric: {flow(inspection.named('numeric'))}\n"
        + f"  categorical: {flow(inspection.named('categorical'))}  # categories learned from the data\n"
        + "  categories: {}\n"
        + "  # Values outside these bounds are errors in training and rejects in scoring.\n"
        + f"  bounds: {flow(bounds)}\n"
        + "  # Described per segment, never clustered on:\n"
        + _reasons(inspection, "profile_numeric", "profile_categorical")
        + "  profile_only:\n"
        + f"    numeric: {flow(inspection.named('profile_numeric'))}\n"
        + f"    categorical: {flow(inspection.named('profile_categorical'))}\n"
    )


def _outcomes_yaml(inspection: Inspection) -> str:
    """``features.outcomes``: each outcome column's kind and positive value."""
    outcomes = {c.name: c.outcome for c in inspection.columns if c.outcome}
    return (
        "  # Outcomes: churn is one to prevent, response one to repeat; positive is the\n"
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
    )


def _roles_yaml(inspection: Inspection) -> str:
    """``features.roles``, with what each role means and, without spend or
    frequency, the money columns the user may want to mark as spend."""
    roles = {role: [c.name for c in inspection.columns if c.meaning == role] for role in ROLES}
    return (
        "  # What numeric columns mean, from their names and values (the unit and\n"
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
    )


def parameters_yaml(inspection: Inspection) -> str:
    """``features`` and the first data line, every choice with its reason."""
    return (
        comment(
            f"Written by `kedro configure-data` from {inspection.shown} ({inspection.rows:,} rows);"
        )
        + "# every choice below is inferred from the data: check it, then edit freely.\n"
        "# Everything not set here comes from conf/base (merged key by key).\n"
        + (
            "# Not used:\n" + _reasons(inspection, "dropped", indent="")
            if inspection.named("dropped")
            else ""
        )
        + "features:\n"
        + _id_yaml(inspection)
        + _clustered_yaml(inspection)
        + _outcomes_yaml(inspection)
        + _roles_yaml(inspection)
        + "\npreprocessing:\n"
        + f"  first_line: {inspection.first_line}  # line of the first data row, for messages\n"
        + "\nscoring:\n"
        + f"  first_line: {inspection.first_line}  # rejects name the batch's own lines\n"
    )


# A transaction log.


def log_catalog_yaml(inspection: Inspection, env: str, filepath: str) -> str:
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
        "  type: customer_segmentation.datasets.ParquetDataset\n"
        "  filepath: ${globals:data_dir}/02_intermediate/customer_features.parquet\n"
        "  versioned: true\n"
    )


def _log_features_yaml(roles: dict) -> str:
    """``customer_features.compute`` and the ``features`` of the derived
    table: clustered on recency, frequency, spend and tenure (without spend
    when the log has no amounts), the rest profiled. Only ``frequency`` takes
    the frequency role: ``orders_per_week`` (orders over tenure) is nearly flat,
    and averaged into the role score it halved a frequent segment's score."""
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
        "    frequency: [frequency]\n"
        "    recency: [recency_days]\n"
        "    tenure: [tenure_days]\n"
        "    demographic: []\n"
    )


def log_parameters_yaml(inspection: Inspection, env: str, roles: dict, settings: dict) -> str:
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
        + _log_features_yaml(roles)
        + "\n# customer_features is Parquet: its first row is row 1, in training and scoring.\n"
        "preprocessing:\n  first_line: 1\n"
        "scoring:\n  first_line: 1\n"
    )
