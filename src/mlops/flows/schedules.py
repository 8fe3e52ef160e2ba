"""The scheduled workflows the models' manifests call for (batch.yml, monitor.yml and
retrain.yml), and the ones committed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters.repository import model_folders
from mlops.adapters.schemas import load_schemas
from mlops.core import watch_workflows
from mlops.core.diagnostics import sorted_diagnostics
from mlops.core.schedules import BATCH_WORKFLOW_PATH, Schedule, ScheduleError, render, schedules
from mlops.errors import InvalidInput, MlopsError
from mlops.flows.repository import check_manifests

WORKFLOWS = (BATCH_WORKFLOW_PATH, watch_workflows.MONITOR_WORKFLOW_PATH,
             watch_workflows.RETRAIN_WORKFLOW_PATH)  # fmt: skip


def sections(root: Path, path: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each model's checked manifest section at `path` ({} when absent); InvalidInput names
    every manifest in the way."""
    schemas = load_schemas(root)
    problems = list(schemas.diagnostics)
    found: dict[str, dict[str, Any]] = {}
    for model, document, diagnostics in check_manifests(root, model_folders(root), schemas):
        problems += diagnostics
        if document is not None:
            found[model] = document.get(path, None) or {}
    errors = [d for d in sorted_diagnostics(problems) if d.severity == "error"]
    if errors:
        files = ", ".join(dict.fromkeys(d.file for d in errors))
        raise InvalidInput(
            f"cannot generate the scheduled workflows: {files} failed to load or validate",
            hint="fix the errors above (`mlops validate` shows them all)",
            diagnostics=errors,
        )
    return found


def batches(root: Path) -> dict[str, dict[str, Any]]:
    """Each model's checked `serving.batch`."""
    return sections(root, ("serving", "batch"))


@dataclass(frozen=True)
class Workflow:
    """One generated workflow: its path, text and the schedules it holds."""

    path: str
    text: str
    schedules: list[Schedule]


def generate(root: Path) -> list[Workflow]:
    """The scheduled workflows for the repository's models."""
    monitoring = sections(root, ("monitoring",))
    try:
        batch = schedules(batches(root))
        watched = watch_workflows.monitor_schedules(monitoring)
    except ScheduleError as exc:
        raise MlopsError(f"cannot generate the scheduled workflows: {exc}") from None
    retrained = watch_workflows.retrained(monitoring)
    retrain = [Schedule(watch_workflows.RETRAIN_CRON, tuple(retrained))] if retrained else []
    return [
        Workflow(BATCH_WORKFLOW_PATH, render(batch), batch),
        Workflow(watch_workflows.MONITOR_WORKFLOW_PATH, watch_workflows.render_monitor(
            watched, watch_workflows.webhook_secrets(monitoring)), watched),
        Workflow(watch_workflows.RETRAIN_WORKFLOW_PATH, watch_workflows.render_retrain(retrained),
                 retrain),
    ]  # fmt: skip


def monitored_on(root: Path, cron: str) -> list[str]:
    """The models whose drift schedule is `cron` (the default for those that set none)."""
    found = watch_workflows.monitor_schedules(sections(root, ("monitoring",)))
    return next((list(s.models) for s in found if s.cron == cron), [])
