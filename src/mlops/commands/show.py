"""`mlops show NAME`: one model's manifest summary, versions and stages."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core import layout
from mlops.core.stages import STAGES
from mlops.flows.catalog import model_detail
from mlops.output import console, print_json


@click.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the model as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, as_json: bool) -> None:
    """Show one model: manifest summary, problems, registered versions and stages."""
    detail = model_detail(find_root(obj.get("repo")), name)
    summary, manifest, registry, problems = (
        detail.summary, detail.manifest, detail.registry, detail.problems,
    )  # fmt: skip
    errors = sum(d.severity == "error" for d in problems)
    if as_json:
        print_json(
            {
                **summary.to_dict(),
                "manifest": manifest,
                "registry": registry,
                "diagnostics": [d.to_dict() for d in problems],
            }
        )
        return
    data = manifest if isinstance(manifest, dict) else {}
    out = console()
    out.print(f"[bold]{name}[/]  {summary.language or '?'} {summary.task or '?'}")
    if summary.description:
        out.print(summary.description, markup=False)
    out.print(f"owners:      {', '.join(summary.owners) or '-'}")
    features = data.get("data", {}).get("features") if isinstance(data.get("data"), dict) else None
    target = data.get("data", {}).get("target", {}) if isinstance(data.get("data"), dict) else {}
    n_features = len(features) if isinstance(features, list) else 0
    target_name = target.get("name", "?") if isinstance(target, dict) else "?"
    out.print(f"data:        {n_features} feature(s) -> {target_name}")
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    if metrics:
        out.print(f"metric:      {metrics.get('primary')} ({metrics.get('direction')})")
    out.print(f"versions:    {', '.join(summary.versions) or 'none registered yet'}")
    for stage in STAGES:
        out.print(f"{stage + ':':<12} {summary.stage(stage)}")
    for problem in problems:
        if problem.severity == "error":  # markup=False: paths like $.a["1"] are not rich markup
            out.print(problem.render(), style="red", markup=False)
    warnings = len(problems) - errors
    if warnings:
        out.print(f"{warnings} warning(s): `mlops validate {layout.model_dir(name)}` lists them")
