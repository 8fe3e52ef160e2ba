"""`mlops plan`: the models a change touches, for people (a table) and for CI (a matrix)."""

from __future__ import annotations

import json
from typing import Any

import click

from mlops.adapters import gha
from mlops.adapters.repository import find_root
from mlops.flows.plan import compute_plan
from mlops.output import console, print_json, print_table


@click.command("plan")
@click.option("--base", required=True, help="What the change is compared with (e.g. origin/main).")
@click.option("--head", default="HEAD", show_default=True, help="The changed revision.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--github-output",
    is_flag=True,
    help="Also write step outputs: matrix (JSON), models (names), any (true/false).",
)
@click.pass_obj
def command(obj: dict[str, Any], base: str, head: str, as_json: bool, github_output: bool) -> None:
    """Show which models a change touches and why.

    A model is touched when files in its folder change, when its registry.yaml entry changes,
    or when a shared path (policies/platform.yaml: shared_paths) changes. Like a pull request,
    HEAD is compared with its merge base with BASE.
    """
    root = find_root(obj.get("repo"))
    plan = compute_plan(root, base, head)
    if github_output:
        gha.set_output("matrix", json.dumps(plan.matrix(), separators=(",", ":")))
        gha.set_output("models", " ".join(m.name for m in plan.to_train))
        gha.set_output("any", "true" if plan.to_train else "false")
    if as_json:
        print_json(plan.to_dict())
        return
    if not plan.models:
        console().print(
            f"No model is touched by {len(plan.changed_files)} changed file(s) "
            f"between {plan.base[:12]} and {plan.head[:12]}."
        )
        return
    rows = [(m.name, m.change, m.language or "-", "; ".join(m.reasons)) for m in plan.models]
    scope = " (a shared path changed: every model)" if plan.all_models else ""
    title = f"Plan {plan.base[:12]}..{plan.head[:12]}: {len(plan.models)} model(s){scope}"
    print_table(title, ("model", "change", "language", "why"), rows)
