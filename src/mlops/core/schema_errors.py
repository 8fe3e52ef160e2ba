"""Turn JSON Schema validation errors into diagnostics that say what was expected.

jsonschema's own messages ("'x' is not valid under any of the given schemas") are written for
programmers. We rewrite each by keyword, point at the offending key or value, and use a schema's
`x-expected` annotation, when present, to describe a pattern in words.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

from mlops.core.diagnostics import Diagnostic, JsonPath
from mlops.core.document import Document

_JSON_KINDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "null",
}


def schema_diagnostics(document: Document, errors: Iterable[ValidationError]) -> list[Diagnostic]:
    """One diagnostic per problem, positioned at the value or key it concerns."""
    found: dict[tuple[JsonPath, str], Diagnostic] = {}
    for error in errors:
        for path, message, at_key in _describe(error):
            found.setdefault((path, message), document.error(path, message, key=at_key))
    return list(found.values())


def _kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _show(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _did_you_mean(word: Any, choices: Iterable[Any]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _expected(schema: Any) -> str | None:
    return schema.get("x-expected") if isinstance(schema, dict) else None


def _describe(error: ValidationError) -> Iterator[tuple[JsonPath, str, bool]]:
    path: JsonPath = tuple(error.absolute_path)
    keyword = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}

    if "propertyNames" in error.schema_path and isinstance(instance, str):
        # jsonschema validates each key as an instance of its own, at the mapping's path.
        wanted: str = _expected(schema) or f"a key matching {schema.get('pattern', 'the schema')}"
        yield (*path, instance), f"expected {wanted} as key; got {_show(instance)}", True
    elif keyword == "required":
        when = f" ({schema['x-when']})" if isinstance(schema.get("x-when"), str) else ""
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                what = "" if when else _property_description(schema, name)
                yield path, f"missing required field {name!r}{when}{what}", False
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        for key in instance:
            if key in allowed or any(p.search(key) for p in patterns):
                continue
            hint = _did_you_mean(key, allowed)
            listing = f"; allowed: {', '.join(allowed)}" if allowed else ""
            yield (*path, key), f"unknown field {key!r}{hint}{listing}", True
    elif keyword == "type":
        types = [value] if isinstance(value, str) else list(value)
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in types)
        hint = ""
        if (
            "string" in types
            and isinstance(instance, int | float)
            and not isinstance(instance, bool)
        ):
            hint = f': quote it as "{instance}"'
        got = "null" if instance is None else f"{_kind(instance)} {_show(instance)}"
        yield path, f"expected {words}, got {got}{hint}", False
    elif keyword == "enum":
        options = ", ".join(_show(v) for v in value)
        hint = _did_you_mean(instance, value)
        yield path, f"expected one of {options}; got {_show(instance)}{hint}", False
    elif keyword == "const":
        yield path, f"expected {_show(value)}, got {_show(instance)}", False
    elif keyword == "pattern":
        described = _expected(schema) or f"a string matching {value}"
        yield path, f"expected {described}; got {_show(instance)}", False
    elif keyword in _BOUNDS:
        yield path, f"expected {_BOUNDS[keyword]} {value}, got {_show(instance)}", False
    elif keyword in _SIZES:
        noun, relation = _SIZES[keyword]
        noun = noun.removesuffix("s") if value == 1 else noun
        yield path, f"expected {relation} {value} {noun}, got {len(instance)}", False
    elif keyword == "uniqueItems":
        yield path, f"expected every item to be different; repeated: {_repeats(instance)}", False
    elif keyword == "format":
        example = _FORMAT_EXAMPLES.get(value, "")
        yield path, f"expected a valid {value}{example}, got {_show(instance)}", False
    elif keyword == "not":
        reason = _expected(schema)
        text = f"expected {reason}" if reason else "this value is not allowed here"
        yield path, f"{text}; got {_show(instance)}", False
    elif keyword in ("anyOf", "oneOf") and error.context:
        best = best_match(error.context)
        yield from _describe(best)
    else:
        yield path, error.message, False


_FORMAT_EXAMPLES = {"date-time": " (RFC 3339, such as 2026-01-31T12:00:00Z)"}
_BOUNDS = {
    "minimum": "a number >=",
    "maximum": "a number <=",
    "exclusiveMinimum": "a number >",
    "exclusiveMaximum": "a number <",
}
_SIZES = {
    "minItems": ("items", "at least"),
    "maxItems": ("items", "at most"),
    "minLength": ("characters", "at least"),
    "maxLength": ("characters", "at most"),
    "minProperties": ("fields", "at least"),
    "maxProperties": ("fields", "at most"),
}


def _property_description(schema: dict[str, Any], name: str) -> str:
    prop = schema.get("properties", {}).get(name)
    if isinstance(prop, dict) and isinstance(prop.get("description"), str):
        first = prop["description"].split(". ")[0].rstrip(".")
        return f": {first[:1].lower()}{first[1:]}"
    return ""


def _repeats(items: list[Any]) -> str:
    seen: list[Any] = []
    repeated: list[str] = []
    for item in items:
        if item in seen and _show(item) not in repeated:
            repeated.append(_show(item))
        seen.append(item)
    return ", ".join(repeated)
