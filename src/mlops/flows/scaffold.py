"""A new model folder rendered from the template, checked, and moved into models/ at once."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlops.adapters.schemas import load_schemas
from mlops.adapters.templates import render, template_dir
from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import layout
from mlops.core.diagnostics import has_errors
from mlops.core.names import model_name_problem, owner_problem
from mlops.errors import MlopsError, ModelExists, UsageError
from mlops.flows.repository import check_manifest


def default_owners(root: Path) -> list[str]:
    loaded = load_yaml_file(root / layout.PLATFORM_POLICY, layout.PLATFORM_POLICY)
    data = loaded.document.data if loaded.document else None
    owners = data.get("platform_owners") if isinstance(data, dict) else None
    if isinstance(owners, list) and owners and all(isinstance(o, str) for o in owners):
        return owners
    raise UsageError(
        "no --owner given and policies/platform.yaml names no platform_owners to default to"
    )


def create_model(
    root: Path, name: str, language: str, owners: list[str], task: str, description: str | None
) -> list[Path]:
    """Render the template into models/NAME atomically; nothing is left behind on failure."""
    problem = model_name_problem(name)
    if problem:
        raise UsageError(problem)
    for owner in owners:
        problem = owner_problem(owner)
        if problem:
            raise UsageError(problem)
    target = root / layout.model_dir(name)
    if target.exists():
        raise ModelExists(f"model {name!r} already exists at {layout.model_dir(name)}/")
    answers: dict[str, Any] = {"name": name, "language": language, "task": task, "owners": owners}
    if description:
        answers["description"] = description
    (root / layout.MODELS_DIR).mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".new-{name}-", dir=root / layout.MODELS_DIR))
    try:
        render(template_dir(), staging, answers)
        _check_rendered(root, staging, name)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return sorted(p for p in target.rglob("*") if p.is_file())


def _check_rendered(root: Path, folder: Path, name: str) -> None:
    _, _, diagnostics = check_manifest(root, name, load_schemas(root), folder)
    if has_errors(diagnostics):
        details = "; ".join(d.render() for d in diagnostics if d.severity == "error")
        raise MlopsError(f"the template produced an invalid model: {details}")
