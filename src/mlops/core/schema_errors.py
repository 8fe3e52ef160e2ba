"""Turn JSON Schema validation errors into diagnostics that say what was expected.

jsonschema's own messages ("'x' is not valid under any of the given schemas") are written for
programmers. We rewrite each by keyword, point at the offending key or value, and use a schema's
`x-expected` annotation, when present, to describe a pattern in words.

A file may hold any number of errors, so the work per file is bounded: the first
`SHOWN_PER_FILE` problems are described in full (with a did-you-mean hint, the one costly step),
the rest are only counted, and no more than `EXAMINED_PER_FILE` errors are taken from the
validator (its `iter_errors` is lazy; past the bound the count is a lower bound).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Hashable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple

from jsonschema.exceptions import ValidationError, best_match

from mlops.core.bounds import EXAMINED_PER_FILE, SHOWN_PER_FILE, Omission
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


def schema_diagnostics(
    document: Document,
    errors: Iterable[ValidationError],
    *,
    shown: int = SHOWN_PER_FILE,
    examined: int = EXAMINED_PER_FILE,
) -> list[Diagnostic]:
    """One diagnostic per problem, positioned at the value or key it concerns: the first
    `shown` of them, then one `Omission` counting the others. At most `examined` errors are
    taken from `errors` (plus one, to know whether more exist)."""
    found: dict[tuple[JsonPath, str], Diagnostic] = {}
    counted: set[tuple[JsonPath, str]] = set()

    def take(error: ValidationError) -> None:
        for problem in _describe(error):
            key = (problem.path, problem.message)
            if key in found or key in counted:
                continue
            if len(found) < shown:
                found[key] = document.error(problem.path, problem.text(), key=problem.at_key)
            else:
                counted.add(key)

    pending = iter(errors)
    for error in islice(pending, examined):
        take(error)
    unexamined = next(pending, None)
    if unexamined is not None:
        take(unexamined)
    result = list(found.values())
    if counted or unexamined is not None:
        exact = unexamined is None
        result.append(
            Omission.of(document.file, shown=len(result), errors=len(counted), exact=exact)
        )
    return result


class _Problem(NamedTuple):
    """One described problem. `message` lacks the did-you-mean hint, which is worked out (by
    `text`) only for problems that are listed: it is the one costly step per problem."""

    path: JsonPath
    message: str
    at_key: bool = False
    suggest: tuple[Any, Sequence[Any]] | None = None  # the word and what it may have meant
    hint_at: int = 0  # where the hint goes in the message

    def text(self) -> str:
        if self.suggest is None:
            return self.message
        hint = _did_you_mean(*self.suggest)
        return f"{self.message[: self.hint_at]}{hint}{self.message[self.hint_at :]}"


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


def _describe(error: ValidationError) -> Iterator[_Problem]:
    path: JsonPath = tuple(error.absolute_path)
    keyword = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}

    if "propertyNames" in error.schema_path and isinstance(instance, str):
        # jsonschema validates each key as an instance of its own, at the mapping's path.
        wanted: str = _expected(schema) or f"a key matching {schema.get('pattern', 'the schema')}"
        yield _Problem((*path, instance), f"expected {wanted} as key; got {_show(instance)}", True)
    elif keyword == "required":
        when = f" ({schema['x-when']})" if isinstance(schema.get("x-when"), str) else ""
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                what = "" if when else _property_description(schema, name)
                yield _Problem(path, f"missing required field {name!r}{when}{what}")
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        known = set(allowed)
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        listing = f"; allowed: {', '.join(allowed)}" if allowed else ""
        for key in instance:
            if key in known or any(p.search(key) for p in patterns):
                continue
            head = f"unknown field {key!r}"
            yield _Problem((*path, key), head + listing, True, (key, allowed), len(head))
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
        yield _Problem(path, f"expected {words}, got {got}{hint}")
    elif keyword == "enum":
        options = ", ".join(_show(v) for v in value)
        message = f"expected one of {options}; got {_show(instance)}"
        yield _Problem(path, message, False, (instance, value), len(message))
    elif keyword == "const":
        yield _Problem(path, f"expected {_show(value)}, got {_show(instance)}")
    elif keyword == "pattern":
        described = _expected(schema) or f"a string matching {value}"
        yield _Problem(path, f"expected {described}; got {_show(instance)}")
    elif keyword in _BOUNDS:
        yield _Problem(path, f"expected {_BOUNDS[keyword]} {value}, got {_show(instance)}")
    elif keyword in _SIZES:
        noun, relation = _SIZES[keyword]
        noun = noun.removesuffix("s") if value == 1 else noun
        yield _Problem(path, f"expected {relation} {value} {noun}, got {len(instance)}")
    elif keyword == "uniqueItems":
        message = f"expected every item to be different; repeated: {_repeats(instance)}"
        yield _Problem(path, message)
    elif keyword == "format":
        example = _FORMAT_EXAMPLES.get(value, "")
        yield _Problem(path, f"expected a valid {value}{example}, got {_show(instance)}")
    elif keyword == "not":
        reason = _expected(schema)
        text = f"expected {reason}" if reason else "this value is not allowed here"
        yield _Problem(path, f"{text}; got {_show(instance)}")
    elif keyword in ("anyOf", "oneOf") and error.context:
        best = best_match(error.context)
        yield from _describe(best)
    else:
        yield _Problem(path, error.message)


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
    """The repeated items, each once, in order: by JSON equality, in linear time."""
    seen: set[Hashable] = set()
    repeated: dict[Hashable, str] = {}
    for item in items:
        key = json_identity(item)
        if key in seen and key not in repeated:
            repeated[key] = _show(item)
        seen.add(key)
    return ", ".join(repeated.values())


def json_identity(value: Any) -> Hashable:
    """A hashable stand-in equal for equal JSON values: 1 and 1.0 alike, true and 1 not, key
    order ignored. Lets uniqueness be checked with a set instead of comparing every pair."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list | tuple):
        return ("array", tuple(json_identity(v) for v in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, json_identity(v)) for k, v in value.items()))
    return ("other", repr(value))
