"""Diagnostics: one problem found in one input file, with where and what was expected."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

JsonPath = tuple[str | int, ...]
Severity = Literal["error", "warning"]


class Position(NamedTuple):
    """A 1-based line and column in a text file."""

    line: int
    column: int


@dataclass(frozen=True)
class Diagnostic:
    """One problem: file, position, JSON path inside the document, and a message."""

    file: str
    path: JsonPath
    message: str
    position: Position | None = None
    severity: Severity = "error"

    @property
    def json_path(self) -> str:
        return format_json_path(self.path)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        pos = self.position or Position(0, 0)
        return (self.file, pos.line, pos.column, self.json_path, self.message)

    def render(self) -> str:
        """`file:line:col: $.path: message`, the format editors and CI logs understand."""
        where = self.file
        if self.position is not None:
            where = f"{where}:{self.position.line}:{self.position.column}"
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}: {self.json_path}: {prefix}{self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.position.line if self.position else None,
            "column": self.position.column if self.position else None,
            "json_path": self.json_path,
            "severity": self.severity,
            "message": self.message,
        }


def format_json_path(path: Sequence[str | int]) -> str:
    """`$.a.b[0]`, with keys that are not identifiers quoted: `$.versions["1.0"]`."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.replace("_", "").replace("-", "").isalnum() and not part[:1].isdigit():
            out.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Stable report order: by file, then position, then path; duplicates dropped."""
    return sorted(set(diagnostics), key=Diagnostic.sort_key)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)
