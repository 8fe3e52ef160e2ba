"""Record batches checked against the manifest's features, column at a time with Arrow.

The same rules as the serving API's request check (`core.features`), without a Python loop
over clean data: a clean column costs a few vectorised kernels. Only a column that cannot be
cast as a whole (text where a number belongs, mixed JSON values) is checked value by value,
with exactly the serving API's rules. Each rejected row keeps its input values and the first
reason it failed, naming the field and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlops.core.batch import BatchError
from mlops.core.features import Feature, check_value, number

TRUE_TEXT, FALSE_TEXT = ("true", "1"), ("false", "0")
# Field metadata of a column whose values are JSON text: JSON lines whose values in it differ in
# type (a number in one line, a string in the next). Each value is decoded and checked as it was.
JSON_TEXT = {b"mlops.values": b"json"}


def json_text_field(name: str) -> Any:
    """An Arrow string field marked as holding JSON-encoded values."""
    import pyarrow as pa

    return pa.field(name, pa.string(), metadata=JSON_TEXT)


def _json_text(field: Any) -> bool:
    return bool(field.metadata) and field.metadata.get(b"mlops.values") == b"json"


@dataclass
class Checked:
    """The rows that pass (feature columns in their model types) and those that do not."""

    good: Any
    rejected: list[dict[str, Any]]


def missing_columns(columns: Sequence[str], features: Sequence[Feature]) -> str | None:
    """Why an input without some feature columns cannot be scored at all, or None."""
    missing = [f.name for f in features if f.name not in columns]
    if not missing:
        return None
    shown = ", ".join(missing[:10]) + (
        f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    )
    return f"the input lacks feature column(s) {shown} (data.features in model.yaml)"


def check_batch(
    batch: Any, features: Sequence[Feature], row_number: Callable[[int], int], text: bool
) -> Checked:
    """Split `batch` into the rows every feature accepts and the rejected rows with their
    reasons and input row numbers (`row_number` of an index); `text`: values are CSV text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    problem = missing_columns(batch.schema.names, features)
    if problem:
        raise BatchError(problem)
    columns = {name: batch.column(name) for name in batch.schema.names}
    encoded = {f.name for f in batch.schema if _json_text(f)}
    found: list[tuple[Any, Any]] = []  # (mask, reason: text or array of texts)
    for feature in features:
        if feature.name in encoded:
            cast, problems = _each(columns[feature.name], feature, False, json.loads)
        else:
            cast, problems = _column(columns[feature.name], feature, text)
        columns[feature.name] = cast
        found += problems
    checked = pa.RecordBatch.from_pydict(columns)
    if not found:
        return Checked(checked, [])
    bad = found[0][0]
    for mask, _ in found[1:]:
        bad = pc.or_(bad, mask)
    reason = pa.nulls(batch.num_rows, pa.string())
    for mask, why in reversed(found):  # the first feature's problem wins
        reason = pc.if_else(mask, why, reason)
    indices = pc.indices_nonzero(bad)
    records = batch.take(indices).to_pylist()
    for record in records:  # as the line had them
        for name in encoded:
            if record[name] is not None:
                record[name] = json.loads(record[name])
    reasons = reason.take(indices).to_pylist()
    rows = [row_number(int(i)) for i in indices.to_pylist()]
    rejected = [
        {"row": row, "reason": why, "record": record}
        for row, why, record in zip(rows, reasons, records, strict=True)
    ]
    return Checked(checked.filter(pc.invert(bad)), rejected)


def _column(column: Any, feature: Feature, text: bool) -> tuple[Any, list[tuple[Any, Any]]]:
    """The column in the feature's type and its problems (mask, reason)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    try:
        if feature.type in ("number", "integer"):
            if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind):
                return _numbers(column, feature)
            if pa.types.is_string(kind) and text:
                return _numbers(pc.cast(column, pa.float64()), feature)
        elif feature.type == "boolean":
            if pa.types.is_boolean(kind) or pa.types.is_null(kind):
                return _nulls(column.cast(pa.bool_()), feature)
            if pa.types.is_string(kind) and text:
                lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
                known = pc.is_in(lowered, value_set=pa.array([*TRUE_TEXT, *FALSE_TEXT]))
                if pc.all(pc.or_kleene(known, column.is_null())).as_py():
                    truth = pc.is_in(lowered, value_set=pa.array(TRUE_TEXT))
                    return _nulls(pc.if_else(column.is_null(), None, truth), feature)
        elif feature.type == "string":
            if pa.types.is_string(kind) or pa.types.is_null(kind):
                return _nulls(column.cast(pa.string()), feature)
        elif _category_type(feature, kind, text) is not None:
            wanted = _category_type(feature, kind, text)
            values = column.cast(wanted)
            allowed = [
                c for c in feature.categories if isinstance(c, str) == (wanted == pa.string())
            ]
            cast, problems = _nulls(values, feature)
            outside = pc.and_(pc.invert(pc.is_in(values, value_set=pa.array(allowed, wanted))),
                              values.is_valid())  # fmt: skip
            return cast, problems + _when(outside, feature, "is not a category")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass  # some value does not cast: check each one
    return _each(column, feature, text)


def _category_type(feature: Feature, kind: Any, text: bool) -> Any:
    import pyarrow as pa

    if any(isinstance(c, str) for c in feature.categories):
        return pa.string() if pa.types.is_string(kind) or pa.types.is_null(kind) else None
    if pa.types.is_integer(kind) or pa.types.is_null(kind) or (text and pa.types.is_string(kind)):
        return pa.int64()
    return None


def _numbers(column: Any, feature: Feature) -> tuple[Any, list[tuple[Any, Any]]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    values, problems = _nulls(column, feature)
    floating = pa.types.is_floating(values.type)
    as_float = values.cast(pa.float64())
    if floating:
        problems += _when(pc.invert(pc.is_finite(as_float)), feature, "is not a finite number")
    if feature.integral and floating:
        problems += _when(pc.not_equal(as_float, pc.floor(as_float)), feature,
                          "is not a whole number")  # fmt: skip
    if feature.minimum is not None:
        below = pc.less(as_float, feature.minimum)
        problems += _when(below, feature, f"is below the minimum {number(feature.minimum)}")
    if feature.maximum is not None:
        above = pc.greater(as_float, feature.maximum)
        problems += _when(above, feature, f"is above the maximum {number(feature.maximum)}")
    if feature.integral:
        bad = _any_mask(problems)
        whole = pc.if_else(bad, None, as_float) if bad is not None else as_float
        return whole.cast(pa.int64(), safe=False), problems
    return as_float, problems


def _nulls(column: Any, feature: Feature) -> tuple[Any, list[tuple[Any, Any]]]:
    if feature.nullable or column.null_count == 0:
        return column, []
    return column, _when(column.is_null(), feature, "got null")


def _when(mask: Any, feature: Feature, message: str) -> list[tuple[Any, Any]]:
    """[(mask, reason)] when any row is flagged (nulls in the mask count as not flagged)."""
    import pyarrow.compute as pc

    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return []
    return [(mask, f"field {feature.name!r}: {message}; expected {feature.expected()}")]


def _any_mask(problems: list[tuple[Any, Any]]) -> Any:
    import pyarrow.compute as pc

    if not problems:
        return None
    bad = problems[0][0]
    for mask, _ in problems[1:]:
        bad = pc.or_(bad, mask)
    return bad


def _each(
    column: Any, feature: Feature, text: bool, decode: Callable[[str], Any] | None = None
) -> tuple[Any, list[tuple[Any, Any]]]:
    """Every value checked on its own, with the serving API's rules; `decode` reads each
    (JSON-encoded) value first."""
    import pyarrow as pa

    values: list[Any] = []
    reasons: list[str | None] = []
    for raw in column.to_pylist():
        if decode is not None and raw is not None:
            raw = decode(raw)
        value = _parse(raw, feature) if text and isinstance(raw, str) else raw
        checked, message = check_value(feature, value)
        values.append(checked)
        reasons.append(
            None if message is None
            else f"field {feature.name!r}: {message}; expected {feature.expected()}"
        )  # fmt: skip
    mask = pa.array([r is not None for r in reasons])
    target = {"number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_(),
              "string": pa.string()}.get(feature.type)  # fmt: skip
    if target is None:  # a category: keep what came, or the values' common type
        target = pa.string() if all(isinstance(v, str) or v is None for v in values) else None
    if feature.integral:
        target = pa.int64()
    cast = pa.array(values, type=target) if target is not None else pa.array(values)
    problems = [(mask, pa.array(reasons, pa.string()))] if any(reasons) else []
    return cast, problems


def _parse(raw: str, feature: Feature) -> Any:
    """A CSV text value read as the feature's type when it reads as one, else the text."""
    if raw.strip() == "":
        return None
    if feature.type in ("number", "integer"):
        try:
            return float(raw)
        except ValueError:
            return raw
    if feature.type == "boolean":
        lowered = raw.strip().lower()
        return True if lowered in TRUE_TEXT else False if lowered in FALSE_TEXT else raw
    if feature.type == "category" and raw.lstrip("-").isdigit():
        return int(raw) if int(raw) in feature.categories else raw
    return raw
