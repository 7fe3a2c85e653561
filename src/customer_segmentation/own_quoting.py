"""Quoting for ``kedro configure-data``: values from the user's data written
as YAML that cannot be subverted, and database passwords masked.

Column names, values, table names and file paths come from the user's data,
so nothing is written as it is: ``scalar`` writes a plain word only when YAML
reads it back as the same string, and double-quotes (escaping line breaks,
control characters and OmegaConf's ``${``) everything else; ``comment``
keeps a comment on one line whatever it quotes. A header such as
``"note\\nmodel_selection:\\n  k_min: 7"`` therefore stays one column name.

Database passwords never reach a file other than ``conf/local/credentials.yml``
nor the terminal: ``masked`` shows a URL as ``postgresql://user:***@host/db``
and ``redacted`` takes the password out of any text (a driver's error message).
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any
from urllib.parse import unquote

import yaml

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# Characters YAML accepts in a double-quoted scalar as they are: printable,
# and not a line break (YAML 1.1 also breaks lines at \x85, \u2028, \u2029).
_UNSAFE = re.compile(r"[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Words some YAML readers take for booleans or null: always quoted.
_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none"}
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"'}


def _escape_character(character: str) -> str:
    """One character as a YAML double-quoted escape (``\\n``, ``\\x07``, ...)."""
    if character in _ESCAPES:
        return _ESCAPES[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _escape(text: str) -> str:
    """``text`` with backslashes, quotes and every character YAML would not
    keep on the line as it is written as an escape (``\\n``, ``\\x07``, ...)."""
    return _UNSAFE.sub(
        lambda m: _escape_character(m.group()),
        re.sub(r'[\\"]', lambda m: _ESCAPES[m.group()], text),
    )


def scalar(value: Any) -> str:
    """One YAML value on one line: None, booleans and numbers as YAML writes
    them, strings plain only when they read back unchanged, else quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return ".nan" if math.isnan(value) else repr(float(value))
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _WORDS and yaml.safe_load(text) == text:
        return text
    # OmegaConf (Kedro's config loader) would resolve "${...}": "\${" keeps it literal.
    return '"' + _escape(text).replace("${", "\\\\${") + '"'


def flow(value: Any) -> str:
    """A value in YAML flow style on one line: lists as [a, b], mappings as {a: b}."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def printable(text: str) -> str:
    """``text`` on one line, control characters and line breaks escaped (for
    comments and the terminal)."""
    return _UNSAFE.sub(lambda m: _escape_character(m.group()), str(text))


def comment(text: str, indent: str = "") -> str:
    """One comment line (``text`` cannot break out of it)."""
    return f"{indent}# {printable(text)}\n"


def masked(source: str) -> str:
    """A database URL with its password shown as ``***`` (a file path as it is)."""
    if "://" not in source:
        return source
    scheme, rest = source.split("://", 1)
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        user_info, host = netloc.rsplit("@", 1)
        if ":" in user_info:
            netloc = user_info.split(":", 1)[0] + ":***@" + host
    path = re.sub(r"(?i)((?:password|pwd|passwd)=)[^&]*", r"\1***", path)
    return f"{scheme}://{netloc}{slash}{path}"


def _passwords(source: str) -> list[str]:
    """The passwords in a database URL (after ``user:`` or as ``password=``),
    as written and URL-decoded."""
    if "://" not in source:
        return []
    rest = source.split("://", 1)[1]
    found = re.findall(r"(?i)(?:password|pwd|passwd)=([^&]+)", rest)
    netloc = rest.split("/", 1)[0]
    if "@" in netloc and ":" in netloc.rsplit("@", 1)[0]:
        found.append(netloc.rsplit("@", 1)[0].split(":", 1)[1])
    return [p for secret in found if secret for p in {secret, unquote(secret)}]


def redacted(text: str, source: str) -> str:
    """``text`` (an error message, say) with the password of ``source`` masked."""
    text = text.replace(source, masked(source))
    for secret in sorted(_passwords(source), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
