"""`mlops alerts render`: the Prometheus rules of the models' service-level objectives;
`mlops alerts receive`: Alertmanager's alerts delivered through the models' channels."""

from __future__ import annotations

import logging
from typing import Any

import click

from mlops.adapters import atomic
from mlops.adapters.repository import find_root
from mlops.core.alert_rules import RULES_PATH, objectives, render
from mlops.core.text_diff import file_diff
from mlops.flows.generated_files import read_committed, stale
from mlops.flows.schedules import sections
from mlops.output import print_json


@click.group("alerts")
def command() -> None:
    """Alerting rules from the models' manifests, and Alertmanager's alerts delivered."""


@command.command("render", short_help="Write the Prometheus rules of the models' SLOs.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the file is out of date.")
@click.option("--json", "as_json", is_flag=True, help="Print {path, current, models} as JSON.")
@click.pass_obj
def render_command(obj: dict[str, Any], check: bool, as_json: bool) -> None:
    """Write policies/prometheus/mlops.rules.yml: the p95 latency and error ratio of each
    served version as recording rules, and each model's serving.api.slo as alerts on them.
    With --check nothing is written: exit 0 when the file is current, 1 with a diff."""
    root = find_root(obj.get("repo"))
    found = objectives(sections(root, ("serving", "api")))
    wanted = render(found)
    current = read_committed(root, RULES_PATH)
    is_current = current == wanted
    report = {"path": RULES_PATH, "current": is_current, "models": [o.model for o in found]}
    if not is_current and not as_json:
        click.echo(file_diff(RULES_PATH, current, wanted), nl=False)
    if check and not is_current:
        if as_json:
            print_json(report)
        raise stale(RULES_PATH, current, "is out of date with the models' SLOs", "alerts render",
                    as_json=as_json)  # fmt: skip
    if not is_current and not check:
        atomic.write_text(root / RULES_PATH, wanted)
    if as_json:
        print_json({**report, "written": not is_current and not check})
    elif is_current:
        click.secho(f"✓ {RULES_PATH} is current", fg="green", err=True)
    elif not check:
        click.secho(f"✓ wrote {RULES_PATH}: {len(found)} model(s) with SLOs", fg="green",
                    err=True)  # fmt: skip


@command.command("receive", short_help="Serve Alertmanager's webhook: its alerts reach the"
                 " models' alert channels.")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=9095, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free port).")  # fmt: skip
@click.pass_obj
def receive_command(obj: dict[str, Any], host: str, port: int) -> None:
    """Listen for Alertmanager's webhook (POST /alertmanager, webhook_configs with
    send_resolved) and deliver its alerts through each model's monitoring.alerts channels,
    like `mlops monitor --alert`: one GitHub issue per model, environment and kind, closed
    when the alert resolves; e-mail and webhooks told of each change. Alerts without a
    `model` label are ignored. Runs until SIGTERM or Ctrl-C."""
    from mlops.flows import alert_receiver  # the server and GitHub: not `render`'s start-up

    root = find_root(obj.get("repo"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def ready(url: str) -> None:
        click.echo(f"receiving Alertmanager's alerts at {url}", err=True)

    alert_receiver.receive(root, host, port, ready)
