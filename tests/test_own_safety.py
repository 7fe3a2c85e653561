"""`kedro configure-data` refuses unreadable sources in one line, reads every
Unicode encoding, never writes or prints a database password, and writes
YAML that names from the data cannot subvert."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from kedro_datasets.pandas import CSVDataset

from customer_segmentation import own_reading
from customer_segmentation.cli import cli
from customer_segmentation.own_data import inspect_source, write_environment
from customer_segmentation.own_reading import SourceError

PASSWORD = "s3cr#t:pw"
URL = f"postgresql://analyst:{PASSWORD}@db.example.com:5432/crm"


def _configure(project, *args):
    return CliRunner().invoke(
        cli,
        ["configure-data", *args],
        obj=SimpleNamespace(project_path=project),
        catch_exceptions=False,
    )


def _table(rows: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"{i:04d}" for i in range(rows)],
            "spend": [round(10.5 * i + 3.25, 2) for i in range(rows)],
            "visits": [i % 9 for i in range(rows)],
            "plan": ["basic", "plus", "premium"] * (rows // 3),
        }
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty (0 bytes)"),
        (b"\n\n  \n", "is empty (only blank lines)"),
        (b"customer_id,spend\n", "has a header but no data rows"),
        (bytes(range(256)) * 40, "not a text table"),
        (b"\x89PNG\r\n\x1a\n" + bytes(500), "not a text table"),
        (b"PK\x03\x04" + bytes(100), "ZIP archive"),
    ],
)
def test_unreadable_files_are_refused_in_one_line(tmp_path, content, expected):
    source = tmp_path / "customers.csv"
    source.write_bytes(content)
    result = _configure(tmp_path, str(source), "--env", "mine")
    assert result.exit_code == 1
    assert expected in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "conf" / "mine").exists()


def test_a_folder_and_a_missing_file_are_refused_in_one_line(tmp_path):
    for source, expected in ((tmp_path, "is a folder"), (tmp_path / "nope.csv", "does not exist")):
        result = _configure(tmp_path, str(source), "--env", "mine")
        assert result.exit_code == 1 and expected in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_duplicate_column_names_are_refused_with_their_names(tmp_path):
    source = tmp_path / "wholesale.csv"
    source.write_text("Channel,Milk,Fresh,Milk\n1,2,3,4\n2,3,4,5\n")
    with pytest.raises(SourceError, match="names 'Milk' more than once"):
        inspect_source(str(source))


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16", True),
        ("utf-16-le", False),
        ("utf-16-be", False),
        ("utf-32", True),
        ("utf-32-le", False),
        ("utf-32-be", False),
    ],
)
def test_utf16_and_utf32_files_are_read_and_the_catalog_reads_them(tmp_path, encoding, bom):
    table = _table().assign(plan=lambda t: t["plan"].str.replace("plus", "plüs"))
    source = tmp_path / "customers.csv"
    source.write_bytes(table.to_csv(index=False).encode(encoding))
    assert source.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff") or not bom
    inspection = inspect_source(str(source))
    assert inspection.id_column == "customer_id"
    assert inspection.named("numeric") == ["spend", "visits"]
    assert inspection.named("categorical") == ["plan"]
    write_environment(inspection, "mine", tmp_path)
    entry = yaml.safe_load((tmp_path / "conf/mine/catalog.yml").read_text())["raw_customers"]
    loaded = CSVDataset(filepath=str(tmp_path / entry["filepath"]), load_args=entry["load_args"])
    pd.testing.assert_frame_equal(loaded.load(), table)


def test_a_database_password_is_only_in_local_credentials(tmp_path, monkeypatch):
    monkeypatch.setattr(own_reading.pd, "read_sql_table", lambda table, con: _table())
    result = _configure(tmp_path, URL, "--table", "vip #2024", "--env", "crm")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "postgresql://analyst:***@db.example.com:5432/crm" in result.output
    for path in (tmp_path / "conf" / "crm").iterdir():
        assert PASSWORD not in path.read_text(), path
    catalog_text = (tmp_path / "conf/crm/catalog.yml").read_text()
    assert "analyst:***@db.example.com" in catalog_text
    catalog = yaml.safe_load(catalog_text)
    assert catalog["raw_customers"]["table_name"] == "vip #2024"
    credentials = yaml.safe_load((tmp_path / "conf/local/credentials.yml").read_text())
    assert credentials == {"crm_database": {"con": URL}}


def test_a_database_error_never_shows_the_password(tmp_path, monkeypatch):
    def fails(table, con):
        raise RuntimeError(f'connection to "{con}" failed: password {PASSWORD} rejected')

    monkeypatch.setattr(own_reading.pd, "read_sql_table", fails)
    for args in (("--table", "customers"), ()):
        result = _configure(tmp_path, URL, *args, "--env", "crm")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert PASSWORD not in result.output and "analyst:***@" in result.output


def test_a_sql_table_name_is_quoted_and_read_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    _table().to_sql("vip #2024", url, index=False)
    result = _configure(tmp_path, url, "--table", "vip #2024", "--env", "shop")
    assert result.exit_code == 0, result.output
    catalog = yaml.safe_load((tmp_path / "conf/shop/catalog.yml").read_text())
    assert catalog["customers_to_score"]["table_name"] == "vip #2024"


HOSTILE = [
    "note\nmodel_selection:\n  k_min: 7",
    "# not a comment",
    "key: value",
    'it\'s "quoted"',
    "- item",
    "{flow",
    "*alias",
    "&anchor",
    "!tag",
    "Âge moyen €",
    "${oc.env:HOME}",
    "tab\there\rreturn\x85next\u2028line",
    "long" * 200,
]


def test_hostile_column_names_cannot_add_keys_or_break_comments(tmp_path):
    rows = 30
    table = pd.DataFrame(
        {
            name: [float(i * (k + 2) % 17) + 0.5 for i in range(rows)]
            for k, name in enumerate(HOSTILE)
        }
    )
    table.insert(0, "-id: {x}", [f"c{i}" for i in range(rows)])
    folder = tmp_path / "data: #1\n- x"
    folder.mkdir()
    source = folder / "customers.csv"
    table.to_csv(source, index=False, quoting=csv.QUOTE_NONNUMERIC)  # "\r" quoted too
    inspection = inspect_source(str(source))
    write_environment(inspection, "hostile", tmp_path)
    for name in ("catalog.yml", "parameters.yml"):
        text = (tmp_path / "conf" / "hostile" / name).read_text(encoding="utf-8")
        for line in text.split("\n"):
            assert len(line.splitlines()) <= 1, line  # no line break hidden in a line
    parameters = yaml.safe_load((tmp_path / "conf/hostile/parameters.yml").read_text())
    catalog = yaml.safe_load((tmp_path / "conf/hostile/catalog.yml").read_text())
    assert set(parameters) == {"features", "preprocessing", "scoring"}
    assert set(catalog) == {"raw_customers", "customers_to_score"}
    features = parameters["features"]
    assert features["id_column"] == "-id: {x}"
    written = set(features["numeric"]) | set(features["profile_only"]["numeric"])
    unescaped = {n.replace("\\${", "${") for n in written}
    assert unescaped == set(HOSTILE)
    assert catalog["raw_customers"]["filepath"] == str(source.relative_to(tmp_path))
    assert catalog["raw_customers"]["load_args"]["dtype"] == {"-id: {x}": "str"}
