"""`mlops schedules`: write the scheduled workflows (batch.yml, monitor.yml, retrain.yml)
from the models' manifests."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters import atomic
from mlops.adapters.repository import find_root
from mlops.core.text_diff import file_diff
from mlops.errors import InvalidInput
from mlops.flows.generated_files import read_committed, stale
from mlops.flows.schedules import generate
from mlops.output import print_json


@click.command("schedules")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a file is out of date.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print [{path, current, schedules} (and written)] as JSON.",
)
@click.pass_obj
def command(obj: dict[str, Any], check: bool, as_json: bool) -> None:
    """Generate the scheduled workflows from the models' manifests.

    batch.yml: one cron trigger per distinct `serving.batch.schedule` of a model with batch
    scoring enabled (`mlops score --schedule`). monitor.yml: one per distinct
    `monitoring.drift.schedule` (`mlops monitor --schedule --alert`, then `mlops retention
    --apply`). retrain.yml: daily `mlops retrain --all --apply`. Each also runs one model on
    demand. With --check nothing is written: exit 0 when every file is current, 1 with a
    diff when one is not.
    """
    root = find_root(obj.get("repo"))
    reports, problems = [], []
    for wanted in generate(root):
        current = read_committed(root, wanted.path)
        is_current = current == wanted.text
        report: dict[str, Any] = {
            "path": wanted.path,
            "current": is_current,
            "schedules": [{"cron": s.cron, "models": list(s.models)} for s in wanted.schedules],
        }
        reports.append(report)
        if is_current:
            if not as_json:
                said = "" if check else "; nothing written"
                click.secho(f"✓ {wanted.path} is current{said}", fg="green", err=True)
            continue
        if not as_json:
            click.echo(file_diff(wanted.path, current, wanted.text), nl=False)
        if check:
            out_of_date = "is out of date with the models' schedules"
            problems.append(stale(wanted.path, current, out_of_date, "schedules",
                                  as_json=as_json))  # fmt: skip
            continue
        atomic.write_text(root / wanted.path, wanted.text)
        report["written"] = True
        if not as_json:
            verb = "created" if current is None else "updated"
            count = len(wanted.schedules)
            click.secho(f"✓ {verb} {wanted.path}: {count} schedule(s)", fg="green", err=True)
    if as_json:
        print_json(reports)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InvalidInput("; ".join(p.message for p in problems), hint="run `mlops schedules`")
