"""`mlops costs`: recorded usage gathered from where it lives, priced per model and cost centre.

Training CPU-seconds and batch rows and seconds come from the tracking store (shared by every
machine); serving instance-hours from the deploy host's own records: of the instances running
on it (`adapters.instance_uptime` says why) and of those its targets stopped
(`adapters.serving_usage`). The rates are `policies/costs.yaml`, which must
be valid: its problems are reported with their lines, and nothing is priced.
"""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from mlops.adapters import instance_uptime, run_usage, serving_usage, tracking
from mlops.adapters.settings import load_settings
from mlops.core import costs, layout
from mlops.core.batch import EXPERIMENT_PREFIX
from mlops.core.stages import ENVIRONMENTS
from mlops.errors import InvalidInput
from mlops.flows.repository import check_repository, manifest_data

TRAINING_PREFIX = "models/"


def cost_report(root: Path, since: datetime | None, now: datetime) -> costs.CostReport:
    """Every model's usage since `since` (all recorded usage when None) up to `now`, priced."""
    check = check_repository(root)
    files = {layout.COSTS_POLICY, f"{layout.SCHEMAS_DIR}/{layout.COSTS_SCHEMA}"}
    problems = [d for d in check.errors() if d.file in files]
    if problems or check.costs is None or not isinstance(check.costs.data, dict):
        raise InvalidInput(
            f"{problems[0].file if problems else layout.COSTS_POLICY} is invalid: nothing was "
            "priced",
            hint="fix it first: `mlops validate`",
            diagnostics=problems,
        )
    rates = costs.Rates.from_policy(check.costs.data)
    models = {name: manifest_data(check, name) for name in check.manifests}
    settings = load_settings(root)
    usages: list[costs.Usage] = []
    if not tracking.store_missing(settings):  # an embedded store never created holds nothing
        with contextlib.redirect_stdout(sys.stderr):  # MLflow may print; stdout is the report
            tracking.connect(settings)
            usages = [u for name in models for u in _recorded(name, models[name], since)]
    for instance in instance_uptime.running_instances(settings, ENVIRONMENTS):
        hours = costs.hours_between(instance.started, now, since)
        payer = costs.attributed(instance.labels, models.get(instance.model))
        usages.append(costs.Usage(instance.model, payer, costs.SERVING,
                                  {costs.INSTANCE_HOUR: hours}))  # fmt: skip
    ran, _ = serving_usage.stopped(settings.deploy_folder)
    for gone in ran:  # stopped since: the ledger its target kept
        if since is not None and gone.stopped < since:
            continue
        hours = costs.hours_between(gone.started, min(gone.stopped, now), since)
        payer = costs.attributed(gone.labels, models.get(gone.model))
        usages.append(costs.Usage(gone.model, payer, costs.SERVING,
                                  {costs.INSTANCE_HOUR: hours}))  # fmt: skip
    return costs.price(usages, models, rates, since, now)


def _recorded(name: str, manifest: dict[str, Any], since: datetime | None) -> list[costs.Usage]:
    """The model's training and batch-scoring runs, each as the units it used."""
    found = []
    for run in run_usage.runs_since(f"{TRAINING_PREFIX}{name}", since):
        cpu = run.metrics.get("cpu_seconds")
        if cpu is not None:
            found.append(costs.Usage(name, costs.attributed(run.tags, manifest), costs.TRAINING,
                                     {costs.CPU_SECOND: cpu}))  # fmt: skip
    for run in run_usage.runs_since(f"{EXPERIMENT_PREFIX}{name}", since):
        rows, seconds = run.metrics.get("rows_in"), run.metrics.get("duration_seconds")
        if rows is not None or seconds is not None:
            used = {costs.BATCH_ROW: rows or 0.0, costs.BATCH_SECOND: seconds or 0.0}
            found.append(costs.Usage(name, costs.attributed(run.tags, manifest), costs.BATCH,
                                     used))  # fmt: skip
    return found
