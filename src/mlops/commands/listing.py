"""`mlops list`: every model with its owners, language and current stages."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.stages import STAGES
from mlops.flows.catalog import model_summaries
from mlops.output import console, print_json, print_table


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
            s.name + (" (invalid)" if s.problems else ""),
            s.language or "-",
            s.task or "-",
            ", ".join(s.owners) or "-",
            str(len(s.versions)),
            *(s.stage(stage) for stage in STAGES),
        )
        for s in summaries
    ]
    columns = ("model", "language", "task", "owners", "versions", *STAGES)
    print_table(f"{len(rows)} model(s)", columns, rows)
    if any(s.problems for s in summaries):
        console(stderr=True).print("Some models are invalid: run `mlops validate` for details.")
