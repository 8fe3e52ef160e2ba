"""`mlops promote NAME VERSION --to STAGE [--canary WEIGHT] [--apply]`: edit registry.yaml.

Prints the change by default; `--apply` writes it. The policies decide (core.promotion): stage
order, enforced gates on the version's recorded metrics against production, a canary only
beside production. A version not yet in the registry is added from the candidate record
`mlops train` wrote. The new registry is validated before anything is written, and it is
written together with the model's regenerated card (which shows stages and history), each
file atomically: an interrupted run leaves the old files or the new ones.
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.stages import PROMOTION_STAGES
from mlops.flows.promotion import promotion_files
from mlops.output import console, print_json


@click.command("promote")
@click.argument("name")
@click.argument("version")
@click.option("--to", "stage", required=True, type=click.Choice(PROMOTION_STAGES))
@click.option("--canary", "weight", type=click.IntRange(1, 99), help="Percent of production.")
@click.option("--apply", "apply", is_flag=True, help="Write registry.yaml (default: print).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(
    obj: dict[str, Any], name: str, version: str, stage: str, weight: int | None, apply: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Move NAME's VERSION into STAGE in registry.yaml (a plan unless --apply)."""
    root = find_root(obj.get("repo"))
    result = promotion_files(root, name, version, stage, weight, apply=apply)
    promotion, files = result.promotion, sorted(str(p.relative_to(root)) for p in result.files)
    if as_json:
        print_json(
            {"model": name, "version": version, "stage": stage, "canary": weight,
             "changes": promotion.changes, "applied": result.applied, "files": files},
        )  # fmt: skip
        return
    out = console(stderr=True)
    if not promotion.changed:
        out.print(f"{name} version {version} already holds {stage}: nothing to change")
        return
    click.echo(result.diff, nl=False)
    for change in promotion.changes:
        out.print(f"  {change}")
    if apply:
        out.print(f"[green]✓ wrote {', '.join(files)}[/]; commit it to deploy")
    else:
        out.print("Plan only: run again with --apply to write registry.yaml")
