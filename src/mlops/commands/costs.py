"""`mlops costs`: what each model and cost centre used, priced with policies/costs.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.costs import CostReport, parse_since
from mlops.errors import UsageError
from mlops.flows.costs import cost_report
from mlops.output import console, print_json, print_table


@click.command("costs")
@click.option("--since", "since_text", metavar="T",
              help="Only usage from T on: a span back from now (12h, 30d, 2w) or an ISO 8601 "
                   "date or time (UTC unless it says). Default: everything recorded.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], since_text: str | None, as_json: bool) -> None:
    """Show per model and cost centre: training CPU-seconds, serving instance-hours and batch
    rows and seconds, priced with the rates in policies/costs.yaml.

    Training and batch usage come from the tracking store's runs; serving instance-hours from
    the instances running on this deploy host (hours inside the window, up to now).

    \b
    --json prints one object:
      since, until   the window (since is null without --since)
      currency       the currency of every cost
      rates          price per unit (cpu_second, instance_hour, batch_row, batch_second)
      models         per model and cost centre: owners, training {runs, cpu_seconds, cost},
                     serving {instances, instance_hours, cost},
                     batch {runs, rows, seconds, cost}, total
      cost_centres   total per cost centre
      total          the sum of every cost
      unpriced       units used that have no rate (their cost is null)
    """
    now = datetime.now(UTC)
    try:
        since = parse_since(since_text, now) if since_text is not None else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    report = cost_report(find_root(obj.get("repo")), since, now)
    if as_json:
        print_json(report.to_dict())
        return
    _print(report)


def _print(report: CostReport) -> None:
    data = report.to_dict()
    currency = data["currency"]
    rows = [
        (
            m["model"], m["cost_centre"],
            f"{m['training']['cpu_seconds']:.1f}", f"{m['serving']['instance_hours']:.3f}",
            f"{m['batch']['rows']:.0f}", f"{m['batch']['seconds']:.1f}",
            _money(m["total"]),
        )
        for m in data["models"]
    ]  # fmt: skip
    window = f"since {data['since']}" if data["since"] else "all recorded usage"
    columns = ("model", "cost centre", "training cpu-s", "serving inst-h", "batch rows",
               "batch s", f"cost ({currency})")  # fmt: skip
    print_table(f"Costs, {window} (to {data['until']})", columns, rows)
    centres = [(c["cost_centre"], _money(c["total"])) for c in data["cost_centres"]]
    print_table(f"Per cost centre ({currency})", ("cost centre", "total"),
                [*centres, ("all", _money(data["total"]))])  # fmt: skip
    if data["unpriced"]:
        console(stderr=True).print(
            f"No rate in policies/costs.yaml for: {', '.join(data['unpriced'])} (not priced)."
        )


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"
