"""A scheduled monitoring run: every model whose drift schedule is the run's cron expression,
checked in production (its prediction logs) and, when it scores batches, in its batch
outputs (environment `batch`); one model's failure does not stop the rest. A batch output
not published yet is a skip, not a failure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mlops.adapters.batch_outputs import NoBatchOutput
from mlops.core.batch import ENVIRONMENT, batch_spec
from mlops.core.stages import PRODUCTION
from mlops.errors import MlopsError
from mlops.flows.monitoring import Monitored, Request, monitor
from mlops.flows.repository import check_repository, manifest_data, registry_entry
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
        outcomes.append(_checked(root, name, replace(request, environment=PRODUCTION)))
        spec = batch_spec(manifest_data(check, name))
        if spec.enabled and spec.output:
            outcomes.append(_checked(root, name, replace(request, environment=PRODUCTION,
                                                         batch=())))  # fmt: skip
    return outcomes


def _checked(root: Path, name: str, request: Request) -> Outcome:
    """One check; with `out` given, its files go to out/<model>/<environment>."""
    where = PRODUCTION if request.batch is None else ENVIRONMENT
    shown = name if request.batch is None else f"{name} ({ENVIRONMENT})"
    if request.out is not None:
        request = replace(request, out=request.out / name / where)
    try:
        result = monitor(root, name, request)
    except NoBatchOutput as exc:
        return Outcome(shown, "skipped", note=exc.message)
    except MlopsError as exc:
        return Outcome(shown, "failed", note=exc.message)
    failures = result.delivery.failures if result.delivery else []
    undelivered = ("alerts not delivered: " + "; ".join(failures)) if failures else None
    return Outcome(shown, result.verdict.status, result, undelivered)
