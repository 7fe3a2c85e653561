"""The manual builds, its links resolve, and the parameter reference is complete.

``mkdocs build --strict`` fails on a broken link, a missing anchor or a page
left out of the navigation, so building it here makes CI catch them. The
README is GitHub's front page, not part of the site: its links into docs/ are
checked against the built pages.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from customer_segmentation.parameters import ProjectParameters

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "docs" / "hooks" / "parameters_reference.py"
DOC_LINK = re.compile(r"\]\((docs/[^)#\s]+\.md)(#[^)\s]*)?\)")
# What user documentation must not carry: issue or pull-request numbers,
# commit hashes (7 to 40 hex digits with both digits and letters, as a word)
# and the lab notebook's "sittings".
HISTORY = re.compile(
    r"(?i:\bissue\s+#?\d+|\bkedro#\d+|(?<![\w&])#\d{1,5}\b|\bsittings?\b)"
    r"|\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b"
)


def _hook():
    spec = importlib.util.spec_from_file_location("parameters_reference", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder


def _built_page(site: Path, source: str) -> Path:
    """docs/own-data.md -> site/own-data/index.html (MkDocs' directory URLs)."""
    page = Path(source).relative_to("docs").with_suffix("")
    return site / "index.html" if page.name == "index" else site / page / "index.html"


def test_readme_links_a_newcomer_to_the_own_data_page_near_the_top(site):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    top = "\n".join(readme.splitlines()[:20])
    assert "](docs/own-data.md)" in top
    assert _built_page(site, "docs/own-data.md").is_file()


def test_every_readme_link_into_docs_is_a_built_page_and_anchor(site):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = DOC_LINK.findall(readme)
    assert links
    for source, anchor in links:
        page = _built_page(site, source)
        assert page.is_file(), f"README links to {source}, which the site does not build"
        if anchor:
            assert f'id="{anchor[1:]}"' in page.read_text(encoding="utf-8"), (
                f"README links to {source}{anchor}: no such heading"
            )


def test_readme_stays_a_front_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def _leaf_keys(model: type[BaseModel], prefix: str) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}" if prefix else name
        keys.append(key)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys += _leaf_keys(field.annotation, key)
    return keys


def test_the_parameter_reference_names_every_key_with_a_meaning(site):
    page = (site / "parameters" / "index.html").read_text(encoding="utf-8")
    assert "parameters-reference" not in page  # the marker was replaced
    for key in _leaf_keys(ProjectParameters, ""):
        assert f"<code>{key}</code>" in page, f"{key} is missing from the parameter reference"
    reference = _hook().reference()
    rows = [line for line in reference.splitlines() if line.startswith("| `")]
    described = [row for row in rows if not row.rstrip().endswith("|  |")]
    # Every key has a meaning, its own or a pointer to the key that explains it,
    # except keys inside list items or named entries, which the block's text explains.
    undescribed = [row.split("|")[1].strip() for row in rows if row not in described]
    assert all("[]" in key or "<name>" in key for key in undescribed), undescribed


def test_comments_above_and_beside_keys_become_meanings():
    text = """\
# The block.
block:
  # Range of k.
  k_min: 2
  k_max: 10

  plain: 1  # beside the value
  nested:
    inner: x
  rules:
    - action: a   # the action
      why: b
"""
    comments = _hook().yaml_comments(text)
    assert comments["block"] == "The block."
    assert comments["block.k_min"] == "Range of k."
    assert comments["block.k_max"] == "See `block.k_min`."
    assert comments["block.plain"] == "beside the value"
    assert "block.nested.inner" not in comments
    assert comments["block.rules[].action"] == "the action"


def test_a_field_description_comes_before_the_yaml_comment():
    class Block(BaseModel):
        size: int = Field(default=3, ge=1, description="How many, from the model.")
        seed: int

    rows = _hook()._rows(
        Block, "block", {"seed": 7}, {"block.size": "From YAML.", "block.seed": "The seed."}, "f"
    )
    assert rows == [
        "| `block.size` | int (≥ 1) | `3` | How many, from the model. |",
        "| `block.seed` | int | required; base: `7` | The seed. |",
    ]


def test_user_documentation_carries_no_issue_numbers_hashes_or_sittings():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {match.group(0)}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for match in HISTORY.finditer(line)
    ]
    assert not found, found


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ("measured before commit 5bbdfb9", True),
        ("the work of issue 11", True),
        ("see kedro#2694", True),
        ("fixed in #21", True),
        ("in the third sitting", True),
        ("line 5 (customer_id C0000004)", False),
        ("both DAGs succeeded", False),
        ("an order id such as C536379", False),
        ("revenue $2,500,315.63", False),
    ],
)
def test_the_history_pattern_catches_what_it_should(line, flagged):
    assert bool(HISTORY.search(line)) is flagged
