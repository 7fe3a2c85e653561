"""MkDocs hook: writes the parameter reference into docs/parameters.md.

The reference is generated at build time from the pydantic models that check
every run's parameters (``customer_segmentation.parameters.ProjectParameters``),
so it cannot fall behind them: every block and key with its type, its default
and what it means. A key's meaning is its ``Field(description=...)`` when the
model has one, else the comment above the key (or after it) in
``conf/base/parameters*.yml``. A key the model requires has no default of its
own; the value ``conf/base`` gives it is shown instead.

The page's hand-written text holds the marker ``<!-- parameters-reference -->``
where the generated tables go.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from customer_segmentation.parameters import ProjectParameters

MARKER = "<!-- parameters-reference -->"
PROJECT = Path(__file__).resolve().parents[2]
BASE = PROJECT / "conf" / "base"
LONG_VALUE = 60  # characters: longer base values are left to the YAML file

_CONSTRAINTS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "at least"}
_SIMPLE = {type(None): "null", Any: "any"}
_KEY = re.compile(r"^(?P<indent>\s*)(?P<item>- )?(?P<key>[A-Za-z_][\w-]*):(?P<rest>.*)$")


def yaml_comments(text: str) -> dict[str, str]:
    """Dotted key -> the comment written above the key (or after its value).

    Keys inside list items are ``parent[].key``; a blank line ends a comment.
    A key written right under a commented sibling, with no comment of its own
    (``k_max`` under ``k_min``), shares that comment and points to it.
    """
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing keys
    pending: list[str] = []
    group: dict[int, str] = {}  # indent -> the commented sibling the next keys share
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            pending = []
            group = {}
            continue
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if match is None:
            pending = []
            continue
        indent = len(match["indent"])
        key = match["key"]
        if match["item"]:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, "[]"))
            indent += 2
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        path = ".".join(part for _, part in stack).replace(".[]", "[]")
        inline = match["rest"].split(" #", 1)[1].strip() if " #" in match["rest"] else ""
        comment = " ".join([*pending, inline]).strip()
        group = {level: key for level, key in group.items() if level <= indent}
        if comment:
            group[indent] = path
        elif indent in group:
            comment = f"See `{group[indent]}`."
        if comment and path not in comments:
            comments[path] = comment
        pending = []
    return comments


def base_parameters() -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The merged values of conf/base, the comments by dotted key, and the file of each block."""
    values: dict[str, Any] = {}
    comments: dict[str, str] = {}
    files: dict[str, str] = {}
    for path in sorted(BASE.glob("parameters*.yml")):
        text = path.read_text(encoding="utf-8")
        content = yaml.safe_load(text) or {}
        values.update(content)
        files.update({block: f"conf/base/{path.name}" for block in content})
        comments.update(yaml_comments(text))
    return values, comments, files


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if _model_of(annotation):
        name = "block"
    elif origin is typing.Literal:
        name = " | ".join(f"`{value}`" for value in arguments)
    elif origin in (typing.Union, types.UnionType):
        name = " | ".join(_type_name(argument) for argument in arguments)
    elif origin is not None:
        inner = ", ".join(_type_name(argument) for argument in arguments)
        name = f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    else:
        name = _SIMPLE.get(annotation) or getattr(annotation, "__name__", str(annotation))
    return name


def _constraints(field: Any) -> str:
    parts = []
    for item in field.metadata:
        for name, symbol in _CONSTRAINTS.items():
            value = getattr(item, name, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def _value(value: Any, file: str) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    text = text.removesuffix("...").strip()
    if len(text) > LONG_VALUE:
        return f"see `{file}`"
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(
    model: type[BaseModel],
    prefix: str,
    base: Any,
    comments: dict[str, str],
    file: str,
) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}"
        base_value = base.get(name) if isinstance(base, dict) else None
        kind = _type_name(field.annotation)
        constraints = _constraints(field)
        if constraints:
            kind = f"{kind} ({constraints})"
        if not field.is_required() and _model_of(field.annotation):
            default = "its keys' defaults"
        elif not field.is_required():
            default = _value(field.get_default(call_default_factory=True), file)
        elif base_value is not None or (isinstance(base, dict) and name in base):
            default = f"required; base: {_value(base_value, file)}"
        else:
            default = "required"
        description = field.description or comments.get(key, "")
        parent = prefix.removesuffix("[]")
        if not description and comments.get(parent):
            description = f"See `{parent}`."
        rows.append(f"| `{key}` | {_cell(kind)} | {_cell(default)} | {_cell(description)} |")
        nested = _model_of(field.annotation)
        element = _element_model(field.annotation)
        if nested is not None:
            rows += _rows(nested, key, base_value, comments, file)
        elif element is not None:
            marker, element_model = element
            rows += _rows(element_model, f"{key}{marker}", None, comments, file)
    return rows


def _element_model(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """The model of a list's items (``[]``) or a dict's values (``.<name>``)."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is list and arguments and _model_of(arguments[0]):
        return "[]", arguments[0]
    if origin is dict and len(arguments) == 2 and _model_of(arguments[1]):
        return ".<name>", arguments[1]
    return None


def reference() -> str:
    """The parameter reference in Markdown: one section and table per block."""
    values, comments, files = base_parameters()
    sections = []
    for block, field in ProjectParameters.model_fields.items():
        model = _model_of(field.annotation)
        file = files.get(block, "conf/base/parameters.yml")
        lines = [
            f"## `{block}`",
            "",
            field.description or comments.get(block, ""),
            "",
            f"Set in `{file}`.",
            "",
            "| key | type | default | meaning |",
            "| --- | --- | --- | --- |",
            *_rows(model, block, values.get(block), comments, file),
            "",
        ]
        sections.append("\n".join(lines))
    return "\n".join(sections)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fills the marker of docs/parameters.md with the generated reference."""
    if page.file.src_uri == "parameters.md":
        if MARKER not in markdown:
            raise ValueError(f"docs/parameters.md has lost its marker {MARKER}")
        return markdown.replace(MARKER, reference())
    return markdown
