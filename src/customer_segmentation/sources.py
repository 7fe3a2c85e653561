"""What a run read from sources Kedro cannot version (SQL tables and queries,
a user's own files): the row count, the columns and a content hash, kept in
a versioned metrics file so that every model can be traced to the data it
came from (the versioning layer's lineage links the two)."""

from __future__ import annotations

import hashlib

import pandas as pd


def content_hash(table: pd.DataFrame) -> str:
    """SHA-256 of the table's values and column names, row order included:
    equal for equal tables, whatever file or database they came from."""
    digest = hashlib.sha256("\x1f".join(map(str, table.columns)).encode())
    digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def describe_table(table: pd.DataFrame) -> dict:
    """Rows, columns and content hash of a table as it was loaded."""
    return {
        "rows": len(table),
        "columns": [str(column) for column in table.columns],
        "sha256": content_hash(table),
    }
