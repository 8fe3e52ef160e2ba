"""`mlops history`: who changed what a model serves, when, with whose approval, and what
served at a given moment."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core import history as core
from mlops.core.stages import ENVIRONMENTS, PRODUCTION
from mlops.flows import history
from mlops.output import console, print_json, print_table


@click.command("history")
@click.argument("name")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS),
              help="Only this environment's changes (with --at: default production).")  # fmt: skip
@click.option("--at", "at", metavar="TIME",
              help="Say what served at TIME (ISO 8601, UTC unless it says otherwise).")  # fmt: skip
@click.option("--ref", default="HEAD", show_default=True,
              help="The branch whose first-parent history is read.")  # fmt: skip
@click.option("--repository", help="OWNER/NAME on GitHub (default: GITHUB_REPOSITORY).")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, environment: str | None, at: str | None,
            ref: str, repository: str | None, as_json: bool) -> None:  # fmt: skip
    """Every stage change of NAME along the main line of registry.yaml: its time, commit,
    pull request, author, approving reviewers, gate verdicts and the deployments that
    carried it out. With --at, which version (and canary weight) served then: from the
    deployment records where the environment has them, else the desired state.

    Pull requests, reviews, gates and deployments are read from GitHub with GITHUB_TOKEN;
    without one the history comes from git alone, and says so.
    """
    root = find_root(obj.get("repo"))
    moment = history.parse_time(at) if at else None
    found = history.read(root, name, environment, ref, repository)
    if moment is not None:
        served = history.served_at(found, environment or PRODUCTION, moment)
        if as_json:
            print_json(history.served_json(served, name) | {"notes": found.notes})
            return
        what = str(served.serving) if served.serving else "nothing"
        console().print(f"{name} in {served.environment} at {core.stamp(moment)}: {what}"
                        f" (since {core.stamp(served.since)}; {served.source})",
                        markup=False)  # fmt: skip
        _notes(found.notes)
        return
    if as_json:
        print_json(history.to_json(found))
        return
    columns = ["time", "env", "change", "commit", "pull request", "approved by", "gates",
               "deployments"]  # fmt: skip
    print_table(f"{name}: stage changes", columns, [_row(entry) for entry in found.entries])
    _notes(found.notes)


def _row(entry: core.Entry) -> list[str]:
    change = entry.change
    move = f"{change.before or 'nothing'} -> {change.after or 'nothing'}"
    pulls = ", ".join(f"#{r.pull} by {r.author}" for r in entry.reviews) or "-"
    approved = ", ".join(sorted({a for r in entry.reviews for a in r.approvers})) or "-"
    gates = ", ".join(f"{v}" for r in entry.reviews for _, v in r.gates) or "-"
    deployed = ", ".join(f"{d.id} {d.state} {core.stamp(d.time)}"
                         for d in entry.deployments) or "-"  # fmt: skip
    return [core.stamp(change.time), change.environment, move,
            f"{change.commit[:12]} {change.author}", pulls, approved, gates, deployed]  # fmt: skip


def _notes(notes: list[str]) -> None:
    for note in notes:
        console(stderr=True).print(f"note: {note}", markup=False)
