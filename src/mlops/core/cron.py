"""Five-field cron expressions, as GitHub Actions schedules accept them (UTC)."""

from __future__ import annotations

import re

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(_DAYS)}),
)
_ITEM = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a valid five-field cron expression, or None when it is."""
    fields = expression.split()
    if len(fields) != 5:
        return f"expected 5 cron fields (minute hour day month weekday), got {len(fields)}"
    for text, (label, low, high, names) in zip(fields, _FIELDS, strict=True):
        for item in text.lower().split(","):
            problem = _item_problem(item, label, low, high, names)
            if problem:
                return problem
    return None


def _item_problem(item: str, label: str, low: int, high: int, names: dict[str, int]) -> str | None:
    match = _ITEM.match(item)
    if not match:
        return f"cron {label} field has an invalid part {item!r}"
    span, step = match.groups()
    if step is not None and int(step) == 0:
        return f"cron {label} step cannot be 0"
    if span == "*":
        return None
    bounds = span.split("-")
    values: list[int] = []
    for bound in bounds:
        value = names.get(bound) if not bound.isdigit() else int(bound)
        if value is None:
            return f"cron {label} field has an unknown name {bound!r}"
        if not low <= value <= high:
            return f"cron {label} must be between {low} and {high}, got {value}"
        values.append(value)
    if len(values) == 2 and values[0] > values[1]:
        return f"cron {label} range {span!r} runs backwards"
    return None
