"""`mlops monitor`: drift, data quality and performance of one model's logged predictions,
served or written by batch scoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters import gha
from mlops.adapters.repository import find_root
from mlops.core.drift import BREACH, WindowError, parse_window
from mlops.core.service_health import UNKNOWN
from mlops.core.stages import PRODUCTION
from mlops.errors import MlopsError, UsageError
from mlops.flows.monitoring import Monitored, Request, monitor
from mlops.flows.scheduled_monitoring import monitor_due
from mlops.output import console, print_json


class Breach(MlopsError):
    """A monitored threshold was crossed."""


@click.command("monitor")
@click.argument("name", required=False)
@click.option("--schedule", metavar="CRON", help="Check every model whose"
              " monitoring.drift.schedule is CRON, in production and, when it scores"
              " batches, in serving.batch.output (monitor.yml); with --out, each check"
              " writes to OUT/<model>/<environment>.")  # fmt: skip
@click.option("--env", "environment", help="The environment whose served predictions are"
              f" compared (default: {PRODUCTION}).")  # fmt: skip
@click.option("--batch", "batch", multiple=True, is_flag=False, flag_value="", metavar="[PATH]",
              help="Monitor batch outputs instead: PATH (a file or a folder of them; may be"
              " repeated), else serving.batch.output.")  # fmt: skip
@click.option("--window", help="How far back to look, like 7d or 36h (default: the manifest's"
              " monitoring.drift.window_days, else 7d).")  # fmt: skip
@click.option("--logs", type=click.Path(file_okay=False, path_type=Path),
              help="The prediction-log folder, where labels are too (default: this deploy"
              " host's).")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where summary.json and report.html go (default: in .mlops/).")  # fmt: skip
@click.option("--alert", is_flag=True, help="Deliver the alerts through the manifest's"
              " monitoring.alerts channels (GitHub issues, e-mail, webhooks).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str | None, schedule: str | None,
            environment: str | None, batch: tuple[str, ...], window: str | None,
            logs: Path | None, out: Path | None, alert: bool, as_json: bool) -> None:  # fmt: skip
    """Compare the window's logged inputs and predictions of NAME with the serving version's
    training data, by the manifest's drift method and threshold, and check them against the
    feature schema.

    Writes an HTML report and a JSON summary (also logged to MLflow, experiment
    monitor/NAME). Exit 1 when a threshold is breached; a window with too few rows for a
    verdict says so and exits 0. With --alert, a breach opens (or updates) one GitHub issue
    per model, environment and kind, a recovery closes it, and e-mail and webhooks hear of
    each change; an alert that could not be delivered also exits 1.

    With --batch, the rows are those the production version (the one `mlops score` uses)
    wrote into the batch outputs within the window, by their mlops_scored_at; the summary and
    the alerts name the environment `batch`. Outcomes attached with `mlops labels NAME FILE
    --batch` give the performance. An output that keeps only serving.batch.id_column holds
    no feature, so feature drift is listed as not monitored; prediction drift is still
    measured. A relative PATH is taken from the model folder, as `mlops score --output`
    takes it; write --batch after NAME (or as --batch=PATH).
    """
    if (name is None) == (schedule is None):
        raise UsageError("give a model NAME or --schedule CRON (not both)")
    if batch and schedule is not None:
        raise UsageError("--batch monitors one model's batch outputs: give NAME; --schedule"
                         " already checks each model's serving.batch.output")  # fmt: skip
    if batch and environment is not None:
        raise UsageError("--batch monitors the production version's batch outputs; --env names"
                         " an environment whose served predictions are monitored")  # fmt: skip
    try:
        span = parse_window(window) if window else None
    except WindowError as exc:
        raise UsageError(str(exc)) from None
    root = find_root(obj.get("repo"))
    request = Request(environment or PRODUCTION, span, logs, out, alert=alert,
                      batch=tuple(p for p in batch if p) if batch else None)  # fmt: skip
    if schedule is not None:
        _scheduled(root, schedule, request, as_json)
        return
    assert name is not None
    result = monitor(root, name, request)
    if as_json:
        print_json(result.summary)
    else:
        _print(result)
    service = result.summary.get("service") or {}
    if service.get("status") == UNKNOWN and gha.in_actions():
        gha.warning(service["note"], title=f"mlops monitor {name}")
    problems = []
    if result.verdict.status == BREACH:
        where = result.summary["environment"]
        problems.append(f"{name} in {where}: " + "; ".join(result.verdict.reasons))
    if result.delivery is not None and result.delivery.failures:
        problems.append("alerts not delivered: " + "; ".join(result.delivery.failures))
    if problems:
        raise Breach(" | ".join(problems))


def _scheduled(root: Path, cron: str, request: Request, as_json: bool) -> None:
    outcomes = monitor_due(root, cron, request)
    if as_json:
        print_json([{"model": o.model, "status": o.status, "note": o.note,
                     "summary": o.result.summary if o.result else None}
                    for o in outcomes])  # fmt: skip
    lines = ["| model | verdict | note |", "|---|---|---|"]
    for outcome in outcomes:
        if not as_json:
            console(markup=False).print(f"{outcome.model}: {outcome.status}"
                            + (f" ({outcome.note})" if outcome.note else ""))  # fmt: skip
        if outcome.status == "skipped":
            gha.notice(f"{outcome.model}: {outcome.note}", title="mlops monitor")
        reasons = "; ".join(outcome.result.verdict.reasons) if outcome.result else ""
        lines.append(f"| {outcome.model} | {outcome.status} | {outcome.note or reasons} |")
    gha.append_summary(f"## Monitoring ({cron})\n\n" + "\n".join(lines) + "\n")
    bad = [o for o in outcomes if o.status in (BREACH, "failed") or (o.note and o.result)]
    if bad:
        raise Breach("; ".join(f"{o.model}: {o.note or o.status}" for o in bad))


def _print_service(service: dict[str, Any] | None) -> None:
    if service is None:
        return
    out = console(markup=False)
    for item in service["versions"]:
        p95 = "-" if item["p95_ms"] is None else f"{item['p95_ms']:.1f} ms"
        out.print(f"service: version {item['version']}: {item['requests']:.0f} request(s),"
                  f" p95 {p95}, {item['error_rate']:.2%} failed")  # fmt: skip
    slo = service["slo"]
    out.print(f"service health: {service['status']} (SLO: p95 {slo['p95_latency_ms']} ms,"
              f" error rate {slo['error_rate']})" + (f"; {service['note']}" if service["note"]
                                                    else ""))  # fmt: skip


def _print(result: Monitored) -> None:
    from rich.table import Table

    summary = result.summary
    out = console(markup=False)
    table = Table(title=f"{summary['model']} v{summary['version']} in {summary['environment']},"
                  f" {summary['window']['start']} to {summary['window']['end']}")  # fmt: skip
    for column in ("column", "method", "statistic", "threshold", "drifted"):
        table.add_column(column)
    rows = [
        *summary["drift"],
        *([summary["prediction_drift"]] if summary["prediction_drift"] else []),
    ]
    for item in rows:
        value = "-" if item["statistic"] is None else f"{item['statistic']:.4g}"
        table.add_row(item["column"], item["method"], value, f"{item['threshold']:g}",
                      "yes" if item["drifted"] else "no")  # fmt: skip
    if rows:
        out.print(table)
    logs = summary["logs"]
    files = "batch output(s)" if "outputs" in summary else "log file(s)"
    out.print(f"{summary['rows']} row(s) from {logs['files']} {files};"
              f" {logs['skipped_lines']} malformed line(s) skipped")  # fmt: skip
    for line in logs["skipped"]:
        out.print(f"  skipped {line}")
    quality = summary["quality"]
    if quality:
        out.print(f"data quality: {quality['invalid_rows']} of {quality['rows']} row(s) fail the"
                  " feature schema")  # fmt: skip
    for note in summary["not_monitored"]:
        out.print(f"not monitored: {note}")
    _print_service(summary.get("service"))
    out.print(f"verdict: {summary['status']}" + "".join(f"\n  {r}" for r in summary["reasons"]))
    out.print(f"report: {result.folder}")
    if result.delivery is not None:
        for what, items in result.delivery.as_dict().items():
            for item in items:
                out.print(f"alert {what}: {item}")
