"""`mlops schedules`: write .github/workflows/batch.yml from the models' batch schedules."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters import atomic
from mlops.adapters.repository import find_root
from mlops.core.schedules import BATCH_WORKFLOW_PATH
from mlops.core.text_diff import file_diff
from mlops.flows.generated_files import read_committed, stale
from mlops.flows.schedules import generate
from mlops.output import print_json


@click.command("schedules")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the file is out of date.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {path, current, schedules} (and written) as JSON.",
)
@click.pass_obj
def command(obj: dict[str, Any], check: bool, as_json: bool) -> None:
    """Generate .github/workflows/batch.yml from the models' `serving.batch`.

    Every distinct schedule of a model with batch scoring enabled becomes one cron trigger
    that runs `mlops score --schedule`; the workflow also scores one model on demand. With
    --check nothing is written: exit 0 when the file is current, 1 with a diff when it is not.
    """
    root = find_root(obj.get("repo"))
    wanted = generate(root)
    current = read_committed(root, BATCH_WORKFLOW_PATH)
    is_current = current == wanted.text
    diff = "" if is_current else file_diff(BATCH_WORKFLOW_PATH, current, wanted.text)
    report: dict[str, Any] = {
        "path": BATCH_WORKFLOW_PATH,
        "current": is_current,
        "schedules": [{"cron": s.cron, "models": list(s.models)} for s in wanted.schedules],
    }
    if check:
        if as_json:
            print_json(report)
        elif diff:
            click.echo(diff, nl=False)
        if is_current:
            if not as_json:
                click.secho(f"✓ {BATCH_WORKFLOW_PATH} is current", fg="green", err=True)
            return
        out_of_date = "is out of date with the models' schedules"
        raise stale(BATCH_WORKFLOW_PATH, current, out_of_date, "schedules", as_json=as_json)
    if not is_current:
        atomic.write_text(root / BATCH_WORKFLOW_PATH, wanted.text)
    if as_json:
        print_json({**report, "written": not is_current})
        return
    if is_current:
        click.secho(f"✓ {BATCH_WORKFLOW_PATH} is current; nothing written", fg="green", err=True)
        return
    click.echo(diff, nl=False)
    verb = "created" if current is None else "updated"
    count = len(wanted.schedules)
    summary = f"✓ {verb} {BATCH_WORKFLOW_PATH}: {count} schedule(s)"
    click.secho(summary, fg="green", err=True)
