"""What a run read from sources Kedro cannot version (SQL tables and queries,
a user's own files): the row count, the columns and a content hash, kept in
a versioned metrics file so that every model can be traced to the data it
came from (the versioning layer's lineage links the two).

Every column becomes integer keys (numbers their bits, text its position in
the column's dictionary of distinct values); the content hash digests the
keys and the dictionaries' bytes, and the keys give every row a 64-bit hash,
which finds duplicate lines. Text is dictionary-encoded by Arrow, so ten
million lines with text ids take seconds, not minutes."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

from customer_segmentation.spark import is_spark

_C1, _C2, _C3 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(31)


def _mix(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, element-wise: a 64-bit hash of each key."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * _C1
        values = (values ^ (values >> np.uint64(27))) * _C2
        return values ^ (values >> _C3)


def encode(values: pd.Series) -> tuple[np.ndarray, pa.Array | None]:
    """Integer keys of a column (equal values, equal keys; a missing value
    -1, or NaN's bits for numbers) and, for text and categories, the
    dictionary of distinct values the keys index (None for numbers and dates,
    whose keys are their bits)."""
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return values.to_numpy("datetime64[ns]").view(np.int64), None
    if isinstance(dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        return codes, pa.array(values.cat.categories.astype("string"))
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        numbers = values.astype("float64").to_numpy(na_value=np.nan) + 0.0  # no -0.0
        numbers[np.isnan(numbers)] = np.nan  # one NaN
        return numbers.view(np.int64), None
    text = pa.array(values.astype("string[pyarrow]").array)
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    encoded = text.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary


def fingerprint(
    table: pd.DataFrame, encoded: dict | None = None, row_hashes: bool = True
) -> tuple[dict, np.ndarray | None]:
    """Rows, columns and SHA-256 content hash of a table as it was loaded
    (equal values in equal order, equal hash), and, with ``row_hashes``, a
    64-bit hash of every row (None without). ``encoded`` may hold columns
    already ``encode``-d, which are not encoded again."""
    encoded = encoded or {}
    digest = hashlib.sha256("\x1f".join(map(str, table.columns)).encode())
    rows = np.zeros(len(table), dtype=np.uint64) if row_hashes else None
    for column in table.columns:
        keys, dictionary = encoded[column] if column in encoded else encode(table[column])
        if dictionary is not None:
            for buffer in dictionary.buffers():
                if buffer is not None:
                    digest.update(buffer)
        keys = np.ascontiguousarray(keys).view(np.uint64)
        digest.update(keys)  # the array's own bytes, not a copy
        if rows is not None:
            with np.errstate(over="ignore"):
                rows = _mix(rows * _C1 + keys)
    summary = {
        "rows": len(table),
        "columns": [str(column) for column in table.columns],
        "sha256": digest.hexdigest(),
    }
    return summary, rows


def describe_table(table: pd.DataFrame) -> dict:
    """Rows, columns and content hash of a table as it was loaded. On Spark,
    the hash is the sum of every row's 64-bit ``xxhash64`` (equal rows in
    any order or partitioning, equal hash): a SHA-256 of the bytes in order
    would need one machine to read them all."""
    if is_spark(table):
        from pyspark.sql import functions as F  # noqa: PLC0415

        from customer_segmentation.spark import col  # noqa: PLC0415

        columns = [col(c) for c in table.columns]
        row = table.agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.xxhash64(*columns).cast("decimal(38,0)")).alias("hash"),
        ).first()
        return {
            "rows": int(row["rows"]),
            "columns": [str(column) for column in table.columns],
            "xxhash64_sum": format(int(row["hash"] or 0) % 2**64, "016x"),
        }
    return fingerprint(table, row_hashes=False)[0]


def content_hash(table: pd.DataFrame) -> str:
    """The SHA-256 content hash ``describe_table`` records."""
    return fingerprint(table, row_hashes=False)[0]["sha256"]
