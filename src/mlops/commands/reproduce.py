"""`mlops reproduce NAME VERSION`: retrain a version from its recorded lineage and compare."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.reproduction import DIFFERENT, EQUIVALENT
from mlops.errors import MlopsError
from mlops.flows.reproduction import reproduce
from mlops.output import console, print_json, print_table


@click.command("reproduce")
@click.argument("name")
@click.argument("version")
@click.option(
    "--tolerance",
    type=float,
    help="Allowed absolute difference of every metric "
    "(default: the manifest's metrics.reproduction, else floating-point rounding).",
)
@click.option("--exact", is_flag=True, help="Fail unless the artifact is bit-identical.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.pass_obj
def command(
    obj: dict[str, Any], name: str, version: str, tolerance: float | None, exact: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Retrain NAME at VERSION from its commit, lock and data; compare data, parameters,
    metrics and the artifact, and explain a difference by the platform it ran on."""
    outcome = reproduce(find_root(obj.get("repo")), name, version, tolerance)
    verdict = outcome.verdict
    if as_json:
        print_json({"recorded": outcome.recorded, "reproduced": outcome.reproduced,
                    **verdict.to_dict()})  # fmt: skip
    else:
        print_table(
            f"{name} version {version} (commit {outcome.recorded['git_commit'][:12]})",
            ("item", "recorded", "reproduced", "match"),
            [(r.item, r.recorded, r.reproduced, r.status) for r in verdict.rows],
        )
        out = console()
        out.print(f"{name} version {version}: {verdict.outcome}", markup=False)
        for reason in verdict.reasons if verdict.outcome != "identical" else []:
            out.print(f"  - {reason}", markup=False)
    if verdict.outcome == DIFFERENT or (exact and verdict.outcome == EQUIVALENT):
        raise MlopsError(f"{name} version {version}: {verdict.headline()}")
