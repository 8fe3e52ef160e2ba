"""Drift verdicts: the statistics a report computed, judged against the manifest's rules.

The statistic of each method and how it is read (`monitoring.drift.threshold`):
- `psi` (population stability index) and `wasserstein` (distance normed by the reference's
  standard deviation): drift when the value is ABOVE the threshold;
- `ks` (two-sample Kolmogorov-Smirnov) and `chi2` (chi-squared): the statistic is a p-value,
  drift when it is BELOW the threshold.

`ks` and `wasserstein` need numbers: a category, boolean or text feature (and a classifier's
predicted label) is compared with `chi2` under those methods, with the same threshold read as
a p-value. A window with fewer than `MIN_ROWS` rows gets no verdict at all: a statistic of a
few rows is noise, and an alarm on noise teaches people to ignore alarms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mlops.core import service_health
from mlops.core.performance import Performance
from mlops.core.service_health import ServiceHealth

MIN_ROWS = 100
P_VALUE_METHODS = frozenset({"ks", "chi2"})
NUMERIC_ONLY = frozenset({"ks", "wasserstein"})
OK, BREACH, INSUFFICIENT = "ok", "breach", "insufficient data"
_WINDOW = re.compile(r"([1-9][0-9]*)([dh])")


class WindowError(ValueError):
    """A window that is not a number of days or hours."""


def parse_window(text: str) -> timedelta:
    """`7d` or `36h` as a duration."""
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise WindowError(f"window {text!r}: expected days or hours, like 7d or 36h")
    amount = int(match.group(1))
    return timedelta(days=amount) if match.group(2) == "d" else timedelta(hours=amount)


def method_for(method: str, numeric: bool) -> str:
    """The method a column is compared with: the manifest's, or chi2 for a non-numeric
    column under a numbers-only method."""
    return "chi2" if method in NUMERIC_ONLY and not numeric else method


def drifted(method: str, statistic: float, threshold: float) -> bool:
    if method in P_VALUE_METHODS:
        return statistic < threshold
    return statistic > threshold


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison with the reference."""

    column: str
    method: str
    statistic: float | None
    threshold: float
    drifted: bool

    def describe(self) -> str:
        if self.statistic is None:
            return f"{self.column}: no statistic"
        side = "<" if self.method in P_VALUE_METHODS else ">"
        what = "p-value " if self.method in P_VALUE_METHODS else ""
        relation = side if self.drifted else {"<": ">=", ">": "<="}[side]
        return (f"{self.column} {self.method} {what}{self.statistic:.4g} {relation}"
                f" {self.threshold:g}")  # fmt: skip


def judge(columns: Sequence[tuple[str, str]], statistics: Mapping[str, float | None],
          threshold: float) -> list[ColumnDrift]:  # fmt: skip
    """Each (column, method)'s verdict from the statistic the report computed for it; a
    column without a statistic (all null in the window) is not called drifted."""
    verdicts = []
    for column, method in columns:
        value = statistics.get(column)
        moved = value is not None and drifted(method, value, threshold)
        verdicts.append(ColumnDrift(column, method, value, threshold, moved))
    return verdicts


@dataclass(frozen=True)
class Quality:
    """The window's rows against the feature schema."""

    rows: int
    invalid_rows: int
    null_share: Mapping[str, float]
    examples: Sequence[str] = ()
    limit: float = 0.01  # the largest share of invalid rows that is not a breach

    @property
    def breached(self) -> bool:
        return self.rows > 0 and self.invalid_rows / self.rows > self.limit


@dataclass
class Verdict:
    """What one monitoring run concluded, and why."""

    status: str
    rows: int
    reasons: list[str] = field(default_factory=list)


def verdict(rows: int, features: Sequence[ColumnDrift], prediction: ColumnDrift | None,
            quality: Quality | None, performance: Performance | None = None,
            service: ServiceHealth | None = None) -> Verdict:  # fmt: skip
    """Breach when a monitored feature or the prediction drifted, too many rows broke the
    schema, the labelled rows' metric broke its bound, or a version broke its SLO; no drift
    verdict below MIN_ROWS rows (a performance or service breach still counts)."""
    reasons = []
    if performance is not None and performance.breached:
        reasons.append(f"performance: {performance.describe()}")
    if service is not None and service.status == service_health.BREACH:
        reasons += service.reasons
    if rows < MIN_ROWS:
        few = f"{rows} row(s) in the window; a drift verdict needs at least {MIN_ROWS}"
        return Verdict(BREACH if reasons else INSUFFICIENT, rows, [*reasons, few])
    moved = [d for d in features if d.drifted]
    if moved:
        listed = ", ".join(d.describe() for d in moved)
        reasons.append(f"data drift in {len(moved)} of {len(features)} feature(s): {listed}")
    if prediction is not None and prediction.drifted:
        reasons.append(f"prediction drift: {prediction.describe()}")
    if quality is not None and quality.breached:
        share = quality.invalid_rows / quality.rows
        reasons.append(f"data quality: {quality.invalid_rows} of {quality.rows} rows"
                       f" ({share:.2%}) fail the feature schema")  # fmt: skip
    return Verdict(BREACH if reasons else OK, rows, reasons)


def summary(verdict_: Verdict, features: Sequence[ColumnDrift], prediction: ColumnDrift | None,
            quality: Quality | None, context: Mapping[str, Any],
            performance: Performance | None = None, service: ServiceHealth | None = None
            ) -> dict[str, Any]:  # fmt: skip
    """The JSON summary of a run."""

    def column(d: ColumnDrift) -> dict[str, Any]:
        return {"column": d.column, "method": d.method, "statistic": d.statistic,
                "threshold": d.threshold, "drifted": d.drifted}  # fmt: skip

    return {
        **context,
        "status": verdict_.status,
        "rows": verdict_.rows,
        "reasons": verdict_.reasons,
        "drift": [column(d) for d in features],
        "prediction_drift": column(prediction) if prediction else None,
        "performance": None if performance is None else performance.as_dict(),
        "service": None if service is None else service.as_dict(),
        "quality": None if quality is None else {
            "rows": quality.rows, "invalid_rows": quality.invalid_rows,
            "null_share": dict(quality.null_share), "examples": list(quality.examples),
        },
    }  # fmt: skip
