"""Service health of one model in one environment over a window: each version's p95
latency and share of failed requests, from the metrics BentoML exports and Prometheus
scrapes, against the manifest's `serving.api.slo`.

Every version that answered at least `MIN_REQUESTS` requests of `/predict` in the window is
judged (a canary too); fewer is no verdict, and so is a Prometheus that did not answer:
"unknown" says why and is never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OK, BREACH, UNKNOWN = "ok", "breach", "unknown"
MIN_REQUESTS = 20
REQUESTS, ERRORS, P95 = "requests", "errors", "p95_seconds"


@dataclass(frozen=True)
class Objective:
    p95_latency_ms: float | None
    error_rate: float | None

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> Objective | None:
        """The manifest's SLO, None when it serves no API or sets none."""
        api = (manifest.get("serving") or {}).get("api") or {}
        slo = api.get("slo") or {}
        if api.get("enabled") is not True or not slo:
            return None
        return cls(_number(slo.get("p95_latency_ms")), _number(slo.get("error_rate")))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def queries(model: str, environment: str, window_seconds: int) -> dict[str, str]:
    """PromQL for each version's requests, 5xx answers and p95 latency of `/predict` over
    the window (label values are DNS-safe names, so they need no escaping)."""
    where = f'endpoint="/predict",model="{model}",environment="{environment}"'
    span = f"[{window_seconds}s]"
    total = f"bentoml_service_request_total{{{where}}}"
    failed = f'bentoml_service_request_total{{{where},http_response_code=~"5.."}}'
    buckets = f"bentoml_service_request_duration_seconds_bucket{{{where}}}"
    return {
        REQUESTS: f"sum by (version) (increase({total}{span}))",
        ERRORS: f"sum by (version) (increase({failed}{span}))",
        P95: f"histogram_quantile(0.95, sum by (le, version) (increase({buckets}{span})))",
    }


@dataclass(frozen=True)
class VersionHealth:
    version: str
    requests: float
    errors: float
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "requests": round(self.requests, 1),
                "errors": round(self.errors, 1), "error_rate": self.error_rate,
                "p95_ms": self.p95_ms}  # fmt: skip


@dataclass(frozen=True)
class ServiceHealth:
    status: str
    objective: Objective
    versions: list[VersionHealth] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # the breaches
    note: str | None = None  # why there is no verdict

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status,
                "slo": {"p95_latency_ms": self.objective.p95_latency_ms,
                        "error_rate": self.objective.error_rate},
                "versions": [v.as_dict() for v in self.versions],
                "reasons": list(self.reasons), "note": self.note}  # fmt: skip


def unknown(objective: Objective, why: str) -> ServiceHealth:
    return ServiceHealth(UNKNOWN, objective, note=f"service health unknown: {why}")


def judge(objective: Objective, found: Mapping[str, Mapping[str, float]]) -> ServiceHealth:
    """`found` maps each query (REQUESTS, ERRORS, P95) to its value per version."""
    versions = sorted(found.get(REQUESTS, {}), key=lambda v: (len(v), v))
    errors, p95 = found.get(ERRORS, {}), found.get(P95, {})
    health = [
        VersionHealth(v, found[REQUESTS][v], errors.get(v, 0.0), _milliseconds(p95.get(v)))
        for v in versions
    ]
    judged = [h for h in health if h.requests >= MIN_REQUESTS]
    if not judged:
        most = max((h.requests for h in health), default=0.0)
        return ServiceHealth(UNKNOWN, objective, health, note=(
            f"service health unknown: {most:.0f} request(s) in the window; a verdict needs"
            f" at least {MIN_REQUESTS} to one version"
        ))  # fmt: skip
    reasons = []
    for item in judged:
        slow = objective.p95_latency_ms
        if slow is not None and item.p95_ms is not None and item.p95_ms > slow:
            reasons.append(f"service: p95 latency of version {item.version} is"
                           f" {item.p95_ms:.1f} ms, above the {slow:g} ms objective")  # fmt: skip
        if objective.error_rate is not None and item.error_rate > objective.error_rate:
            reasons.append(f"service: {item.error_rate:.2%} of version {item.version}'s"
                           f" {item.requests:.0f} requests failed, above the"
                           f" {objective.error_rate:g} objective")  # fmt: skip
    return ServiceHealth(BREACH if reasons else OK, objective, health, reasons)


def _milliseconds(seconds: float | None) -> float | None:
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return None
    return seconds * 1000
