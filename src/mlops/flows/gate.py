"""The merge gate: may a pull request merge (or its merge commit deploy)?

What changed, which models that touches, their owners, the base branch's CODEOWNERS and the
platform policy are read from the local clone at the pull request's base and head commits
(the checkout needs both: `fetch-depth: 0`), never from the head's own manifests, so a pull
request cannot make its author an owner or name the app it trusts. Reviews, team membership
and each model's evaluation verdict (the check run `mlops report` left on the head commit,
written by the app `policies/platform.yaml: evaluation_app` names) come from GitHub.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters import git
from mlops.adapters.github import CHECK_PREFIX, CheckRun, GitHub, event_pull_number, repository_name
from mlops.adapters.yaml_files import parse_yaml_bytes
from mlops.core import layout
from mlops.core.approval import ApprovalReport, ChangedFile, evaluate_approvals
from mlops.core.checks import DEFAULT_APP, trusted_runs, untrusted_names
from mlops.core.codeowners import CODEOWNERS_PATH, CodeownersError
from mlops.errors import GitError, InvalidInput, MlopsError, UsageError
from mlops.flows.plan import compute_plan, yaml_at


@dataclass(frozen=True)
class GateDecision:
    """The gate's answer for one pull request (and the commit it was asked about)."""

    number: int
    head_sha: str
    commit: str | None
    approvals: ApprovalReport
    policy: dict[str, tuple[bool, str]]  # model -> (passed, why)
    notes: list[str]

    @property
    def passed(self) -> bool:
        return self.approvals.ok and all(ok for ok, _ in self.policy.values())

    def to_dict(self) -> dict[str, Any]:
        return ({"commit": self.commit} if self.commit is not None else {}) | {
            "pull_request": self.number,
            "head_sha": self.head_sha,
            "passed": self.passed,
            "approvals": self.approvals.to_dict(),
            "policy": {
                name: {"passed": ok, "reason": why} for name, (ok, why) in self.policy.items()
            },
            "notes": self.notes,
        }

    def why(self) -> str:
        reasons = [
            f"{unit.name} ({'; '.join(unit.reasons) or 'no approval'})"
            for unit in (*self.approvals.models, *self.approvals.files)
            if not unit.approved
        ]
        reasons += [f"{name}: {why}" for name, (ok, why) in self.policy.items() if not ok]
        subject = (
            f"pull request #{self.number} may not merge yet"
            if self.commit is None
            else f"commit {self.commit[:12]} may not deploy: its pull request #{self.number} "
            "fails the gate"
        )
        return f"{subject}: " + "; ".join(reasons)


def pull_request_to_gate(number: int | None, commit: str | None) -> tuple[int | None, str | None]:
    """The pull request or commit the event asks about when neither was given."""
    if number is not None and commit is not None:
        raise UsageError("pass either --pr or --commit, not both")
    if number is None and commit is None:
        commit = _event_commit()
        number = None if commit else event_pull_number()
    if number is None and commit is None:
        raise UsageError(
            "no pull request: pass --pr N or --commit SHA (or run on a pull_request or push event)"
        )
    return number, commit


def gate(
    root: Path, number: int | None, commit: str | None, repository: str | None
) -> GateDecision:
    """Judge pull request `number`, or the merged pull request that produced `commit`."""
    github = GitHub(repository_name(repository))
    if commit is not None:
        commit = git.resolve(root, commit)
        number = _merged_pull_of(github, commit)
    assert number is not None
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
    platform = _platform_policy(root, plan.base)
    try:
        approvals = evaluate_approvals(
            codeowners_text=(codeowners or b"").decode("utf-8", "replace"),
            changed=[ChangedFile(path) for path in plan.changed_files],
            touched_models=owners,
            author=pr.author,
            head_sha=pr.head_sha,
            reviews=github.reviews(number),
            team_members=github.team_members,
            platform_owners=[str(o) for o in platform.get("platform_owners") or []],
        )
    except CodeownersError as exc:
        raise InvalidInput(f"the base branch's {CODEOWNERS_PATH} is invalid: {exc}") from None
    app = str(platform.get("evaluation_app") or DEFAULT_APP)
    runs = github.check_runs(pr.head_sha)
    checks = trusted_runs(runs, app=app, head_sha=pr.head_sha, prefix=CHECK_PREFIX)
    policy = {m.name: _policy_verdict(checks.get(m.name), app) for m in plan.to_train}
    ignored = untrusted_names(runs, app=app, head_sha=pr.head_sha, prefix=CHECK_PREFIX)
    notes = [f"ignored check run {name}: only {app} on the head commit counts" for name in ignored]
    return GateDecision(number, pr.head_sha, commit, approvals, policy, notes)


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


def _platform_policy(root: Path, base: str) -> dict[str, Any]:
    """policies/platform.yaml at the base commit: its platform owners approve what no
    CODEOWNERS line owns, and it names the app whose check runs carry verdicts."""
    data = yaml_at(root, base, layout.PLATFORM_POLICY)
    return data if isinstance(data, dict) else {}


def _policy_verdict(run: CheckRun | None, app: str) -> tuple[bool, str]:
    if run is None:
        return False, f"not evaluated at the head commit (no `mlops report` check run by {app})"
    if run.conclusion == "success":
        return True, run.summary.splitlines()[0].lstrip("# ") if run.summary else "passed"
    return False, f"policy gates failed ({run.conclusion})"
