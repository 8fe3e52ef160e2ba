"""A scheduled monitoring run: every model whose drift schedule is the run's cron expression,
checked in production; one model's failure does not stop the rest."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mlops.core.stages import PRODUCTION
from mlops.errors import MlopsError
from mlops.flows.monitoring import Monitored, Request, monitor
from mlops.flows.repository import check_repository, registry_entry
from mlops.flows.schedules import monitored_on


@dataclass(frozen=True)
class Outcome:
    model: str
    status: str  # the verdict, "skipped" or "failed"
    result: Monitored | None = None
    note: str | None = None


def monitor_due(root: Path, cron: str, request: Request) -> list[Outcome]:
    check = check_repository(root)
    outcomes = []
    for name in monitored_on(root, cron):
        if (registry_entry(check, name).get("stages") or {}).get(PRODUCTION) is None:
            note = "no production version in registry.yaml: nothing serves to monitor"
            outcomes.append(Outcome(name, "skipped", note=note))
            continue
        try:
            result = monitor(root, name, replace(request, environment=PRODUCTION))
        except MlopsError as exc:
            outcomes.append(Outcome(name, "failed", note=exc.message))
            continue
        failures = result.delivery.failures if result.delivery else []
        undelivered = ("alerts not delivered: " + "; ".join(failures)) if failures else None
        outcomes.append(Outcome(name, result.verdict.status, result, undelivered))
    return outcomes
