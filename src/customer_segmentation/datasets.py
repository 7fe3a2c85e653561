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

Every class here also has a Kedro-Viz preview (``preview()``, shown when a
dataset is clicked in ``kedro viz`` and written by ``kedro viz build
--include-previews``): a table's first rows (CSV or Parquet), a picture, the HTML report, the
scores per k, a JSON record, the SQL rules. A preview reads the newest version that a finished run marked
complete (``newest_complete``), never a killed run's half-written files; with
none, it raises ``VersionNotFoundError`` and Kedro-Viz shows no preview.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as arrow_csv
import pyarrow.parquet as arrow_parquet
from kedro.io import AbstractDataset
from kedro.io.core import VersionNotFoundError, get_filepath_str
from kedro_datasets._typing import HTMLPreview, ImagePreview, JSONPreview, TablePreview
from kedro_datasets.json import JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset as PandasCSVDataset
from kedro_datasets.pandas import ParquetDataset as PandasParquetDataset
from kedro_datasets.text import TextDataset

from customer_segmentation.versioning import kedro_adapter
from customer_segmentation.versioning.marks import complete_versions

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


_Dataset = TypeVar("_Dataset", bound=AbstractDataset)


def newest_complete(dataset: _Dataset) -> _Dataset:
    """A copy of ``dataset`` that loads the newest version a finished run
    marked complete (``versioning.marks``), for previews: Kedro itself would
    load the newest version folder, which may be a killed run's half-written
    file. An unversioned dataset is copied as it is. ``VersionNotFoundError``
    when no run has finished one yet, or when the versions are not on a local
    disk (where the marks are read)."""
    pinned = copy.deepcopy(dataset)
    if kedro_adapter.is_versioned(dataset):
        folder = kedro_adapter.version_folder(dataset)
        stamps = complete_versions(folder)
        if not stamps:
            raise VersionNotFoundError(
                f"no complete version in {folder} yet: a run that finishes writes one "
                "(a killed or failed run's version is never shown)"
            )
        kedro_adapter.pin_load_version(pinned, stamps[-1])
    return pinned


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

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first ``nrows`` rows of the newest complete version, as loading
        gives them (formulas restored), for Kedro-Viz; set ``nrows`` with
        ``metadata: {kedro-viz: {preview_args: {nrows: 20}}}``. Only those
        rows are read, however long the file."""
        dataset = newest_complete(self)
        dataset._load_args = {**dataset._load_args, "nrows": nrows}  # noqa: SLF001 - as Kedro's preview
        return TablePreview(dataset.load().to_dict(orient="split"))


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


class ParquetDataset(PandasParquetDataset):
    """Kedro's ``pandas.ParquetDataset`` (the same file, load and save,
    versioning, filesystems) whose Kedro-Viz preview is the first rows of the
    newest complete version, where Kedro's reads the newest version folder: a
    killed run's half-written file (``Parquet magic bytes not found``) or a
    refused batch's table that no finished run marked complete.

    Example::

        validated_customers:
          type: customer_segmentation.datasets.ParquetDataset
          filepath: data/02_intermediate/validated_customers.parquet
          versioned: true
    """

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first ``nrows`` rows of the newest complete version (only the
        ``columns`` of the entry's ``load_args``, when it names some), for
        Kedro-Viz. Only the first rows are read, however long the file."""
        dataset = newest_complete(self)
        path = get_filepath_str(dataset._get_load_path(), dataset._protocol)  # noqa: SLF001 - as Kedro's preview
        columns = dataset._load_args.get("columns")  # noqa: SLF001 - as Kedro's preview
        with dataset._fs.open(path, mode="rb") as parquet_file:  # noqa: SLF001 - as Kedro's preview
            reader = arrow_parquet.ParquetFile(parquet_file)
            first = next(reader.iter_batches(batch_size=nrows, columns=columns), None)
            # A table without rows has no batch: its (empty) whole is as cheap.
            table = (
                reader.read(columns=columns) if first is None else pa.Table.from_batches([first])
            )
        return TablePreview(table.to_pandas().to_dict(orient="split"))


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

    def preview(self) -> ImagePreview:
        """The newest complete version's PNG, base64-encoded, as Kedro-Viz
        shows pictures."""
        png = newest_complete(self).load()
        return ImagePreview(base64.b64encode(png).decode("ascii"))


class JSONReportDataset(JSONDataset):
    """Kedro's ``json.JSONDataset`` (the same file, load and save) whose
    Kedro-Viz preview is the record of the newest complete version, where
    Kedro's reads the newest version folder, finished or not.

    Example::

        drift_report:
          type: customer_segmentation.datasets.JSONReportDataset
          filepath: data/08_reporting/drift_report.json
          versioned: true
    """

    def preview(self) -> JSONPreview:
        """The newest complete record, folded in Kedro-Viz's JSON viewer."""
        return JSONPreview(json.dumps(newest_complete(self).load()))


class SQLScriptDataset(TextDataset):
    """Kedro's ``text.TextDataset`` for an SQL script (the segment rules as
    one ``CASE WHEN``), previewed in Kedro-Viz as the script's text, line for
    line, from the newest complete version.

    Example::

        segment_rules_sql:
          type: customer_segmentation.datasets.SQLScriptDataset
          filepath: data/08_reporting/segment_rules.sql
          versioned: true
    """

    def preview(self) -> HTMLPreview:
        """The newest complete script as preformatted text that Kedro-Viz's
        Markdown pass leaves as it is (see ``report_for_kedro_viz``)."""
        script = newest_complete(self).load()
        fragment = _ViewerFragment()
        fragment.feed(f"<pre><code>{html.escape(script, quote=False)}</code></pre>")
        fragment.close()
        return HTMLPreview("".join(fragment.parts))


class JSONTableDataset(JSONReportDataset):
    """Kedro's ``json.JSONDataset`` (the same file, load and save) whose
    Kedro-Viz preview is a table: the list of records under one key of the
    document, named in the entry's ``preview_args``. So the scores per k in
    ``model_selection_metrics`` read as a table, one row per k, instead of a
    fold of the whole record. Numbers are rounded to 4 decimals, as the CSV
    reports are written.

    Example::

        model_selection_metrics:
          type: customer_segmentation.datasets.JSONTableDataset
          filepath: data/08_reporting/model_selection_metrics.json
          versioned: true
          metadata:
            kedro-viz:
              preview_args: {key: scores, nrows: 20}
    """

    def preview(self, key: str = "", nrows: int = 20) -> TablePreview:  # type: ignore[override]
        """The first ``nrows`` records under ``key`` of the newest complete
        version, as a table."""
        document = newest_complete(self).load()
        records = document.get(key) if isinstance(document, dict) else None
        if not isinstance(records, list):
            found = ", ".join(document) if isinstance(document, dict) else type(document).__name__
            raise KeyError(
                f"preview_args key '{key}' names no list of records in this document "
                f"(it holds: {found})"
            )
        table = pd.DataFrame.from_records(records[:nrows]).round(4)
        return TablePreview(table.to_dict(orient="split"))


class HTMLReportDataset(TextDataset):
    """Kedro's ``text.TextDataset`` for an HTML page (the segment report),
    previewed in Kedro-Viz as the page itself: its text, tables and pictures,
    without its stylesheet (``report_for_kedro_viz`` says why and how).

    Example::

        segment_report:
          type: customer_segmentation.datasets.HTMLReportDataset
          filepath: data/08_reporting/segment_report.html
          versioned: true
    """

    def preview(self) -> HTMLPreview:
        """The newest complete report, as Kedro-Viz can render it."""
        dataset = newest_complete(self)
        versioned = kedro_adapter.is_versioned(dataset)
        version = kedro_adapter.pinned_load_version(dataset) if versioned else None
        return HTMLPreview(report_for_kedro_viz(dataset.load(), version))


# Kedro-Viz 12.5 renders an HTMLPreview by sanitising it (DOMPurify) and then
# passing it through a small Markdown converter: `_x_` and `*x*` on one line
# become italics, `__x__` and `**x**` bold, `[x](y)` a link, and every line
# break a <br>. A report is HTML, not Markdown, so the preview is written so
# that none of those rules applies: its text holds no line break, and each
# `_`, `*` and `]` stands on a line of its own, between two line breaks kept
# inside attribute values (an empty <span>'s, or the attribute's own), where
# the converter's <br> is inert text. Two of them then never share a line and
# `](` never occurs. (Text between two backticks still shows as code: that
# rule spans lines. The report holds none.)
_MARKDOWN_SIGN = re.compile(r"[_*\]]")
_LINE_BREAK = '<span data-kedro-viz="line\nbreak"></span>'
# What Kedro-Viz cannot show or should not take: the page's head (its
# stylesheet would restyle Kedro-Viz itself) and scripts.
_SKIPPED_ELEMENTS = {"head", "title", "style", "script", "template"}
# Meaningless without the stylesheet, and kept from clashing with Kedro-Viz's.
_SKIPPED_ATTRIBUTES = {"class", "style", "id"}
_URL_ATTRIBUTES = {"href", "src", "cite", "poster"}
_VOID_ELEMENTS = set("area base br col embed hr img input link meta source track wbr".split())


def report_for_kedro_viz(page: str, version: str | None = None) -> str:
    """The body of the HTML ``page`` as a fragment that Kedro-Viz 12.5 renders
    as the page shows it (see the comment above): same elements, text and
    pictures; no stylesheet, scripts or line breaks in the source. A first
    line names the run (``version``) and how to open the page whole."""
    fragment = _ViewerFragment()
    fragment.feed(page)
    fragment.close()
    run = f" of the run {version}" if version else ""
    heading = (
        f"<p><em>The report{run} without its layout: <code>kedro report --open</code> "
        "opens it as written.</em></p>"
    )
    return heading + "".join(fragment.parts)


class _ViewerFragment(HTMLParser):
    """Rewrites an HTML page into the fragment ``report_for_kedro_viz`` returns."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []
        self._preformatted = 0  # how many <pre> the text is in

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping or tag in _SKIPPED_ELEMENTS:
            if tag not in _VOID_ELEMENTS:
                self._skipping.append(tag)
            return
        if tag in ("html", "body"):
            return
        kept = [
            f' {name}="{_attribute_value(name, value or "")}"'
            for name, value in attrs
            if name not in _SKIPPED_ATTRIBUTES
        ]
        if tag == "li" and not kept:
            # The converter wraps the items from the first bare <li> to the
            # last in one more list: an attribute keeps them from matching.
            kept.append(' data-list-item=""')
        self._preformatted += tag == "pre"
        self.parts.append(f"<{tag}{''.join(kept)}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_ELEMENTS and not self._skipping:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag not in _SKIPPED_ELEMENTS | _VOID_ELEMENTS | {"html", "body"}:
            self._preformatted -= tag == "pre" and self._preformatted > 0
            self.parts.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        """Text escaped, its line breaks as spaces (as <br> in a <pre>), each
        Markdown sign on a line of its own."""
        if self._skipping:
            return
        lines = [html.escape(line, quote=False) for line in re.split(r"\r\n|[\r\n]", data)]
        text = ("<br>" if self._preformatted else " ").join(lines)
        self.parts.append(
            _MARKDOWN_SIGN.sub(lambda sign: _LINE_BREAK + sign[0] + _LINE_BREAK, text)
        )


def _attribute_value(name: str, value: str) -> str:
    """An attribute value escaped and kept from the Markdown rules: in a link
    (``href``, ``src``) each Markdown sign percent-encoded, as a URL may write
    it; elsewhere (``alt``, ``title``) a line break on either side of each,
    which Kedro-Viz shows as ``<br>`` in that value. DOMPurify trims a break at
    either end of a value: such a sign can pair only with another in an
    attribute value, which alters that value but no element and no text."""
    if name in _URL_ATTRIBUTES:
        value = _MARKDOWN_SIGN.sub(lambda sign: f"%{ord(sign[0]):02X}", value)
    else:
        value = _MARKDOWN_SIGN.sub(lambda sign: f"\n{sign[0]}\n", value)
    return html.escape(value, quote=True)
