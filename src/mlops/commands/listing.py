"""`mlops list`: every model with its owners, language and current stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.commands.validate import check_repository
from mlops.core import layout
from mlops.core.catalog import ModelSummary, summarize
from mlops.output import console, print_json, print_table


def model_summaries(root: Path) -> list[ModelSummary]:
    check = check_repository(root)
    registry = check.registry.get(("models",), {}) if check.registry else {}
    registry = registry if isinstance(registry, dict) else {}
    summaries = []
    for name in sorted(set(check.manifests) | _folders_with_problems(check.diagnostics)):
        document = check.manifests.get(name)
        problems = sum(
            1
            for d in check.diagnostics
            if d.severity == "error" and d.file.startswith(f"{layout.model_dir(name)}/")
        )
        summaries.append(
            summarize(name, document.data if document else None, registry.get(name), problems)
        )
    return summaries


def _folders_with_problems(diagnostics: list[Any]) -> set[str]:
    return {name for d in diagnostics if (name := layout.model_of_path(d.file)) is not None}


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the models as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], as_json: bool) -> None:
    """List the models: language, task, owners and which version holds each stage."""
    summaries = model_summaries(find_root(obj.get("repo")))
    if as_json:
        print_json({"models": [s.to_dict() for s in summaries]})
        return
    rows = [
        (
            s.name + (" [red](invalid)[/]" if s.problems else ""),
            s.language or "-",
            s.task or "-",
            ", ".join(s.owners) or "-",
            str(len(s.versions)),
            s.stage("staging"),
            s.stage("production"),
            s.stage("canary"),
        )
        for s in summaries
    ]
    columns = ("model", "language", "task", "owners", "versions", "staging", "production", "canary")
    print_table(f"{len(rows)} model(s)", columns, rows)
    if any(s.problems for s in summaries):
        console(stderr=True).print("Some models are invalid: run `mlops validate` for details.")
