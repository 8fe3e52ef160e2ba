"""`mlops labels`: attach outcomes to logged predictions, for monitoring's performance."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.stages import PRODUCTION
from mlops.flows.labels import attach
from mlops.output import console, print_json


@click.command("labels")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--env", "environment", default=PRODUCTION, show_default=True,
              help="The environment whose predictions the outcomes belong to.")  # fmt: skip
@click.option("--since", "days", default=90, show_default=True, type=click.IntRange(min=1),
              help="How many days back a labelled prediction may have been logged.")  # fmt: skip
@click.option("--logs", type=click.Path(file_okay=False, path_type=Path),
              help="The prediction-log folder (default: this deploy host's).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print what was attached as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, file: Path, environment: str, days: int,
            logs: Path | None, as_json: bool) -> None:  # fmt: skip
    """Attach the outcomes in FILE (CSV, JSON lines or Parquet) to NAME's logged predictions.

    FILE has a `request_id` column (the id each answer carried), an optional `row` (the
    row's index in its request, 0 by default) and the outcome under the target's name (or
    `label`). Every outcome is checked against data.target first: one bad value stores
    nothing. Outcomes of predictions that were never logged are counted and listed.
    """
    root = find_root(obj.get("repo"))
    result = attach(root, name, file, environment, logs, timedelta(days=days))
    if as_json:
        print_json(result.as_dict())
        return
    out = console()
    out.print(f"attached {result.attached} of {result.rows} outcome(s) to {name} in"
              f" {environment}: {result.stored}")  # fmt: skip
    if result.unknown:
        shown = ", ".join(result.unknown_examples)
        out.print(f"{result.unknown} match no logged prediction (not stored): {shown}")
