"""The repository's GitHub settings the GitOps loop relies on: desired against observed.

`Desired` is what the workflows and the configuration ask for; `Observed` is what GitHub
holds. `findings` checks one against the other, one `Finding` per requirement, each saying
what to do; `plan` lists the `Change`s `mlops github setup --apply` makes. Setup changes
settings only: it never invents a secret's value or a variable nobody configured, and it
cannot start a runner; those stay findings a person acts on.

Setup only adds: it requires the gate's check and code-owner reviews on the protected branch
and keeps every other protection setting; it creates missing environments and gives the
reviewed ones (production) reviewers when they have none; it sets configured variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mlops.core.workflows import RunnerNeed, is_hosted_label

SETUP = "run `mlops github setup --apply`"


@dataclass(frozen=True)
class Protection:
    """A branch's protection: the required checks (None: status checks not required) and
    pull request reviews (`approvals` None: reviews not required)."""

    contexts: tuple[str, ...] | None = None
    code_owner_reviews: bool = False
    approvals: int | None = None


@dataclass(frozen=True)
class Environment:
    """A deployment environment; `reviewers` as `@login` or `@org/team`."""

    name: str
    reviewers: tuple[str, ...] = ()
    wait_timer: int = 0
    prevent_self_review: bool = False
    branch_policy: tuple[bool, bool] | None = None  # (protected_branches, custom_policies)


@dataclass(frozen=True)
class Runner:
    name: str
    online: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Observed:
    """What GitHub holds. `protection` is None when the branch is unprotected (or missing)."""

    branch_exists: bool = True
    protection: Protection | None = None
    environments: Mapping[str, Environment] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    secrets: frozenset[str] = frozenset()
    runners: tuple[Runner, ...] = ()


@dataclass(frozen=True)
class Desired:
    """What the loop needs. `variables` maps each variable the workflows read to the value the
    configuration gives it (None: a person sets it); `reviewers` are who setup makes the
    reviewers of a `reviewed` environment that has none; `runner_label` overrides the label
    of every self-hosted runner need."""

    branch: str
    gate_check: str | None
    environments: tuple[str, ...]
    reviewed: tuple[str, ...]
    reviewers: tuple[str, ...] = ()
    variables: Mapping[str, str | None] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    runners: tuple[RunnerNeed, ...] = ()
    runner_label: str | None = None
    optional: frozenset[str] = frozenset()  # variables and secrets a site may leave unset


@dataclass(frozen=True)
class Finding:
    """One requirement: met (`ok` True), missing (False) or not checked (None). `fix` says
    what to do; `required` findings that are not met make `doctor` fail."""

    requirement: str
    ok: bool | None
    detail: str
    fix: str
    required: bool = True
    by_setup: bool = False  # `mlops github setup --apply` fixes it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ChangeKind = Literal["protection", "environment", "variable"]


@dataclass(frozen=True)
class Change:
    """One change setup makes: `name` is the branch, environment or variable; `value` a
    variable's value; `contexts` the checks a protection must require (with code-owner
    reviews and at least one approval); `reviewers` an environment's new reviewers."""

    kind: ChangeKind
    name: str
    action: str
    detail: str
    value: str = ""
    contexts: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()

    @property
    def setting(self) -> str:
        what = {"protection": "branch protection", "environment": "environment"}
        return f"{what.get(self.kind, self.kind)} {self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.setting} | asdict(self)


def findings(desired: Desired, observed: Observed) -> list[Finding]:
    """Every requirement of `desired`, checked against `observed`, in a stable order."""
    return [
        *_protection_findings(desired, observed),
        *_environment_findings(desired, observed),
        *_variable_findings(desired, observed),
        *_secret_findings(desired, observed),
        *_runner_findings(desired, observed),
    ]


def failed(found: list[Finding]) -> list[Finding]:
    """The required findings that are not met."""
    return [f for f in found if f.required and f.ok is False]


def plan(desired: Desired, observed: Observed) -> list[Change]:
    """The changes that make `observed` meet `desired`'s settings (empty: nothing to do)."""
    changes = []
    protection = _protection_change(desired, observed)
    if protection is not None:
        changes.append(protection)
    for name in desired.environments:
        environment = observed.environments.get(name)
        reviewed = name in desired.reviewed
        who = ", ".join(desired.reviewers)
        if environment is None:
            detail = f"required reviewers {who}" if reviewed and who else "no protection rules"
            changes.append(Change("environment", name, "create", detail,
                                  reviewers=desired.reviewers if reviewed else ()))  # fmt: skip
        elif reviewed and not environment.reviewers and desired.reviewers:
            detail = f"required reviewers {who}"
            changes.append(
                Change("environment", name, "add reviewers", detail, reviewers=desired.reviewers)
            )
    for name, value in desired.variables.items():
        current = observed.variables.get(name)
        if value is None or current == value:
            continue
        if current is None:
            changes.append(Change("variable", name, "create", f"= {value!r}", value=value))
        else:
            changes.append(
                Change("variable", name, "update", f"{current!r} -> {value!r}", value=value)
            )
    return changes


def _protection_change(desired: Desired, observed: Observed) -> Change | None:
    if not observed.branch_exists:
        return None
    current = observed.protection or Protection()
    wanted = (desired.gate_check,) if desired.gate_check else ()
    missing = [c for c in wanted if c not in (current.contexts or ())]
    parts = [f"require check {c!r}" for c in missing]
    if not current.code_owner_reviews:
        parts.append("require code-owner reviews")
    if (current.approvals or 0) < 1:
        parts.append("require 1 approval")
    if not parts:
        return None
    action = "update" if observed.protection else "protect"
    contexts = tuple(dict.fromkeys([*(current.contexts or ()), *wanted]))
    return Change("protection", desired.branch, action, "; ".join(parts), contexts=contexts)


def _protection_findings(desired: Desired, observed: Observed) -> list[Finding]:
    branch = desired.branch
    if not observed.branch_exists:
        return [Finding(f"branch {branch} exists", False, f"{branch} has no commit on GitHub",
                        f"push the first commit to {branch}, then {SETUP}")]  # fmt: skip
    protection = observed.protection
    found = []
    requirement = f"{branch} requires the merge gate's check"
    if desired.gate_check is None:
        found.append(Finding(requirement, False, "no job of a pull-request workflow runs "
                             "`mlops gate`", "add the gate job to .github/workflows/pr.yml, or "
                             "name its check in [tool.mlops.github] gate_check"))  # fmt: skip
    elif protection is None or desired.gate_check not in (protection.contexts or ()):
        state = "is not protected" if protection is None else "does not require it"
        found.append(Finding(requirement, False, f"{branch} {state} ({desired.gate_check!r})",
                             SETUP, by_setup=True))  # fmt: skip
    else:
        found.append(Finding(requirement, True, repr(desired.gate_check), "nothing"))
    requirement = f"{branch} requires code-owner reviews"
    if protection is not None and protection.code_owner_reviews and (protection.approvals or 0):
        found.append(Finding(requirement, True, f"{protection.approvals} approval(s)", "nothing"))
    else:
        state = "is not protected" if protection is None else "does not require them"
        found.append(Finding(requirement, False, f"{branch} {state}", SETUP, by_setup=True))
    return found


def _environment_findings(desired: Desired, observed: Observed) -> list[Finding]:
    found = []
    for name in desired.environments:
        environment = observed.environments.get(name)
        reviewed = name in desired.reviewed
        requirement = f"environment {name}" + (" with required reviewers" if reviewed else "")
        if environment is None:
            found.append(Finding(requirement, False, "missing", SETUP, by_setup=True))
        elif reviewed and not environment.reviewers:
            fix = SETUP if desired.reviewers else "name reviewers in [tool.mlops.github]"
            found.append(Finding(requirement, False, "no required reviewers", fix,
                                 by_setup=bool(desired.reviewers)))  # fmt: skip
        else:
            detail = ", ".join(environment.reviewers) if reviewed else "exists"
            found.append(Finding(requirement, True, detail, "nothing"))
    return found


def _variable_findings(desired: Desired, observed: Observed) -> list[Finding]:
    found = []
    for name, value in desired.variables.items():
        current = observed.variables.get(name)
        requirement = f"variable {name}"
        if value is not None and current != value:
            state = "missing" if current is None else f"is {current!r}"
            found.append(Finding(requirement, False, f"{state}; configured {value!r}", SETUP,
                                 by_setup=True))  # fmt: skip
        elif current is None and name in desired.optional:
            found.append(_unset_optional(requirement, f"gh variable set {name}"))
        elif current is None:
            found.append(Finding(requirement, False, "missing",
                                 f"a person sets it: `gh variable set {name}`, or give its "
                                 f"value in [tool.mlops.github.variables]"))  # fmt: skip
        else:
            found.append(Finding(requirement, True, f"= {current!r}", "nothing"))
    return found


def _secret_findings(desired: Desired, observed: Observed) -> list[Finding]:
    found = []
    for name in desired.secrets:
        requirement = f"secret {name}"
        if name in observed.secrets:
            found.append(Finding(requirement, True, "set", "nothing"))
        elif name in desired.optional:
            found.append(_unset_optional(requirement, f"gh secret set {name}"))
        else:
            found.append(Finding(requirement, False, "missing",
                                 f"a person sets it: `gh secret set {name}`"))  # fmt: skip
    return found


def _unset_optional(requirement: str, command: str) -> Finding:
    return Finding(requirement, None, "not set (optional: the workflows fall back to defaults)",
                   f"only if this site uses it: `{command}`", required=False)  # fmt: skip


def _runner_findings(desired: Desired, observed: Observed) -> list[Finding]:
    found = []
    for need in desired.runners:
        jobs = ", ".join(need.jobs)
        labels, source = _labels(need, desired, observed)
        if labels is None:
            found.append(Finding(f"runner for {jobs}", None, f"not checked: {source}",
                                 f"set variable {need.variable}", required=False))  # fmt: skip
            continue
        shown = ", ".join(labels)
        requirement = f"online self-hosted runner labelled {shown}"
        if len(labels) == 1 and is_hosted_label(labels[0]):
            found.append(Finding(requirement, None, f"not needed: {jobs} run on GitHub-hosted "
                                 f"{labels[0]} ({source})", "nothing", required=False))  # fmt: skip
            continue
        wanted = {label.lower() for label in labels}
        fitting = [r for r in observed.runners if wanted <= {x.lower() for x in r.labels}]
        online = [r.name for r in fitting if r.online]
        if online:
            found.append(Finding(requirement, True, ", ".join(online), "nothing"))
        else:
            state = "offline: " + ", ".join(r.name for r in fitting) if fitting else "none"
            found.append(Finding(requirement, False, f"{state} (for {jobs}; {source})",
                                 f"register a self-hosted runner labelled {shown} on the "
                                 "serving host and start it"))  # fmt: skip
    return found


def _labels(
    need: RunnerNeed, desired: Desired, observed: Observed
) -> tuple[tuple[str, ...] | None, str]:
    if desired.runner_label:
        return (desired.runner_label,), "[tool.mlops.github] deploy_runner"
    if need.variable is None:
        return need.labels, "runs-on"
    value = desired.variables.get(need.variable) or observed.variables.get(need.variable)
    if value:
        return (value,), f"variable {need.variable}"
    return None, f"variable {need.variable} is not set"
