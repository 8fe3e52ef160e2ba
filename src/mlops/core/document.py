"""A parsed input document: plain data plus where each value and key stands in the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.core.diagnostics import Diagnostic, JsonPath, Position


@dataclass
class Document:
    """Plain JSON-like data loaded from `file`, with a source position for every node."""

    file: str
    data: Any
    positions: dict[JsonPath, Position] = field(default_factory=dict)
    key_positions: dict[JsonPath, Position] = field(default_factory=dict)

    def position_of(self, path: JsonPath, *, key: bool = False) -> Position | None:
        """The position of the value at `path` (or of its key), else of its nearest ancestor."""
        if key and path in self.key_positions:
            return Position(*self.key_positions[path])
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return Position(*found)  # loaders may store plain (line, column) tuples
        return None

    def error(self, path: JsonPath, message: str, *, key: bool = False) -> Diagnostic:
        return Diagnostic(self.file, path, message, self.position_of(path, key=key))

    def warning(self, path: JsonPath, message: str, *, key: bool = False) -> Diagnostic:
        return Diagnostic(self.file, path, message, self.position_of(path, key=key), "warning")

    def get(self, path: JsonPath, default: Any = None) -> Any:
        """The value at `path`, or `default` when any step is missing or of the wrong kind."""
        node = self.data
        for part in path:
            if isinstance(part, int):
                if not isinstance(node, list) or not -len(node) <= part < len(node):
                    return default
            elif not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node
