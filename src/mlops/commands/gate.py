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

import os
from pathlib import Path
from typing import Any

import click

from mlops.adapters import git
from mlops.adapters.github import CHECK_PREFIX, GitHub, event_pull_number, repository_name
from mlops.adapters.repository import find_root
from mlops.adapters.yaml_files import parse_yaml_bytes
from mlops.commands.plan import compute_plan
from mlops.core import layout
from mlops.core.approval import (
    UNOWNED,
    ApprovalReport,
    ChangedFile,
    UnitApproval,
    evaluate_approvals,
)
from mlops.core.codeowners import CODEOWNERS_PATH, CodeownersError
from mlops.errors import GitError, InvalidInput, MlopsError, UsageError
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
    if number is not None and commit is not None:
        raise UsageError("pass either --pr or --commit, not both")
    if number is None and commit is None:
        commit = _event_commit()
        number = None if commit else event_pull_number()
    github = GitHub(repository_name(repository))
    if commit is not None:
        commit = git.resolve(root, commit)
        number = _merged_pull_of(github, commit)
        if not as_json:
            console().print(f"commit {commit[:12]} was merged from pull request #{number}")
    elif number is None:
        raise UsageError(
            "no pull request: pass --pr N or --commit SHA (or run on a pull_request or push event)"
        )
    pr = github.pull_request(number)
    for sha in (pr.base_sha, pr.head_sha):
        try:
            git.resolve(root, sha)
        except GitError:
            raise GitError(
                f"commit {sha[:12]} of pull request #{number} is not in this clone "
                "(check out with fetch-depth: 0)"
            ) from None
    plan = compute_plan(root, pr.base_sha, pr.head_sha)
    owners = _model_owners(root, plan.base, pr.head_sha, [m.name for m in plan.models])
    codeowners = git.read_files(root, plan.base, [CODEOWNERS_PATH])[CODEOWNERS_PATH]
    try:
        approvals = evaluate_approvals(
            codeowners_text=(codeowners or b"").decode("utf-8", "replace"),
            changed=[ChangedFile(path) for path in plan.changed_files],
            touched_models=owners,
            author=pr.author,
            head_sha=pr.head_sha,
            reviews=github.reviews(number),
            team_members=github.team_members,
            platform_owners=_platform_owners(root, plan.base),
        )
    except CodeownersError as exc:
        raise InvalidInput(f"the base branch's {CODEOWNERS_PATH} is invalid: {exc}") from None
    checks = {run.name.removeprefix(CHECK_PREFIX): run for run in github.check_runs(pr.head_sha)}
    policy = {m.name: _policy_verdict(checks.get(m.name)) for m in plan.to_train}
    passed = approvals.ok and all(ok for ok, _ in policy.values())
    if as_json:
        print_json(
            ({"commit": commit} if commit is not None else {})
            | {
                "pull_request": number,
                "head_sha": pr.head_sha,
                "passed": passed,
                "approvals": approvals.to_dict(),
                "policy": {
                    name: {"passed": ok, "reason": why} for name, (ok, why) in policy.items()
                },
            }
        )
    else:
        _show(approvals, policy)
    if not passed:
        subject = (
            f"pull request #{number} may not merge yet"
            if commit is None
            else f"commit {commit[:12]} may not deploy: its pull request #{number} fails the gate"
        )
        raise MlopsError(f"{subject}: " + _why(approvals, policy))


def _event_commit() -> str | None:
    """The pushed commit when this workflow run was started by a push, else None."""
    if os.environ.get("GITHUB_EVENT_NAME") != "push":
        return None
    sha = os.environ.get("GITHUB_SHA")
    if not sha:
        raise UsageError("a push event without GITHUB_SHA: pass --commit SHA")
    return sha


def _merged_pull_of(github: GitHub, sha: str) -> int:
    """The one merged pull request that produced `sha` (see `GitHub.pulls_of_commit`)."""
    numbers = github.pulls_of_commit(sha)
    if not numbers:
        raise MlopsError(
            f"commit {sha[:12]} was not merged from a pull request: nothing approved it"
        )
    if len(numbers) > 1:
        listed = ", ".join(f"#{n}" for n in numbers)
        raise MlopsError(
            f"commit {sha[:12]} is in several merged pull requests ({listed}) and is the "
            "merge commit of none: gate one with --pr N"
        )
    return numbers[0]


def _model_owners(root: Path, base: str, head: str, models: list[str]) -> dict[str, list[str]]:
    """Each model's owners from its manifest at the base commit (at the head for a new model)."""
    paths = [layout.manifest_path(m) for m in models]
    before = git.read_files(root, base, paths)
    after = git.read_files(root, head, paths)
    owners: dict[str, list[str]] = {}
    for model, path in zip(models, paths, strict=True):
        raw = before[path] if before[path] is not None else after[path]
        document = parse_yaml_bytes(raw, path, positions=False).document if raw else None
        data = document.data if document is not None else None
        found = data.get("owners") if isinstance(data, dict) else None
        owners[model] = [str(o) for o in found] if isinstance(found, list) else []
    return owners


def _platform_owners(root: Path, base: str) -> list[str]:
    """The platform owners at the base commit: they approve what no CODEOWNERS line owns."""
    path = "policies/platform.yaml"
    raw = git.read_files(root, base, [path])[path]
    document = parse_yaml_bytes(raw, path, positions=False).document if raw else None
    data = document.data if document is not None else None
    found = data.get("platform_owners") if isinstance(data, dict) else None
    return [str(o) for o in found] if isinstance(found, list) else []


def _policy_verdict(run: Any) -> tuple[bool, str]:
    if run is None:
        return False, "not evaluated at the head commit (no `mlops report` check run)"
    if run.conclusion == "success":
        return True, run.summary.splitlines()[0].lstrip("# ") if run.summary else "passed"
    return False, f"policy gates failed ({run.conclusion})"


def _show(approvals: ApprovalReport, policy: dict[str, tuple[bool, str]]) -> None:
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
    for note in approvals.notes:
        console().print(f"note: {note}")


def _requirement(unit: UnitApproval) -> str:
    if unit.kind == "model":
        return f"model: {unit.name}"
    return unit.name if unit.name == UNOWNED else f"files owned by {unit.name}"


def _why(approvals: ApprovalReport, policy: dict[str, tuple[bool, str]]) -> str:
    reasons = [
        f"{unit.name} ({'; '.join(unit.reasons) or 'no approval'})"
        for unit in (*approvals.models, *approvals.files)
        if not unit.approved
    ]
    reasons += [f"{name}: {why}" for name, (ok, why) in policy.items() if not ok]
    return "; ".join(reasons)
