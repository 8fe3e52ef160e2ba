"""`mlops evaluate NAME --candidate V`: candidate and production on the same held-out rows.

Both versions are scored by the platform on the model's holdout input (the one whose role is
`holdout`), the metrics are computed by one implementation (core.metrics), and the policy gates
(core.policy) decide. The result is a table and a JSON file that the card and the PR report read.
When production's model cannot be loaded from this tracking store (a laptop or CI runner with
its own embedded store), its metrics recorded in registry.yaml are used and the report says so.
A plot of both versions on the holdout is written beside the result (NAME.png) and logged to
the candidate's MLflow run; a plot that cannot be made is a warning, never a failed evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters import gha
from mlops.adapters.repository import find_root
from mlops.errors import MlopsError
from mlops.flows.evaluation import evaluate_model
from mlops.output import console, print_json, print_table


@click.command("evaluate")
@click.argument("name")
@click.option(
    "--candidate", "candidate", metavar="VERSION",
    help="Registered version to evaluate (default: the one `mlops train` last registered here).",
)  # fmt: skip
@click.option("--output", type=click.Path(path_type=Path), help="Also write the result here.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(
    obj: dict[str, Any], name: str, candidate: str | None, output: Path | None, as_json: bool
) -> None:
    """Score NAME's candidate and production versions on the holdout and apply the gates.

    Exits 1 when an enforced gate fails. The result is written to the state folder
    (.mlops/evaluations/NAME.json) for `mlops card` and the PR report, with a plot of both
    versions beside it (NAME.png), also logged to the candidate's MLflow run.
    """
    result = evaluate_model(find_root(obj.get("repo")), name, candidate, output)
    if as_json:
        print_json(result)
    else:
        _show(result)
    _plot_warning(name, result.get("plot") or {})
    decision = result["decision"]
    if not decision["passed"]:
        version = result["candidate"]["version"]
        raise MlopsError(f"{name} version {version} is {decision['summary']}")


def _show(result: dict[str, Any]) -> None:
    production = result["production"]
    label = f"production v{production['version']}" if production else "production"
    rows = [
        (
            row["metric"] + (" (primary)" if row["primary"] else ""),
            _number(row["production"]), _number(row["candidate"]), _delta(row["delta"]),
            _bounds(row["bounds"]),
        )
        for row in result["rows"]
    ]  # fmt: skip
    title = f"{result['model']}: candidate v{result['candidate']['version']} vs {label}"
    print_table(title, ("metric", label, "candidate", "delta", "bounds"), rows)
    out = console()
    if production is None:
        out.print("No production version yet: relative gates are not applicable.")
    elif production["source"] == "recorded":
        out.print(f"Production: {production['note']}.")
    gates = [(g["gate"], g["mode"], _verdict(g), g["reason"]) for g in result["decision"]["gates"]]
    print_table("Gates", ("gate", "mode", "verdict", "reason"), gates)
    out.print(f"Decision: {result['decision']['summary']}")
    plot = result.get("plot") or {}
    if plot.get("path"):
        plain = console(markup=False)
        plain.print(f"Plot: {plot['path']}", soft_wrap=True)  # paths are copied whole
        if plot.get("artifact_uri"):
            plain.print(f"Logged to the candidate's run: {plot['artifact_uri']}", soft_wrap=True)
        if plot.get("artifact_url"):
            plain.print(f"In the MLflow UI: {plot['artifact_url']}", soft_wrap=True)


def _plot_warning(name: str, plot: dict[str, Any]) -> None:
    """What kept the plot from being drawn or logged, on stderr (an annotation in Actions)."""
    warning = plot.get("warning")
    if not warning:
        return
    console(stderr=True, markup=False).print(f"Warning: {warning}", soft_wrap=True)
    if gha.in_actions():
        gha.warning(warning, title=f"mlops evaluate {name}")


def _verdict(gate: dict[str, Any]) -> str:
    colour = {"pass": "green", "fail": "red" if gate["blocking"] else "yellow"}.get(gate["verdict"])
    return f"[{colour}]{gate['verdict']}[/]" if colour else str(gate["verdict"])


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _delta(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4g}"


def _bounds(bounds: dict[str, float]) -> str:
    parts = [f">= {bounds['min']:g}" if "min" in bounds else "", ""]
    parts[1] = f"<= {bounds['max']:g}" if "max" in bounds else ""
    return " and ".join(p for p in parts if p)
