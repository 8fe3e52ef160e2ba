"""Safe YAML loading that remembers where every value stands and reports problems, never raises.

PyYAML's `safe_load` forgets positions and silently keeps the last of two duplicate keys. We read
the same safe event stream (libyaml when available) and build plain data ourselves, recording the
line and column of every key and value, so a later schema error can point at the exact spot.
Limits on size (by kind of file: `core.bounds.size_limit`), nesting and alias expansion keep
hostile files from exhausting the machine.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from mlops.core.bounds import SizeLimit, size_limit
from mlops.core.diagnostics import Diagnostic, JsonPath, Position
from mlops.core.document import Document

MAX_DEPTH = 64
MAX_NODES = 1_000_000

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = SafeConstructor()
# YAML 1.1 implicit typing of plain scalars, as PyYAML's safe loader does it, by first character.
_IMPLICIT: dict[str, list[tuple[str, Any]]] = dict(Resolver.yaml_implicit_resolvers)
_STR, _TIMESTAMP, _MERGE = (
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:merge",
)
_PLAIN_TAGS = {
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_KINDS = {bool: "a boolean", int: "an integer", float: "a number", type(None): "null"}
_DISCARDED = "\x00discarded"


@dataclass
class LoadResult:
    """The document (None when it could not be read at all) and every problem found."""

    document: Document | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    refused: set[JsonPath] = field(default_factory=set)  # values replaced after a diagnostic


class _Stop(Exception):
    """Parsing cannot go on; the reason is already in the diagnostics."""


@dataclass
class _Frame:
    path: JsonPath
    container: dict[str, Any] | list[Any]
    anchor: str | None
    start_count: int
    key: str | None = None
    key_line: int = 0
    key_column: int = 0
    discard: bool = False
    merge: bool = False
    merges: list[dict[str, Any]] = field(default_factory=list)
    key_lines: dict[str, int] = field(default_factory=dict)


def _position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def load_yaml_file(
    path: Path, display: str, *, positions: bool = True, limit: SizeLimit | None = None
) -> LoadResult:
    """Read and parse `path`; `display` is the name used in diagnostics (repository-relative).

    A file over `limit` (default: the limit for the kind of file `display` names) is refused
    by its size, unread. `positions=False` skips recording where each value stands: faster,
    for callers that parse again with positions only when there is something to report.
    """
    limit = limit or size_limit(display)
    try:
        too_large = limit.problem(path.stat().st_size)
        if too_large:
            return _fail(display, too_large)
        raw = path.read_bytes()
    except FileNotFoundError:
        return _fail(display, "file not found")
    except IsADirectoryError:
        return _fail(display, "expected a YAML file, found a directory")
    except OSError as exc:
        return _fail(display, f"cannot read file: {exc.strerror or exc}")
    return parse_yaml_bytes(raw, display, positions=positions, limit=limit)


def parse_yaml_bytes(
    raw: bytes, display: str, *, positions: bool = True, limit: SizeLimit | None = None
) -> LoadResult:
    """Decode UTF-8 (BOM allowed) and parse; binary or mis-encoded input is a diagnostic, and
    so is input over `limit` (default: by the kind of file `display` names)."""
    too_large = (limit or size_limit(display)).problem(len(raw))
    if too_large:
        return _fail(display, too_large)
    nul = raw.find(b"\x00")
    if nul >= 0:
        return _fail(display, "binary data (a NUL byte): expected UTF-8 YAML text", raw, nul)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _fail(display, "not valid UTF-8 text: expected a UTF-8 YAML file", raw, exc.start)
    return parse_yaml_text(text, display, positions=positions)


def parse_yaml_text(text: str, display: str, *, positions: bool = True) -> LoadResult:
    """Parse one YAML document into plain data, with positions unless told otherwise."""
    builder = _Builder(display) if positions else _DataOnlyBuilder(display)
    loader = _Loader(text)
    dispatch = builder.dispatch
    try:
        while True:
            event = loader.get_event()
            if event is None or type(event) is StreamEndEvent:
                break
            handler = dispatch.get(type(event))
            if handler is not None:
                handler(event)
    except _Stop:
        return LoadResult(None, builder.diagnostics)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{problem} ({exc.context})"
        pos = _position(mark) if mark is not None else Position(1, 1)
        if _char_at(text, pos) == "\t":
            problem = "a tab character; YAML indentation must use spaces"
        builder.diagnostics.append(Diagnostic(display, (), f"invalid YAML: {problem}", pos))
        return LoadResult(None, builder.diagnostics)
    except yaml.reader.ReaderError as exc:
        pos = _offset_position(text, exc.position)
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        message = f"invalid YAML: character {character!r} is not allowed in YAML text"
        builder.diagnostics.append(Diagnostic(display, (), message, pos))
        return LoadResult(None, builder.diagnostics)
    except yaml.YAMLError as exc:
        builder.diagnostics.append(Diagnostic(display, (), f"invalid YAML: {exc}", Position(1, 1)))
        return LoadResult(None, builder.diagnostics)
    finally:
        loader.dispose()
    if not builder.has_root:
        builder.diagnostics.append(
            Diagnostic(display, (), "file is empty: expected a YAML mapping", Position(1, 1))
        )
        return LoadResult(None, builder.diagnostics)
    document = Document(display, builder.root, builder.positions, builder.key_positions)
    return LoadResult(document, builder.diagnostics, builder.refused)


def _fail(display: str, message: str, raw: bytes | None = None, offset: int = 0) -> LoadResult:
    position = None
    if raw is not None:
        start = raw.rfind(b"\n", 0, offset) + 1
        prefix = raw[start:offset].removeprefix(b"\xef\xbb\xbf" if start == 0 else b"")
        column = len(prefix.decode("utf-8", "replace")) + 1  # characters, not bytes
        position = Position(raw.count(b"\n", 0, offset) + 1, column)
    return LoadResult(None, [Diagnostic(display, (), message, position)])


def _char_at(text: str, pos: Position) -> str:
    lines = text.split("\n", pos.line)
    line = lines[pos.line - 1] if len(lines) >= pos.line else ""
    return line[pos.column - 1 : pos.column]


def _offset_position(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    return Position(line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


@lru_cache(maxsize=8192)
def _plain_tag(value: str) -> str:
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return str(tag)
    return _STR


@lru_cache(maxsize=8192)
def _construct(tag: str, value: str) -> Any:
    return SafeConstructor.yaml_constructors[tag](_CONSTRUCTOR, ScalarNode(tag, value))


def _tag_of(event: ScalarEvent) -> str:
    tag = event.tag
    if tag is None or tag == "!":
        return _plain_tag(event.value) if event.implicit[0] else _STR
    return str(tag)


class _Builder:
    """Turns the event stream into plain data, positions and diagnostics.

    This is the hot path of `mlops validate`: dispatch is by event type, plain scalars are
    typed through a cache, and positions are plain tuples.
    """

    def __init__(self, display: str) -> None:
        self.display = display
        self.diagnostics: list[Diagnostic] = []
        self.refused: set[JsonPath] = set()
        self.positions: dict[JsonPath, Position] = {}
        self.key_positions: dict[JsonPath, Position] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.has_root = False
        self.documents = 0
        self.count = 0
        self.dispatch: dict[type, Callable[[Any], None]] = {
            ScalarEvent: self._scalar_event,
            MappingStartEvent: self._start,
            SequenceStartEvent: self._start,
            MappingEndEvent: self._end,
            SequenceEndEvent: self._end,
            AliasEvent: self._alias_event,
            DocumentStartEvent: self._document,
        }

    def _stop(self, mark: Any, message: str, path: JsonPath = ()) -> _Stop:
        self.diagnostics.append(Diagnostic(self.display, path, message, _position(mark)))
        return _Stop()

    def _document(self, event: DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            raise self._stop(
                event.start_mark, "expected a single YAML document; a second one starts here"
            )

    # -- nodes ---------------------------------------------------------------------------------

    def _child_path(self) -> JsonPath:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if type(top.container) is list:
            return (*top.path, len(top.container))
        if top.discard:  # the value of a duplicate key: kept out of the first one's positions
            return (_DISCARDED, self.count)
        return (*top.path, top.key or "")

    def _count(self, n: int, mark: Any) -> None:
        self.count += n
        if self.count > MAX_NODES:
            raise self._stop(
                mark, f"document expands to more than {MAX_NODES} values (through aliases?)"
            )

    def _attach(self, value: Any) -> None:
        if not self.stack:
            self.root, self.has_root = value, True
            return
        top = self.stack[-1]
        container = top.container
        if type(container) is list:
            container.append(value)
            return
        if top.merge:
            self._add_merge(top, value)
        elif not top.discard and top.key is not None:
            container[top.key] = value  # type: ignore[call-overload]
        top.key, top.discard, top.merge = None, False, False

    def _add_merge(self, top: _Frame, value: Any) -> None:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, dict) for s in sources):
            self.diagnostics.append(
                Diagnostic(
                    self.display,
                    top.path,
                    "merge key '<<' expects a mapping or a list of mappings",
                    Position(top.key_line, top.key_column),
                )
            )
            return
        top.merges.extend(sources)

    def _scalar_event(self, event: ScalarEvent) -> None:
        stack = self.stack
        if stack:
            top = stack[-1]
            if top.key is None and type(top.container) is dict:
                self._key(top, event)
                return
        path = self._child_path()
        self._record(path, event.start_mark)
        self.count += 1
        if self.count > MAX_NODES:
            self._count(0, event.start_mark)
        value = event.value if _tag_of(event) == _STR else self._scalar_value(event, path)
        self._attach(value)
        if event.anchor:
            self.anchors[event.anchor] = (value, 1)

    def _record(self, path: JsonPath, mark: Any) -> None:
        self.positions[path] = (mark.line + 1, mark.column + 1)  # type: ignore[assignment]

    def _scalar_value(self, event: ScalarEvent, path: JsonPath) -> Any:
        tag = _tag_of(event)
        if tag is _STR or tag == _STR:
            return event.value
        if tag in _PLAIN_TAGS:
            try:
                value = _construct(tag, event.value)
            except ValueError:  # an integer beyond Python's conversion limit
                digits = sum(c.isdigit() for c in event.value)
                limit = sys.get_int_max_str_digits()
                message = f"number has {digits} digits; the limit is {limit}"
                self._refuse(path, message, event)
                return None
            if type(value) is float and not math.isfinite(value):
                message = (
                    f"expected a finite number, got {event.value} (JSON has no NaN or infinity)"
                )
                self._refuse(path, message, event)
            return value
        if tag in (_TIMESTAMP, _MERGE) or tag.startswith("tag:yaml.org,2002:value"):
            return event.value  # timestamps stay text: the schema checks their format
        message = (
            f"unsupported YAML tag {tag!r}: use plain strings, numbers, booleans, "
            "lists and mappings"
        )
        self._refuse(path, message, event)
        return event.value

    def _refuse(self, path: JsonPath, message: str, event: ScalarEvent) -> None:
        """Report a value we cannot take as written; later checks skip its follow-on errors."""
        self.refused.add(path)
        self.diagnostics.append(
            Diagnostic(self.display, path, message, _position(event.start_mark))
        )

    def _alias_event(self, event: AliasEvent) -> None:
        if event.anchor not in self.anchors:
            raise self._stop(event.start_mark, f"alias *{event.anchor} names no earlier anchor")
        value, size = self.anchors[event.anchor]
        frame = self.stack[-1] if self.stack else None
        if frame is not None and frame.key is None and type(frame.container) is dict:
            if not isinstance(value, str):
                raise self._stop(event.start_mark, "mapping keys must be strings", frame.path)
            self._set_key(frame, value, event.start_mark, is_merge=False)
            return
        path = self._child_path()
        self._record(path, event.start_mark)
        self._count(size, event.start_mark)
        self._attach(value)

    def _key(self, frame: _Frame, event: ScalarEvent) -> None:
        tag = _tag_of(event)
        key: str = event.value
        if tag in _PLAIN_TAGS and (tag != "tag:yaml.org,2002:null" or event.value):
            parsed = _construct(tag, event.value)
            kind = _KINDS.get(type(parsed), type(parsed).__name__)
            self.diagnostics.append(
                Diagnostic(
                    self.display,
                    (*frame.path, key),
                    f"key {event.value} is read as {kind}; keys must be strings: "
                    f'quote it as "{event.value}"',
                    _position(event.start_mark),
                )
            )
        self._set_key(frame, key, event.start_mark, is_merge=tag == _MERGE)

    def _set_key(self, frame: _Frame, key: str, mark: Any, *, is_merge: bool) -> None:
        line = mark.line + 1
        frame.key, frame.key_line, frame.key_column = key, line, mark.column + 1
        frame.merge = is_merge
        if is_merge:
            return
        if key in frame.key_lines:
            self.diagnostics.append(
                Diagnostic(
                    self.display,
                    (*frame.path, key),
                    f"duplicate key {key!r} (first defined on line {frame.key_lines[key]})",
                    Position(line, mark.column + 1),
                )
            )
            frame.discard = True
            return
        frame.key_lines[key] = line
        self.key_positions[(*frame.path, key)] = (line, mark.column + 1)  # type: ignore[assignment]

    def _start(self, event: MappingStartEvent | SequenceStartEvent) -> None:
        stack = self.stack
        if stack and stack[-1].key is None and type(stack[-1].container) is dict:
            raise self._stop(
                event.start_mark, "mapping keys must be plain strings, not lists or mappings"
            )
        path = self._child_path()
        if len(stack) >= MAX_DEPTH:
            raise self._stop(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
        mark: Any = event.start_mark
        self._record(path, mark)
        container: dict[str, Any] | list[Any] = {} if type(event) is MappingStartEvent else []
        stack.append(_Frame(path, container, event.anchor, self.count))
        self._count(1, mark)

    def _end(self, _event: Any) -> None:
        frame = self.stack.pop()
        if frame.merges and isinstance(frame.container, dict):
            for source in frame.merges:  # explicit keys win, then earlier merges
                for key, value in source.items():
                    frame.container.setdefault(key, value)
        self._attach(frame.container)
        if frame.anchor:
            self.anchors[frame.anchor] = (frame.container, self.count - frame.start_count)


class _DataOnlyBuilder(_Builder):
    """The same data and diagnostics without recording positions: the fast first pass."""

    def _child_path(self) -> JsonPath:
        return ()

    def _record(self, path: JsonPath, mark: Any) -> None:
        pass

    def _set_key(self, frame: _Frame, key: str, mark: Any, *, is_merge: bool) -> None:
        if is_merge or key in frame.key_lines:  # rare: the full bookkeeping and its diagnostic
            super()._set_key(frame, key, mark, is_merge=is_merge)
            return
        frame.key, frame.merge = key, False
        frame.key_lines[key] = mark.line + 1
