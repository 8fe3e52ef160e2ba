"""`mlops new`: a new model folder from the template, valid as created."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core import layout
from mlops.core.names import LANGUAGES
from mlops.flows.scaffold import create_model, default_owners
from mlops.output import console


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
