"""`mlops labels`: attach outcomes to logged predictions (served, or written by batch
scoring), for monitoring's performance."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.stages import PRODUCTION
from mlops.errors import UsageError
from mlops.flows.labels import attach
from mlops.output import console, print_json


@click.command("labels")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--env", "environment", help="The environment whose served predictions the"
              f" outcomes belong to (default: {PRODUCTION}).")  # fmt: skip
@click.option("--batch", "batch", multiple=True, is_flag=False, flag_value="", metavar="[PATH]",
              help="The outcomes belong to rows of batch outputs instead: PATH (a file or a"
              " folder of them; may be repeated), else serving.batch.output.")  # fmt: skip
@click.option("--since", "days", default=90, show_default=True, type=click.IntRange(min=1),
              help="How many days back a labelled prediction may have been made.")  # fmt: skip
@click.option("--logs", type=click.Path(file_okay=False, path_type=Path),
              help="The prediction-log folder, where labels are stored (default: this deploy"
              " host's).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print what was attached as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, file: Path, environment: str | None,
            batch: tuple[str, ...], days: int, logs: Path | None,
            as_json: bool) -> None:  # fmt: skip
    """Attach the outcomes in FILE (CSV, JSON lines or Parquet) to NAME's logged predictions.

    FILE has a `request_id` column (the id each answer carried), an optional `row` (the
    row's index in its request, 0 by default) and the outcome under the target's name (or
    `label`). Every outcome is checked against data.target first: one bad value stores
    nothing. Outcomes of predictions that were never logged are counted and listed.

    With --batch, the outcomes are of rows batch scoring wrote: FILE has `batch_run_id` (the
    row's mlops_batch_run_id; `request_id` also does), `row` (the row's
    serving.batch.id_column value, else its 1-based row number in the output) and the
    outcome. They are matched against the outputs' rows of the last --since days and stored
    under the environment `batch`, where `mlops monitor NAME --batch` finds them.
    """
    if batch and environment is not None:
        raise UsageError("--batch attaches outcomes to batch rows; --env names an environment"
                         " whose served predictions they belong to")  # fmt: skip
    root = find_root(obj.get("repo"))
    result = attach(root, name, file, environment or PRODUCTION, logs, timedelta(days=days),
                    batch=tuple(p for p in batch if p) if batch else None)  # fmt: skip
    if as_json:
        print_json(result.as_dict())
        return
    out = console()
    where = "batch rows" if batch else environment or PRODUCTION
    out.print(f"attached {result.attached} of {result.rows} outcome(s) to {name} in"
              f" {where}: {result.stored}")  # fmt: skip
    if result.unknown:
        shown = ", ".join(result.unknown_examples)
        missed = "scored row" if batch else "logged prediction"
        out.print(f"{result.unknown} match no {missed} (not stored): {shown}")
