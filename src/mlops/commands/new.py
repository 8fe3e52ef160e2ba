"""`mlops new`: a new model folder from the template, valid as created."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.adapters.schemas import load_schemas
from mlops.adapters.templates import render, template_dir
from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import layout
from mlops.core.diagnostics import has_errors
from mlops.core.names import LANGUAGES, model_name_problem, owner_problem
from mlops.errors import MlopsError, ModelExists, UsageError
from mlops.flows.repository import check_manifest
from mlops.output import console


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


@click.command("new")
@click.argument("name")
@click.option("--language", required=True, type=click.Choice(LANGUAGES), help="Code language.")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    help="GitHub owner @user or @org/team (repeatable; default: the platform owners).",
)
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    default="classification",
    show_default=True,
)
@click.option("--description", help="One or two sentences on what the model predicts.")
@click.pass_obj
def command(
    obj: dict[str, Any],
    name: str,
    language: str,
    owners: tuple[str, ...],
    task: str,
    description: str | None,
) -> None:
    """Create models/NAME from the template; it passes `mlops validate` as created."""
    root = find_root(obj.get("repo"))
    chosen = list(owners) or default_owners(root)
    created = create_model(root, name, language, chosen, task, description)
    out = console()
    out.print(
        f"[green]✓[/] created {layout.model_dir(name)}/ ({language}, owners {', '.join(chosen)})"
    )
    for path in created:
        out.print(f"  {path.relative_to(root).as_posix()}")
    out.print(
        "Next: replace the TODOs in model.yaml, add your data and code, then `mlops validate`."
    )
