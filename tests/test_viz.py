"""Kedro-Viz previews: `kedro viz build --include-previews` on a trained
project writes the report, the pictures and the small tables (profiles,
recommendations, scores per k) into its api files, and every preview reads
the newest version that a finished run marked complete, never a killed run's
half-written one."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.io.core import Version, VersionNotFoundError
from kedro_viz.models.flowchart.node_metadata import DataNodeMetadata
from kedro_viz.models.flowchart.nodes import GraphNode
from matplotlib.figure import Figure

from customer_segmentation.datasets import (
    ArrowCSVDataset,
    CSVDataset,
    FigureDataset,
    HTMLReportDataset,
    JSONReportDataset,
    JSONTableDataset,
    SQLScriptDataset,
    report_for_kedro_viz,
)
from customer_segmentation.versioning.marks import mark_complete
from tests.conftest import kedro_cli, version_file, versions

OLD, NEW = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPORTING = "data/08_reporting"


def _save(dataset_class, path: Path, data, stamp: str, complete: bool = True, **options) -> None:
    """Saves ``data`` as version ``stamp`` of a versioned dataset at ``path``,
    marked complete as a finished run marks it, or left as a killed run leaves it."""
    dataset_class(filepath=str(path), version=Version(None, stamp), **options).save(data)
    if complete:
        mark_complete([path / stamp / path.name], stamp, {})


def _reader(dataset_class, path: Path, **options):
    """The dataset at ``path`` as the catalog makes it: loading the newest version."""
    return dataset_class(filepath=str(path), version=Version(None, None), **options)


def _visible_text(markup: str) -> str:
    """The text a browser shows of ``markup``: no head, style or script, no
    tags (a line break as a space), entities decoded, white space collapsed."""
    markup = re.sub(r"<(head|style|script)\b.*?</\1>", "", markup, flags=re.S | re.I)
    markup = re.sub(r"<br\b[^>]*>", " ", markup)
    return " ".join(html.unescape(re.sub(r"<[^>]*>", "", markup)).split())


def _figure(colour: str) -> Figure:
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([1, 2, 3], [3, 1, 2], color=colour)
    return figure


def test_a_table_preview_is_the_first_rows_of_the_newest_complete_version(tmp_path):
    path = tmp_path / "profiles.csv"
    finished = pd.DataFrame({"segment": range(30), "name": [f"=cmd {i}" for i in range(30)]})
    _save(CSVDataset, path, finished, OLD, neutralise_formulas=True)
    _save(CSVDataset, path, pd.DataFrame({"half": [1]}), NEW, complete=False)
    dataset = _reader(CSVDataset, path, neutralise_formulas=True)
    assert list(dataset.load().columns) == ["half"]  # Kedro alone reads the killed run's file

    preview = dataset.preview(nrows=3)

    assert preview["columns"] == ["segment", "name"]
    assert preview["data"] == finished.head(3).to_numpy().tolist()  # formulas restored


def test_an_arrow_table_preview_is_its_first_rows_read_with_the_entrys_load_args(tmp_path):
    path = tmp_path / "targets.csv"
    table = pd.DataFrame({"customer_id": [f"{i:04d}" for i in range(50)], "segment": 1})
    _save(ArrowCSVDataset, path, table, OLD)

    preview = _reader(ArrowCSVDataset, path, load_args={"dtype": {"customer_id": str}}).preview()

    assert preview["data"] == table.head(5).to_numpy().tolist()


def test_a_picture_preview_is_the_png_of_the_newest_complete_version(tmp_path):
    path = tmp_path / "criteria_plot.png"
    _save(FigureDataset, path, _figure("tab:blue"), OLD)
    _save(FigureDataset, path, _figure("tab:red"), NEW, complete=False)

    png = base64.b64decode(_reader(FigureDataset, path).preview())

    assert png.startswith(PNG_SIGNATURE)
    assert png == (path / OLD / path.name).read_bytes() != (path / NEW / path.name).read_bytes()


def test_the_scores_preview_is_a_table_of_the_records_under_its_key(tmp_path):
    path = tmp_path / "model_selection_metrics.json"
    scores = [{"k": k, "silhouette": 1 / k, "gmm_bic": None} for k in range(2, 9)]
    _save(JSONTableDataset, path, {"selected_k": 3, "scores": scores}, OLD)
    dataset = _reader(JSONTableDataset, path)

    preview = dataset.preview(key="scores", nrows=4)

    assert preview["columns"] == ["k", "silhouette", "gmm_bic"]
    assert [row[:2] for row in preview["data"]] == [[2, 0.5], [3, 0.3333], [4, 0.25], [5, 0.2]]
    with pytest.raises(KeyError, match="key 'selected_k' names no list.*holds: selected_k, scores"):
        dataset.preview(key="selected_k")


def test_a_record_preview_is_the_newest_complete_record(tmp_path):
    path = tmp_path / "drift_report.json"
    _save(JSONReportDataset, path, {"drifted": False, "psi": 0.01}, OLD)
    (path / NEW).mkdir()
    (path / NEW / path.name).write_text('{"drifted": tr')  # a killed run's half record

    assert json.loads(_reader(JSONReportDataset, path).preview()) == {
        "drifted": False,
        "psi": 0.01,
    }


def test_the_sql_rules_preview_is_the_script_line_for_line(tmp_path):
    path = tmp_path / "segment_rules.sql"
    script = (
        "CASE\n  WHEN total_spend > 1200 AND last_order_days <= 30 THEN 1\n"
        "  WHEN a_b * 2 < 3 AND name LIKE '%x_[y]%' THEN 2\n  ELSE 0\nEND"
    )
    _save(SQLScriptDataset, path, script, OLD)
    _save(SQLScriptDataset, path, "CASE WHEN", NEW, complete=False)

    preview = _reader(SQLScriptDataset, path).preview()

    shown = html.unescape(
        re.sub(
            r"<[^>]*>",
            "",
            re.sub(
                r"<br>", "\n", preview.replace('<span data-kedro-viz="line\nbreak"></span>', "")
            ),
        )
    )
    assert shown == script
    lines = preview.split("\n")  # nothing for Kedro-Viz's Markdown pass to read
    assert max(len(re.findall(r"[_*\]]", line)) for line in lines) == 1
    assert preview.startswith("<pre><code>")


def test_the_report_preview_is_the_newest_complete_report(tmp_path):
    path = tmp_path / "segment_report.html"
    page = (
        "<!DOCTYPE html><html><head><style>body { color: red }</style></head><body>\n"
        "<h1>Customer segments</h1>\n<h3>Segment 0: Big spenders</h3>\n"
        '<img alt="Segment sizes" src="data:image/png;base64,iVBORw0KGgo=">\n</body></html>'
    )
    _save(HTMLReportDataset, path, page, OLD)
    _save(HTMLReportDataset, path, "<p>half writ", NEW, complete=False)

    preview = _reader(HTMLReportDataset, path).preview()

    assert OLD in preview
    assert "Segment 0: Big spenders" in preview
    assert '<img alt="Segment sizes" src="data:image/png;base64,iVBORw0KGgo=">' in preview
    assert "half writ" not in preview
    assert "color: red" not in preview


@pytest.mark.parametrize(
    ("dataset_class", "data", "name", "preview_type"),
    [
        (CSVDataset, pd.DataFrame({"a": [1]}), "t.csv", "TablePreview"),
        (JSONTableDataset, {"scores": []}, "m.json", "TablePreview"),
        (JSONReportDataset, {"drifted": False}, "d.json", "JSONPreview"),
        (SQLScriptDataset, "CASE END", "r.sql", "HTMLPreview"),
        (FigureDataset, _figure("tab:blue"), "p.png", "ImagePreview"),
        (HTMLReportDataset, "<p>x</p>", "r.html", "HTMLPreview"),
    ],
)
def test_without_a_complete_version_kedro_viz_shows_no_preview(
    tmp_path, caplog, dataset_class, data, name, preview_type
):
    """A project whose only run was killed: the preview raises a short error,
    which Kedro-Viz logs, and the dataset shows without a preview."""
    path = tmp_path / name
    _save(dataset_class, path, data, NEW, complete=False)
    dataset = _reader(dataset_class, path)
    with pytest.raises(VersionNotFoundError, match="no complete version in .*a run that finishes"):
        dataset.preview()

    node = GraphNode.create_data_node(
        dataset_id="id", dataset_name=name, layer=None, tags=set(), dataset=dataset,
        modular_pipelines=set(),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        metadata = DataNodeMetadata(data_node=node)

    assert metadata.preview is None
    assert metadata.preview_type == preview_type
    assert "no complete version" in caplog.text


HOSTILE_PAGE = """<!DOCTYPE html><html><head><title>T</title><script>alert(1)</script></head>
<body class="page"><h1 id="top">Segments_of_customers</h1>
<p style="color: red">snake_case and __dunder__ and **bold** and *star* and a_b*c_d
# not a heading
1. not a list
[not](a link) x &lt;5 &amp; y</p>
<ul><li>one_1</li><li>two_2</li></ul>
<table><tr><td>a_b</td><td>*</td></tr></table>
<img alt="pic_one*two" src="data:image/png;base64,iVBORw0KGgo=">
<a href="http://example.com/a_b_c?x=[1]">link_text</a>
<pre>line_one
line_two</pre>
</body></html>"""


def test_the_report_preview_leaves_nothing_for_kedro_viz_to_read_as_markdown():
    """Kedro-Viz passes an HTML preview through a Markdown converter whose
    rules read one line at a time (see datasets.report_for_kedro_viz): the
    preview keeps the page's visible text, holds at most one Markdown sign per
    line, no `](`, no page head, stylesheet or script, and no class."""
    preview = report_for_kedro_viz(HOSTILE_PAGE, OLD)

    lines = preview.split("\n")
    assert max(len(re.findall(r"[_*\]]", line)) for line in lines) == 1
    assert "](" not in preview
    assert not re.search(r"<(head|title|style|script)|class=|style=|id=", preview)
    heading, _, body = _visible_text(preview).partition("opens it as written. ")
    assert OLD in heading
    assert body == _visible_text(HOSTILE_PAGE.replace("<title>T</title>", ""))
    assert "<li data-list-item" in preview  # not a bare <li>, which the converter re-wraps
    assert 'href="http://example.com/a%5Fb%5Fc?x=[1%5D"' in preview
    assert "line_one<br>line_two" in re.sub(r"<span[^>]*></span>", "", preview)  # a <pre>


@pytest.mark.integration
def test_kedro_viz_build_writes_previews_of_the_report_plots_and_tables(trained_project):
    """`kedro viz build --include-previews` as a user runs it, after a
    finished run and a killed one that left half-written files."""
    complete = versions(trained_project, f"{REPORTING}/segment_report.html")[-1]
    for name, half_written in [
        ("segment_report.html", "<p>half writ"),
        ("segment_profiles.csv", "half"),
    ]:
        killed = trained_project / REPORTING / name / "2099-01-01T00.00.00.000Z"
        killed.mkdir()
        (killed / name).write_text(half_written)

    result = kedro_cli(trained_project, "viz", "build", "--include-previews")

    assert result.returncode == 0, result.stderr
    api = trained_project / "build" / "api"
    main = json.loads((api / "main").read_text())
    ids = {node["name"]: node["id"] for node in main["nodes"] if node["type"] == "data"}

    def preview(name: str, preview_type: str):
        node = json.loads((api / "nodes" / ids[name]).read_text())
        assert node["preview_type"] == preview_type, name
        return node["preview"]

    def table(name: str) -> pd.DataFrame:
        path = version_file(trained_project, f"{REPORTING}/{name}.csv", complete)
        return pd.read_csv(path)

    profiles = table("segment_profiles")
    report = preview("segment_report", "HTMLPreview")
    assert complete in report
    text = _visible_text(report)
    for segment, name in zip(profiles["segment"], profiles["name"], strict=True):
        assert f"Segment {segment}: {name}" in text
    assert "half writ" not in report

    png = base64.b64decode(preview("criteria_plot", "ImagePreview"))
    plot = version_file(trained_project, f"{REPORTING}/criteria_plot.png", complete)
    assert png.startswith(PNG_SIGNATURE)
    assert png == plot.read_bytes()

    shown = preview("segment_profiles", "TablePreview")
    assert shown["columns"] == list(profiles.columns)
    assert [row[1] for row in shown["data"]] == list(profiles["name"])

    recommendations = table("segment_recommendations")
    shown = preview("segment_recommendations", "TablePreview")
    assert shown["columns"] == list(recommendations.columns)
    assert [row[shown["columns"].index("action")] for row in shown["data"]] == list(
        recommendations["action"]
    )

    # preview_args {nrows: 10}: all six algorithms, more than the default five rows.
    algorithms = table("algorithm_comparison")
    assert len(preview("algorithm_comparison", "TablePreview")["data"]) == len(algorithms) > 5

    metrics_file = version_file(
        trained_project, f"{REPORTING}/model_selection_metrics.json", complete
    )
    scores = json.loads(metrics_file.read_text())["scores"]
    shown = preview("model_selection_metrics", "TablePreview")
    assert shown["columns"] == list(scores[0])
    assert [row[0] for row in shown["data"]] == [score["k"] for score in scores]

    drift = version_file(trained_project, f"{REPORTING}/drift_report.json", complete)
    assert json.loads(preview("drift_report", "JSONPreview")) == json.loads(drift.read_text())
    rules = version_file(trained_project, f"{REPORTING}/segment_rules.sql", complete)
    assert "WHEN" in rules.read_text() and "WHEN" in preview("segment_rules_sql", "HTMLPreview")
