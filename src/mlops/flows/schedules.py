"""The batch-scoring workflow the models' manifests call for, and the one committed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters.repository import model_folders
from mlops.adapters.schemas import load_schemas
from mlops.core.diagnostics import sorted_diagnostics
from mlops.core.schedules import BATCH_WORKFLOW_PATH, Schedule, ScheduleError, render, schedules
from mlops.errors import InvalidInput, MlopsError
from mlops.flows.repository import check_manifests


def batches(root: Path) -> dict[str, dict[str, Any]]:
    """Each model's checked `serving.batch`; InvalidInput names every manifest in the way."""
    schemas = load_schemas(root)
    problems = list(schemas.diagnostics)
    found: dict[str, dict[str, Any]] = {}
    for model, document, diagnostics in check_manifests(root, model_folders(root), schemas):
        problems += diagnostics
        if document is not None:
            found[model] = document.get(("serving", "batch"), None) or {}
    errors = [d for d in sorted_diagnostics(problems) if d.severity == "error"]
    if errors:
        files = ", ".join(dict.fromkeys(d.file for d in errors))
        raise InvalidInput(
            f"cannot generate {BATCH_WORKFLOW_PATH}: {files} failed to load or validate",
            hint="fix the errors above (`mlops validate` shows them all)",
            diagnostics=errors,
        )
    return found


@dataclass(frozen=True)
class BatchWorkflow:
    """The workflow's text and the schedules it holds."""

    text: str
    schedules: list[Schedule]


def generate(root: Path) -> BatchWorkflow:
    """The workflow for the repository's models."""
    try:
        found = schedules(batches(root))
    except ScheduleError as exc:
        raise MlopsError(f"cannot generate {BATCH_WORKFLOW_PATH}: {exc}") from None
    return BatchWorkflow(render(found), found)
