"""`mlops gate --pr N`: may this pull request merge? Owners approved and the gates passed.

`mlops gate --commit SHA` (the default on a `push` event: `GITHUB_SHA`) gates the merged pull
request that produced a pushed commit the same way, so a direct push or a merge nobody
approved does not deploy.

What changed, which models that touches, their owners and the base branch's CODEOWNERS are
read from the local clone at the pull request's base and head commits (the checkout needs
both: `fetch-depth: 0`), never from the head's own manifests, so a pull request cannot make
its author an owner. Reviews, team membership and each model's evaluation verdict (the check
run `mlops report` left on the head commit) come from GitHub.
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.approval import UNOWNED, UnitApproval
from mlops.errors import MlopsError
from mlops.flows.gate import GateDecision, gate, pull_request_to_gate
from mlops.output import console, print_json, print_table


@click.command("gate")
@click.option("--pr", "number", type=int, help="Pull request number (default: from the event).")
@click.option(
    "--commit",
    help="Gate the merged pull request of this commit (default on a push event: GITHUB_SHA).",
)
@click.option("--repository", help="OWNER/NAME (default: GITHUB_REPOSITORY).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.pass_obj
def command(
    obj: dict[str, Any], number: int | None, commit: str | None, repository: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Pass when every touched model's owners approved the head commit and its enforced
    policy gates passed; otherwise exit 1 with every reason."""
    root = find_root(obj.get("repo"))
    number, commit = pull_request_to_gate(number, commit)
    decision = gate(root, number, commit, repository)
    if as_json:
        print_json(decision.to_dict())
    else:
        if decision.commit is not None:
            console().print(
                f"commit {decision.commit[:12]} was merged from pull request #{decision.number}"
            )
        _show(decision)
    if not decision.passed:
        raise MlopsError(decision.why())


def _show(decision: GateDecision) -> None:
    approvals, policy = decision.approvals, decision.policy
    rows = [
        (
            _requirement(unit),
            "✓" if unit.approved else "✗",
            ", ".join(unit.approved_by) or "—",
            "; ".join(unit.reasons),
        )
        for unit in (*approvals.models, *approvals.files)
    ]
    rows += [
        (f"policy: {name}", "✓" if ok else "✗", "—", why) for name, (ok, why) in policy.items()
    ]
    print_table("Merge gate", ("requirement", "ok", "approved by", "details"), rows)
    for note in [*approvals.notes, *decision.notes]:
        console().print(f"note: {note}")


def _requirement(unit: UnitApproval) -> str:
    if unit.kind == "model":
        return f"model: {unit.name}"
    return unit.name if unit.name == UNOWNED else f"files owned by {unit.name}"
