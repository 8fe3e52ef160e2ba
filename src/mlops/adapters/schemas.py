"""JSON Schemas from the repository's policies/schemas/, checked and compiled once per run.

Each schema is compiled twice: a fast Rust validator (jsonschema-rs) answers "valid?" for the
common case, and only when the answer is no does the reference Python implementation
(jsonschema, imported then) explain every problem. Start-up stays small for the valid case.

The explaining validator checks `uniqueItems` in linear time: jsonschema's own check compares
every pair of items that cannot be sorted (mappings), which takes tens of seconds for a few
thousand of them. Schema files are held to the policy size limit, like the policies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from mlops.core import layout
from mlops.core.bounds import size_limit
from mlops.core.diagnostics import Diagnostic, Position
from mlops.core.document import Document

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def is_date_time(value: object) -> bool:
    """RFC 3339 date-time with a time zone, checked by us so that the check cannot silently
    vanish when jsonschema's optional format dependencies are missing."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@dataclass
class CompiledSchema:
    """One schema: a fast yes/no validator and, on demand, the explaining one."""

    schema: dict[str, Any]
    fast: Any

    @cached_property
    def explaining(self) -> Validator:
        from jsonschema import Draft202012Validator, FormatChecker, validators

        formats = FormatChecker(formats=())
        formats.checks("date-time")(is_date_time)
        explaining: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
            Draft202012Validator, {"uniqueItems": _unique_items}
        )
        return explaining(self.schema, format_checker=formats)

    def diagnostics(self, document: Document) -> list[Diagnostic]:
        if self.fast.is_valid(document.data):
            return []
        from mlops.core.schema_errors import schema_diagnostics

        return schema_diagnostics(document, self.explaining.iter_errors(document.data))


def _unique_items(
    validator: Validator, unique: Any, instance: Any, _schema: Any
) -> Iterator[ValidationError]:
    """`uniqueItems` by JSON equality, with a set: linear, where jsonschema's is quadratic."""
    from jsonschema.exceptions import ValidationError

    from mlops.core.schema_errors import json_identity

    if not unique or not validator.is_type(instance, "array"):
        return
    identities = {json_identity(item) for item in instance}
    if len(identities) < len(instance):
        yield ValidationError("has non-unique elements")


@dataclass
class SchemaSet:
    """A compiled schema per kind of file, and any problems with the schemas themselves."""

    schemas: dict[str, CompiledSchema] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def compile_schema(schema: dict[str, Any]) -> CompiledSchema:
    return CompiledSchema(schema, jsonschema_rs.validator_for(schema, validate_formats=True))


def load_schema(path: Path, display: str) -> tuple[CompiledSchema | None, list[Diagnostic]]:
    """Read a schema, check it against the draft 2020-12 metaschema, and compile it."""
    try:
        too_large = size_limit(display).problem(path.stat().st_size)
        if too_large:
            return None, [Diagnostic(display, (), too_large)]
        schema = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [Diagnostic(display, (), "schema file not found")]
    except UnicodeDecodeError:
        return None, [Diagnostic(display, (), "not valid UTF-8 text", Position(1, 1))]
    except json.JSONDecodeError as exc:
        pos = Position(exc.lineno, exc.colno)
        return None, [Diagnostic(display, (), f"invalid JSON: {exc.msg}", pos)]
    if not isinstance(schema, dict):
        return None, [Diagnostic(display, (), "a JSON Schema must be an object", Position(1, 1))]
    if not jsonschema_rs.meta.is_valid(schema) or schema.get("$schema") != _DRAFT_2020_12:
        return None, [_schema_problem(schema, display)]
    for where, ref in _refs(schema, ()):
        if _resolve_pointer(schema, ref) is None:
            message = f"not a valid draft 2020-12 schema: $ref {ref!r} points to nothing"
            return None, [Diagnostic(display, where, message)]
    return compile_schema(schema), []


def _refs(node: Any, where: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every local `$ref` ("#..."), with the path of the object holding it."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            found.append((where, ref))
        for key, value in node.items():
            found += _refs(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _refs(value, (*where, index))
    return found


def _resolve_pointer(schema: dict[str, Any], ref: str) -> Any:
    node: Any = schema
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def _schema_problem(schema: dict[str, Any], display: str) -> Diagnostic:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if schema.get("$schema") != _DRAFT_2020_12:
        return Diagnostic(display, ("$schema",), f'expected "$schema": "{_DRAFT_2020_12}"')
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        message = f"not a valid draft 2020-12 schema: {exc.message}"
        return Diagnostic(display, tuple(exc.absolute_path), message)
    return Diagnostic(display, (), "not a valid draft 2020-12 schema")


def load_schemas(root: Path) -> SchemaSet:
    result = SchemaSet()
    for kind, filename in layout.SCHEMA_OF.items():
        display = f"{layout.SCHEMAS_DIR}/{filename}"
        compiled, problems = load_schema(root / display, display)
        result.files.append(display)
        result.diagnostics.extend(problems)
        if compiled is not None:
            result.schemas[kind] = compiled
    return result
