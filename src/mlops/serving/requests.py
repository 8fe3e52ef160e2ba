"""Prediction requests checked against the model's manifest features, before the model sees them.

Pure logic on plain data (no BentoML, MLflow or I/O). A request is
`{"rows": [{feature: value, ...}, ...]}` or `{"columns": [...], "data": [[...], ...]}`.
Every problem is collected (the first MAX_PROBLEMS are listed), each naming the row index
and the field and saying what was expected: a request of the wrong shape is refused with
400, values that break the feature schema with 422.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from mlops.core.features import Feature, check_value, describe

MAX_PROBLEMS = 50


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
    """The request cannot be scored: `status` is 400 (its shape), 413 (over a limit) or 422
    (its values)."""

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
            problems.append(Problem(f"got {describe(row)}", index, None, _ROW_EXPECTED))
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
        raise _shape(f"got {describe(rows)}", "rows", "a list of objects, one per row")
    if tabular:
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise _shape(f"got {describe(columns)}", "columns", "a list of feature names")
        if len(set(columns)) != len(columns):
            raise _shape("names a column twice", "columns", "each feature once")
        if not isinstance(data, list):
            raise _shape(f"got {describe(data)}", "data", "a list of rows, each a list of values")
        problems = _field_problems(columns, {f.name: f for f in features}, None)
        rows = []
        for index, values in enumerate(data):
            if isinstance(values, list) and len(values) == len(columns):
                rows.append(dict(zip(columns, values, strict=True)))
            else:
                expected = f"a list of {len(columns)} values, one per column"
                problems.append(Problem(f"got {describe(values)}", index, None, expected))
                rows.append({})
    where = "data" if tabular else "rows"
    if not rows:
        raise _shape("the request has no rows", where, "at least one row")
    if len(rows) > max_rows:
        problem = Problem(f"{len(rows)} rows; the limit is {max_rows} per request", None, where,
                          f"at most {max_rows} rows (serving.api.limits.max_rows):"
                          " split the request")  # fmt: skip
        raise RequestRefused(413, [problem])
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


BODY_EXPECTED = 'a JSON object: {"rows": [...]} or {"columns": [...], "data": [...]}'


def body_refusal(raw: bytes) -> RequestRefused | None:
    """Why a request body is not a JSON object, as a 400 (None: it is one). The server's
    framework would refuse it too, but in a shape of its own that the API description and
    clients do not know."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _shape(f"the body is not valid JSON ({exc})", None, BODY_EXPECTED)
    if not isinstance(parsed, dict):
        return _shape(f"the body is {describe(parsed)}", None, BODY_EXPECTED)
    return None


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


REQUEST_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")


def client_request_id(header: str | None) -> str | None:
    """The client's X-Request-ID when it is safe to echo and log (1-128 plain characters)."""
    if header and len(header) <= 128 and set(header) <= REQUEST_ID_CHARS:
        return header
    return None
