"""`mlops score`: batch scoring with the version registry.yaml names.

`mlops score NAME` scores the model's `serving.batch.input` with its production version and
publishes `serving.batch.output` (and the rejected rows beside it, `<output>.rejected.jsonl`);
`--schedule CRON` scores every model whose batch schedule is CRON (what batch.yml runs).
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters import gha
from mlops.adapters.repository import find_root
from mlops.errors import MlopsError, UsageError
from mlops.flows.batch_scoring import (
    ENGINES,
    LOCAL,
    BatchResult,
    Request,
    score_due,
    score_model,
)
from mlops.output import console, print_json, print_table, progress


@click.command("score")
@click.argument("name", required=False)
@click.option("--stage", type=click.Choice(["production", "staging"]),
              help="Score with the version holding this stage (default: production).")  # fmt: skip
@click.option("--version", help="Score with this registered version instead of a stage's.")
@click.option("--input", "input_uri", metavar="PATH|s3://...",
              help="Rows to score (default: serving.batch.input).")  # fmt: skip
@click.option("--output", "output_uri", metavar="PATH|s3://...",
              help="Where to publish (default: serving.batch.output).")  # fmt: skip
@click.option("--schedule", metavar="CRON",
              help="Score every model whose batch schedule is CRON, with production.")  # fmt: skip
@click.option("--batch-rows", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Rows read and scored at a time.")  # fmt: skip
@click.option("--engine", type=click.Choice(ENGINES), default=LOCAL, show_default=True,
              help="local: stream on this machine; spark: on the Spark master (MLOPS_SPARK_MASTER,"
                   " else [tool.mlops.batch] spark_master, else local[*]).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the run(s) as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str | None, stage: str | None, version: str | None,
            input_uri: str | None, output_uri: str | None, schedule: str | None,
            batch_rows: int, engine: str, as_json: bool) -> None:  # fmt: skip
    """Score NAME's batch input with a pinned version; publish the output only when the run
    succeeds. Formats: .parquet, .csv, .jsonl; locations: local paths or s3://bucket/key."""
    if (name is None) == (schedule is None):
        raise UsageError("give a model NAME or --schedule CRON (not both)")
    if stage and version:
        raise UsageError("give --stage or --version, not both")
    if schedule and (stage or version or input_uri or output_uri):
        raise UsageError("--schedule scores each model's own input with production")
    request = Request(stage, version, input_uri, output_uri, batch_rows, engine)
    root = find_root(obj.get("repo"))
    with progress(not as_json) as reporter, reporter.meter("scoring") as rows:  # on stderr
        if name is not None:
            results = [score_model(root, name, request, rows.update)]
        else:
            results = score_due(root, str(schedule), request, rows.update)
    _report(results, as_json)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise MlopsError(f"{len(failed)} of {len(results)} batch run(s) failed: "
                         + "; ".join(f"{r.model}: {r.note}" for r in failed))  # fmt: skip


def _report(results: list[BatchResult], as_json: bool) -> None:
    if as_json:
        print_json([r.as_dict() for r in results])
        return
    rows = [(r.model, r.status, r.version or "-", f"{r.rows_in:,}", f"{r.rows_scored:,}",
             f"{r.rows_rejected:,}", f"{r.seconds:.1f}s", f"{r.rows_per_second:,.0f}",
             r.output or r.note or "") for r in results]  # fmt: skip
    columns = ["model", "status", "version", "rows in", "scored", "rejected", "time", "rows/s",
               "output"]  # fmt: skip
    if rows:
        print_table("Batch scoring", columns, rows)
    else:
        console(stderr=True).print("no model is scheduled at that time")
    for r in results:
        if r.status == "scored":
            console(stderr=True).print(
                f"{r.model}: batch run {r.batch_run_id}; rejected rows in {r.quarantine}"
            )
        elif r.status == "skipped":
            console(stderr=True).print(f"{r.model}: skipped: {r.note}")
            if gha.in_actions():
                gha.notice(f"{r.model} was not scored: {r.note}", title="mlops score")
    if gha.in_actions():
        gha.append_summary(_summary(results))


def _summary(results: list[BatchResult]) -> str:
    lines = ["### Batch scoring", "", "| model | status | version | rows in | scored | rejected |"
             " output |", "|---|---|---|---:|---:|---:|---|"]  # fmt: skip
    lines += [f"| {r.model} | {r.status} | {r.version or '-'} | {r.rows_in} | {r.rows_scored} |"
              f" {r.rows_rejected} | {r.output or r.note or ''} |" for r in results]  # fmt: skip
    return "\n".join(lines) + "\n"
