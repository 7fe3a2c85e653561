"""Project dataset classes (the versioning layer's are in
``customer_segmentation.versioning``).

CSV files that people open in a spreadsheet are written with spreadsheet
formulas neutralised (``neutralise_formulas: true``): a customer id such as
``=HYPERLINK("http://x","click")`` would otherwise run as a formula on the
marketer's computer (CSV injection). Following OWASP's guidance, a text cell
that starts with ``=``, ``@``, a tab, a carriage return, or ``+``/``-``
followed by anything but a number (``-2.5`` and ``+44 20 7946 0958`` stay as
they are) gets a leading apostrophe, which the spreadsheet shows as text and
does not display. Numbers are never changed; Parquet outputs keep every value
as it is.

Loading such a file back through its dataset removes the apostrophes again, so
a node reads the original values (``previous_segment_profiles`` does). To keep
that exact, a value that already starts with apostrophes followed by a formula
(``'=x``) gets one apostrophe more, and loading removes exactly one: every
value comes back as it was written. Other programs reading the file see the
apostrophes; an export read by a machine (a CRM import) rather than a person
can set ``neutralise_formulas: false``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as arrow_csv
from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset as PandasCSVDataset

# How a spreadsheet formula starts (OWASP, "CSV Injection"). No look-ahead:
# pandas runs these patterns with Arrow's RE2 engine on text columns.
_FORMULA = r"(?:[=@\t\r]|[+-](?:[^0-9.]|\.[^0-9]))"
# A value that is written with one apostrophe more, and one that is read with
# one apostrophe less: the two are inverse, so a value round-trips exactly.
_NEUTRALISED_ON_SAVE = f"^'*{_FORMULA}"
_RESTORED_ON_LOAD = f"^'+{_FORMULA}"


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell that a spreadsheet would run as a
    formula prefixed with an apostrophe (see the module docstring); number
    columns, the column names and ``table`` itself are left unchanged."""
    return _rewrite_text(table, _NEUTRALISED_ON_SAVE, lambda text: "'" + text)


def restore_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """The inverse of ``neutralise_formulas``: the table as it was before."""
    return _rewrite_text(table, _RESTORED_ON_LOAD, lambda text: text.str[1:])


_Rewrite = Callable[[pd.Series], pd.Series]


def _rewrite_text(table: pd.DataFrame, pattern: str, rewrite: _Rewrite) -> pd.DataFrame:
    """``table`` with ``rewrite`` applied to the text values matching
    ``pattern``, in text and categorical columns (a copy when any changes)."""
    rewritten = {}
    for position in range(table.shape[1]):
        values = table.iloc[:, position]
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = _rewritten(values.cat.categories.to_series(), pattern, rewrite)
            if categories is not None:
                rewritten[position] = values.cat.rename_categories(categories.to_numpy())
        elif values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            changed = _rewritten(values, pattern, rewrite)
            if changed is not None:
                rewritten[position] = changed
    if not rewritten:
        return table
    table = table.copy(deep=False)
    for position, values in rewritten.items():
        table.isetitem(position, values)
    return table


def _rewritten(values: pd.Series, pattern: str, rewrite: _Rewrite) -> pd.Series | None:
    """``values`` with the matching text values rewritten; ``None`` when none
    matches (or the column holds no text at all)."""
    try:
        matches = values.str.contains(pattern, regex=True, na=False).to_numpy(bool)
    except AttributeError:  # an object column without text values
        return None
    if not matches.any():
        return None
    values = values.copy()
    values[matches] = rewrite(values[matches])
    return values


class CSVDataset(PandasCSVDataset):
    """Kedro's ``pandas.CSVDataset`` (versioning, load and save args,
    filesystems) with one option more: ``neutralise_formulas: true`` writes
    text cells a spreadsheet would run as formulas with a leading apostrophe
    and removes it again on load (see the module docstring). Set it on every
    CSV meant to be opened by people.

    Lines end in CRLF, as RFC 4180 and spreadsheets have them: Python's CSV
    writer quotes a value holding a carriage return only then (with ``\n``
    lines, ``"x\ry"`` would be read back as two rows). The file is opened in
    binary mode, so no system turns them into anything else.

    Example::

        segment_profiles:
          type: customer_segmentation.datasets.CSVDataset
          filepath: data/08_reporting/segment_profiles.csv
          neutralise_formulas: true
          versioned: true
    """

    DEFAULT_SAVE_ARGS: dict = {"index": False, "lineterminator": "\r\n"}
    DEFAULT_FS_ARGS: dict = {"open_args_save": {"mode": "wb"}}

    def __init__(self, *, neutralise_formulas: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._neutralise_formulas = neutralise_formulas

    def load(self) -> pd.DataFrame:
        table = super().load()
        return restore_formulas(table) if self._neutralise_formulas else table

    def save(self, data: pd.DataFrame) -> None:
        if self._neutralise_formulas:
            data = neutralise_formulas(data)
        path = get_filepath_str(self._get_save_path(), self._protocol)
        self._write(data, path)
        self._invalidate_cache()

    def _write(self, data: pd.DataFrame, path: str) -> None:
        with self._fs.open(path, **self._fs_open_args_save) as csv_file:
            data.to_csv(path_or_buf=csv_file, **self._save_args)

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "neutralise_formulas": self._neutralise_formulas}


class ArrowCSVDataset(CSVDataset):
    """A table saved as CSV by Arrow's writer, loaded by pandas: the project's
    ``CSVDataset`` (``neutralise_formulas``, versioning, load_args,
    filesystems) with a save about five times faster on millions of rows
    (benchmarks/RESULTS.md), for the row-heavy CSV outputs. Text values are
    quoted (``"0042"``), the header is not, the index is never written;
    ``save_args`` are Arrow's ``pyarrow.csv.WriteOptions`` (``delimiter``,
    ``null_string``, ...).

    Example::

        target_customers:
          type: customer_segmentation.datasets.ArrowCSVDataset
          filepath: data/07_model_output/target_customers.csv
          neutralise_formulas: true
          versioned: true
    """

    DEFAULT_SAVE_ARGS: dict = {}

    def _write(self, data: pd.DataFrame, path: str) -> None:
        options = arrow_csv.WriteOptions(**{"quoting_header": "none", **self._save_args})
        table = pa.Table.from_pandas(data, preserve_index=False)
        with self._fs.open(path, mode="wb") as csv_file:
            arrow_csv.write_csv(table, csv_file, options)


class FigureDataset(MatplotlibDataset):
    """A Matplotlib figure saved as one PNG file, loaded back as the PNG's
    bytes: each figure is drawn once, by one node, and the HTML report embeds
    the very file the catalog saved. (Kedro's ``MatplotlibDataset`` cannot be
    loaded.) All of ``MatplotlibDataset``'s options apply, versioning included.

    Example::

        "{name}_plot":
          type: customer_segmentation.datasets.FigureDataset
          filepath: data/08_reporting/{name}_plot.png
          versioned: true
          save_args: {dpi: 100}
    """

    def load(self) -> bytes:  # type: ignore[override]
        path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(path, mode="rb") as png:
            return png.read()
