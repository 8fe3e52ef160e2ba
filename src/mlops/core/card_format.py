"""Formatting for model cards: numbers, Markdown cells and tables, and YAML front matter.

Every value a card shows goes through one of these helpers, so the same input always gives
the same bytes: metrics use one number format, free text is escaped the same way everywhere,
and the front matter is written by a small serializer with a fixed layout.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SIGNIFICANT = 4
# Plain YAML scalars we may write unquoted: starts with a letter, no ':', '#', quotes or flow
# characters, no trailing space, and not a YAML 1.1 boolean or null word.
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9 _./()+-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone halves (from JSON escapes) cannot be UTF-8


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a mapping (as a dict), else empty: renderers tolerate odd input."""
    return dict(value) if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else empty."""
    return list(value) if isinstance(value, list) else []


def number(value: Any) -> str:
    """A metric as text: four significant digits without trailing zeros (0.9962, 53.32, 62),
    positional from 1e-6 to 1e15 and in exponent form (1.5e-08) beyond; integers in full."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return text(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == 0:
        return "0"
    if not 1e-6 <= abs(value) < 1e15:
        mantissa, exponent = f"{value:.{SIGNIFICANT - 1}e}".split("e")
        mantissa = mantissa.rstrip("0")
        return f"{mantissa}{'0' if mantissa.endswith('.') else ''}e{int(exponent):+d}"
    magnitude = math.floor(math.log10(abs(value)))
    formatted = f"{value:.{max(SIGNIFICANT - 1 - magnitude, 0)}f}"
    if "." in formatted:
        formatted = formatted.rstrip("0").rstrip(".")
    return "0" if formatted == "-0" else formatted


def scalar(value: Any) -> str:
    """A parameter exactly as written: floats in their shortest round-trip form."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in value.items()) + "}"
    return text(value)


def text(value: Any) -> str:
    """Free text with normalised line ends and no characters UTF-8 cannot encode."""
    raw = value if isinstance(value, str) else str(value)
    return _SURROGATE.sub("\ufffd", raw.replace("\r\n", "\n").replace("\r", "\n"))


def paragraph(value: Any) -> str:
    """Manifest prose as a Markdown paragraph: trailing spaces and blank edges removed."""
    lines = [line.rstrip() for line in text(value).strip().split("\n")]
    return "\n".join(lines)


def cell(value: Any) -> str:
    """Text for a table cell: `|` escaped, line breaks as <br>, never empty."""
    escaped = paragraph(value).replace("|", "\\|").replace("\n", "<br>")
    return escaped if escaped.strip() else "-"


def code(value: Any) -> str:
    """An inline code span that survives backticks in the value."""
    content = text(value).replace("\n", " ")
    fence = "`"
    while fence in content:
        fence += "`"
    pad = " " if content.startswith("`") or content.endswith("`") else ""
    return f"{fence}{pad}{content}{pad}{fence}"


def code_cell(value: Any) -> str:
    """An inline code span inside a table cell (GitHub needs `|` escaped even there)."""
    return code(value).replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; cells are expected to be escaped already."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def size(value: Any) -> str:
    """A byte count for people, in binary units with one decimal (91003 -> 88.9 KiB)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "-"
    amount, unit = float(value), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    return f"{value} bytes" if unit == "bytes" else f"{amount:.1f} {unit}"


def front_matter(data: Mapping[str, Any]) -> str:
    """YAML front matter between `---` lines, in block style with a fixed layout."""
    return "---\n" + "".join(_mapping(data, 0)) + "---\n"


def _mapping(data: Mapping[str, Any], indent: int) -> list[str]:
    if not data:
        return [" " * indent + "{}\n"]
    lines: list[str] = []
    pad = " " * indent
    for key, value in data.items():
        name = _key(text(key))
        if isinstance(value, Mapping) and value:
            lines.append(f"{pad}{name}:\n")
            lines.extend(_mapping(value, indent + 2))
        elif isinstance(value, list | tuple) and value:
            lines.append(f"{pad}{name}:\n")
            lines.extend(_sequence(value, indent))
        else:
            lines.append(f"{pad}{name}: {_flow(value)}\n")
    return lines


def _sequence(items: Sequence[Any], indent: int) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for item in items:
        if isinstance(item, Mapping) and item:
            nested = _mapping(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        elif isinstance(item, list | tuple) and item:
            nested = _sequence(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        else:
            lines.append(f"{pad}- {_flow(item)}\n")
    return lines


def _flow(value: Any) -> str:
    """A scalar (or an empty collection) on one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return _quoted(number(value))
        return number(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return _string(text(value))


def _key(name: str) -> str:
    return name if _KEY.fullmatch(name) and name.lower() not in _YAML_WORDS else _quoted(name)


def _string(value: str) -> str:
    if _PLAIN.fullmatch(value) and not value.endswith(" ") and value.lower() not in _YAML_WORDS:
        return value
    return _quoted(value)


def _quoted(value: str) -> str:
    """A double-quoted YAML scalar; characters YAML cannot hold raw are escaped."""
    out = []
    for char in value:
        point = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif point < 0x20 or 0x7F <= point <= 0x9F:
            out.append(f"\\x{point:02x}")
        elif point in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF) or 0xD800 <= point <= 0xDFFF:
            out.append(f"\\u{point:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
