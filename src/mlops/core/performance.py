"""Live performance: outcomes attached to logged predictions, and the verdict on them.

Outcomes ("labels") arrive after the predictions, from whatever system learns the truth. Each
names the prediction it belongs to by request id and row (the row's index in its request,
0 by default; for a batch output, the batch run id and the id column's value or the row's
number) and carries the target's value, checked against `data.target`. A later label
for the same prediction replaces an earlier one. With at least `MIN_LABELLED` labelled
predictions in the window, the task's metrics are computed and the manifest's
`monitoring.performance` metric is held to its `min` / `max`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops.core import metrics

MIN_LABELLED = 50
Key = tuple[str, str]  # (request id, row), both as text: see `key`


def check_label(value: Any, target: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The label as the target's type, or why it is not one."""
    kind = target.get("type")
    classes = [str(c) for c in (target.get("classes") or {})]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "the label is empty"
    if classes:
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if text not in classes:
            return None, f"{value!r} is not one of the classes {', '.join(classes)}"
        return (int(text) if kind == "integer" else text), None
    if kind in ("number", "integer"):
        if isinstance(value, bool):
            return None, f"{value!r} is not a number"
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None, f"{value!r} is not a number"
        if not math.isfinite(number):
            return None, f"{value!r} is not a finite number"
        if kind == "integer" and not number.is_integer():
            return None, f"{value!r} is not a whole number"
        return (int(number) if kind == "integer" else number), None
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        return None, f"{value!r} is not true or false"
    return value, None


def key(request_id: Any, row: Any) -> Key:
    """The join key of a prediction and its label. A row is an index, a row number or a
    batch output's id value, so both are compared as text: 7, 7.0 and "7" are one row,
    "007" is another."""
    if isinstance(row, float) and row.is_integer():
        row = int(row)
    return str(request_id), str(row)


def latest(labels: Iterable[Mapping[str, Any]]) -> dict[Key, Any]:
    """Each prediction's label, the last one given winning (records in the order given)."""
    found: dict[Key, Any] = {}
    for record in labels:
        found[key(record["request_id"], record.get("row", 0))] = record["label"]
    return found


@dataclass(frozen=True)
class Performance:
    labelled: int
    metric: str | None
    value: float | None
    minimum: float | None
    maximum: float | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    note: str | None = None

    @property
    def breached(self) -> bool:
        if self.value is None or math.isnan(self.value):
            return False
        below = self.minimum is not None and self.value < self.minimum
        above = self.maximum is not None and self.value > self.maximum
        return below or above

    def describe(self) -> str:
        bound = (f"min {self.minimum:g}" if self.minimum is not None and self.value is not None
                 and self.value < self.minimum else f"max {self.maximum:g}")  # fmt: skip
        return f"{self.metric} {self.value:.4g} on {self.labelled} labelled rows breaks {bound}"

    def as_dict(self) -> dict[str, Any]:
        return {"labelled": self.labelled, "metric": self.metric, "value": self.value,
                "min": self.minimum, "max": self.maximum, "breached": self.breached,
                "metrics": dict(self.metrics), "note": self.note}  # fmt: skip


def judge(task: str, rules: Mapping[str, Any], truth: Sequence[Any], predictions: Sequence[Any],
          scores: Sequence[float] | None) -> Performance:  # fmt: skip
    """The task's metrics on the labelled predictions and the manifest's metric against its
    bounds; no verdict below MIN_LABELLED labels."""
    metric = rules.get("metric")
    low, high = rules.get("min"), rules.get("max")
    if len(truth) < MIN_LABELLED:
        few = f"{len(truth)} labelled prediction(s); a verdict needs at least {MIN_LABELLED}"
        return Performance(len(truth), metric, None, low, high, note=few)
    y = [float(v) for v in truth]
    found = metrics.live(task, y, [float(p) for p in predictions],
                         None if scores is None else [float(s) for s in scores])  # fmt: skip
    value = found.get(str(metric)) if metric else None
    note: str | None = None
    if metric and value is None:
        note = f"{metric} cannot be computed from the logs (no probabilities logged?)"
    return Performance(len(truth), metric, value, low, high, found, note)
