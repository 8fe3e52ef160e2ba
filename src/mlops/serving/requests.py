"""Prediction requests checked against the model's manifest features, before the model sees them.

Pure logic on plain data (no BentoML, MLflow or I/O). A request is
`{"rows": [{feature: value, ...}, ...]}` or `{"columns": [...], "data": [[...], ...]}`.
Every problem is collected (the first MAX_PROBLEMS are listed), each naming the row index
and the field and saying what was expected: a request of the wrong shape is refused with
400, values that break the feature schema with 422.
"""

from __future__ import annotations

import difflib
import hmac
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FEATURE_TYPES = ("number", "integer", "boolean", "string", "category")
MAX_PROBLEMS = 50
INT64_LIMIT = 2**63


@dataclass(frozen=True)
class Feature:
    """One input feature as model.yaml declares it (`whole`: the model takes whole numbers)."""

    name: str
    type: str
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[Any, ...] = ()
    nullable: bool = False
    whole: bool = False

    @property
    def integral(self) -> bool:
        return self.type == "integer" or (self.type == "number" and self.whole)

    def expected(self) -> str:
        """What a valid value looks like, in words: `a number >= 0`, `true or false`."""
        if self.type == "boolean":
            kind = "true or false"
        elif self.type == "string":
            kind = "a string"
        elif self.type == "category":
            kind = "one of " + ", ".join(json.dumps(c) for c in self.categories)
        else:
            kind = "a whole number" if self.integral else "a number"
            if self.minimum is not None and self.maximum is not None:
                kind += f" from {_number(self.minimum)} to {_number(self.maximum)}"
            elif self.minimum is not None:
                kind += f" >= {_number(self.minimum)}"
            elif self.maximum is not None:
                kind += f" <= {_number(self.maximum)}"
        return kind + " or null" if self.nullable else kind


@dataclass(frozen=True)
class Problem:
    """One reason a request is refused; `row` and `field` say where (None: the whole request)."""

    message: str
    row: int | None = None
    field: str | None = None
    expected: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {"row": self.row, "field": self.field, "message": self.message,
                 "expected": self.expected}  # fmt: skip
        return {key: value for key, value in found.items() if value is not None}

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        where += [f"field {self.field!r}"] if self.field is not None else []
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        return f"{text}; expected {self.expected}" if self.expected else text


class RequestRefused(Exception):
    """The request cannot be scored: `status` is 400 (its shape) or 422 (its values)."""

    def __init__(self, status: int, problems: Sequence[Problem]) -> None:
        self.status = status
        self.count = len(problems)
        self.problems = list(problems[:MAX_PROBLEMS])
        more = self.count - 1
        super().__init__(f"{self.problems[0]}" + (f" (and {more} more problems)" if more else ""))

    def body(self) -> dict[str, Any]:
        return {
            "error": str(self),
            "problem_count": self.count,
            "problems": [problem.as_dict() for problem in self.problems],
        }


def check_request(
    body: Mapping[str, Any], features: Sequence[Feature], max_rows: int
) -> list[dict[str, Any]]:
    """The request's rows, each a dict in feature order with normalised values (whole numbers
    as int, other numbers as float); RequestRefused lists every problem found."""
    rows, problems, tabular = _request_rows(body, features, max_rows)
    by_name = {feature.name: feature for feature in features}
    checked: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            problems.append(Problem(f"got {_describe(row)}", index, None, _ROW_EXPECTED))
            continue
        if not tabular:  # a table's columns were checked once, for every row
            problems += _field_problems(list(row), by_name, index)
        values: dict[str, Any] = {}
        for feature in features:
            if feature.name in row:
                value, message = check_value(feature, row[feature.name])
                if message is not None:
                    problems.append(Problem(message, index, feature.name, feature.expected()))
                values[feature.name] = value
        checked.append(values)
    if problems:
        raise RequestRefused(422, problems)
    return checked


def check_value(feature: Feature, value: Any) -> tuple[Any, str | None]:
    """The normalised value, or None and what is wrong with it."""
    if value is None:
        return None, None if feature.nullable else "got null"
    if feature.type in ("boolean", "string"):
        wanted = bool if feature.type == "boolean" else str
        return (value, None) if isinstance(value, wanted) else (None, f"got {_describe(value)}")
    if feature.type == "category":
        known = isinstance(value, (str, int)) and not isinstance(value, bool)
        if known and any(type(c) is type(value) and c == value for c in feature.categories):
            return value, None
        return None, f"got {_describe(value)}, which is not a category"
    if isinstance(value, bool) or not _is_number(value):
        return None, f"got {_describe(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, f"{value} is not a finite number"
    if feature.integral:
        if isinstance(value, float) and not value.is_integer():
            return None, f"{_number(value)} is not a whole number"
        value = int(value)
        if not -INT64_LIMIT <= value < INT64_LIMIT:
            return None, f"{value} is outside the 64-bit integer range"
    else:
        try:
            value = float(value)
        except OverflowError:
            return None, "is too large for a 64-bit number"
    if feature.minimum is not None and value < feature.minimum:
        return None, f"{_number(value)} is below the minimum {_number(feature.minimum)}"
    if feature.maximum is not None and value > feature.maximum:
        return None, f"{_number(value)} is above the maximum {_number(feature.maximum)}"
    return value, None


def smoke_row(features: Sequence[Feature], example: Mapping[str, Any] | None) -> dict[str, Any]:
    """One valid row for the startup smoke prediction: the model's own input example when it
    fits the manifest, else a row of typical values built from the feature bounds."""
    if example is not None and all(f.name in example for f in features):
        try:
            return check_request({"rows": [{f.name: example[f.name] for f in features}]},
                                 features, 1)[0]  # fmt: skip
        except RequestRefused:
            pass
    return check_request({"rows": [{f.name: _typical(f) for f in features}]}, features, 1)[0]


_ROW_EXPECTED = "an object of feature values"


def _request_rows(
    body: Mapping[str, Any], features: Sequence[Feature], max_rows: int
) -> tuple[list[Any], list[Problem], bool]:
    """The raw rows (what a client sent for each), problems with the columns of a table,
    and whether the request was a table (columns and data)."""
    rows: Any = body.get("rows")
    columns, data = body.get("columns"), body.get("data")
    tabular = columns is not None or data is not None
    if rows is not None and tabular:
        raise _shape("send either rows or columns and data, not both")
    if rows is None and not tabular:
        raise _shape('no rows: send {"rows": [{feature: value, ...}, ...]}'
                     ' or {"columns": [...], "data": [[...], ...]}')  # fmt: skip
    problems: list[Problem] = []
    if rows is not None and not isinstance(rows, list):
        raise _shape(f"got {_describe(rows)}", "rows", "a list of objects, one per row")
    if tabular:
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise _shape(f"got {_describe(columns)}", "columns", "a list of feature names")
        if len(set(columns)) != len(columns):
            raise _shape("names a column twice", "columns", "each feature once")
        if not isinstance(data, list):
            raise _shape(f"got {_describe(data)}", "data", "a list of rows, each a list of values")
        problems = _field_problems(columns, {f.name: f for f in features}, None)
        rows = []
        for index, values in enumerate(data):
            if isinstance(values, list) and len(values) == len(columns):
                rows.append(dict(zip(columns, values, strict=True)))
            else:
                expected = f"a list of {len(columns)} values, one per column"
                problems.append(Problem(f"got {_describe(values)}", index, None, expected))
                rows.append({})
    where = "data" if tabular else "rows"
    if not rows:
        raise _shape("the request has no rows", where, "at least one row")
    if len(rows) > max_rows:
        raise _shape(f"{len(rows)} rows; the limit is {max_rows} per request", where,
                     f"at most {max_rows} rows: split the request")  # fmt: skip
    return rows, problems, tabular


def _field_problems(
    names: Sequence[str], by_name: Mapping[str, Feature], row: int | None
) -> list[Problem]:
    problems = []
    present = set(names)
    for name in names:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(Problem(f"unknown field{hint}", row, name))
    for name, feature in by_name.items():
        if name not in present:
            problems.append(Problem("required feature is missing", row, name, feature.expected()))
    return problems


def _shape(message: str, field: str | None = None, expected: str | None = None) -> RequestRefused:
    return RequestRefused(400, [Problem(message, None, field, expected)])


def _typical(feature: Feature) -> Any:
    if feature.type == "boolean":
        return False
    if feature.type == "category":
        return feature.categories[0]
    if feature.type == "string":
        return "example"
    low, high = feature.minimum, feature.maximum
    middle = (low + high) / 2 if low is not None and high is not None else low or high or 0
    if feature.integral:
        middle = math.ceil(middle)
        return min(middle, math.floor(high)) if high is not None else middle
    return float(middle)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, (int, float)):
        return f"the number {_number(value)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)} values"
    return f"a {type(value).__name__}"


REQUEST_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")


def client_request_id(header: str | None) -> str | None:
    """The client's X-Request-ID when it is safe to echo and log (1-128 plain characters)."""
    if header and len(header) <= 128 and set(header) <= REQUEST_ID_CHARS:
        return header
    return None


def key_refusal(
    authorization: str | None, api_key_header: str | None, api_key: str
) -> tuple[int, str] | None:
    """None when the request carries `api_key` (`Authorization: Bearer <key>` or `X-API-Key`),
    else the status (401 without a key, 403 with a wrong one) and why."""
    offered = api_key_header
    if offered is None and authorization is not None:
        scheme, _, token = authorization.partition(" ")
        offered = token.strip() if scheme.lower() == "bearer" else None
    if not offered:
        return 401, "an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>"
    if not hmac.compare_digest(offered.encode(), api_key.encode()):
        return 403, "the API key is not valid"
    return None
