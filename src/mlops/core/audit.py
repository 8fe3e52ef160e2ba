"""Who called a model's API: the router's access log (`core.routing.ACCESS_FIELDS`, one JSON
object a line) summed up per API key id, with outcomes and latency.

A line carries the id of the key that called (never the key): `platform` for the platform's
own checks, a client key's id, or nothing when the request had no valid key (those are
summed up as `(no valid key)`). Lines that are not records are counted and named, never
silently dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NO_KEY = "(no valid key)"


@dataclass(frozen=True)
class Call:
    """One request to a model, as the router logged it."""

    time: datetime
    environment: str
    model: str
    key_id: str
    version: str
    status: int
    seconds: float


@dataclass
class Caller:
    """One key's calls in the window."""

    key_id: str
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    environments: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id, "calls": self.calls,
            "outcomes": {str(k): v for k, v in sorted(self.statuses.items())},
            "versions": dict(sorted(self.versions.items())),
            "environments": sorted(self.environments),
            "first": stamp(self.first), "last": stamp(self.last),
            "latency_ms": {"p50": percentile(self.seconds, 50),
                           "p95": percentile(self.seconds, 95)},
        }  # fmt: skip


def parse(line: str, environment: str) -> Call | None:
    """A log line's call; None when the line is not one (a reader counts those)."""
    try:
        record = json.loads(line)
        return Call(
            datetime.fromisoformat(str(record["time"])), environment, str(record["model"]),
            str(record.get("key_id") or NO_KEY), str(record.get("version") or ""),
            int(record["status"]), float(record["request_time"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None


def callers(calls: Iterable[Call], model: str, since: datetime | None) -> list[Caller]:
    """Each key's calls of `model` from `since` on, the busiest first."""
    found: dict[str, Caller] = {}
    for call in calls:
        if call.model != model or (since is not None and call.time < since):
            continue
        caller = found.setdefault(call.key_id, Caller(call.key_id))
        caller.calls += 1
        caller.statuses[call.status] = caller.statuses.get(call.status, 0) + 1
        if call.version:
            caller.versions[call.version] = caller.versions.get(call.version, 0) + 1
        caller.environments.add(call.environment)
        caller.first = call.time if caller.first is None else min(caller.first, call.time)
        caller.last = call.time if caller.last is None else max(caller.last, call.time)
        caller.seconds.append(call.seconds)
    return sorted(found.values(), key=lambda c: (-c.calls, c.key_id))


def percentile(seconds: list[float], q: int) -> float | None:
    """The q-th percentile in milliseconds (nearest rank), None without calls."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1] * 1000, 3)


def stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds").replace("+00:00", "Z")
