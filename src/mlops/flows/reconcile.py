"""Make the outside world match registry.yaml: each environment's deployments, then the MLflow
aliases, then a GitHub deployment for every environment that moved.

Deployments come first: they need no MLflow import (5 s), so a revert to a standby version
serves again before the aliases, which only label versions, follow. Once traffic may have
moved, nothing that fails later (the tracking store, GitHub) hides it: every later step's
failure is kept in the result, the GitHub deployments are still recorded and the result is
still returned whole; the caller reports the failures.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.adapters import git, tracking
from mlops.adapters.settings import Settings, load_settings
from mlops.core import layout
from mlops.core.progress import QUIET, Reporter
from mlops.core.reconcile import Action, alias_actions
from mlops.core.stages import ENVIRONMENTS
from mlops.errors import InvalidInput, MlopsError, first_line
from mlops.flows import keys, rollout
from mlops.flows.repository import check_repository, registry_models


@dataclass
class Reconciliation:
    """What one reconcile planned, did and failed at."""

    applied: bool
    outcomes: list[rollout.Outcome]
    actions: list[Action] = field(default_factory=list)
    aliases_done: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # steps that failed after traffic moved

    @property
    def problems(self) -> list[str]:
        """Everything that makes the run fail, each naming what it concerns."""
        found = [f"{a.model}: {a.detail}" for a in self.actions if a.blocking]
        found += [failure for o in self.outcomes for failure in o.failures]
        return found + self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "actions": [a.to_dict() for a in self.actions],
            "deployments": [o.to_dict() for o in self.outcomes],
            "notes": self.notes,
            "errors": self.errors,
        }


def reconcile(
    root: Path, environment: str | None, *, apply: bool, repository: str | None,
    progress: Reporter = QUIET,
) -> Reconciliation:  # fmt: skip
    """Plan (and with `apply`, carry out) deployments and aliases for `environment` (None:
    every environment); see the module docstring for what survives a failure. `progress`
    hears of each action as it runs, and of how many are planned."""
    check = check_repository(root)
    errors = [d for d in check.errors() if d.file == layout.REGISTRY]
    if errors or check.registry is None:
        raise InvalidInput(
            f"{layout.REGISTRY} is invalid: nothing was reconciled", diagnostics=errors
        )
    models = registry_models(check)
    settings = load_settings(root)
    publish = apply and settings.deploy.auth and settings.deploy.target != "none"
    progress.expect(2 if publish else 1)  # the keys, and reading the aliases
    if publish:
        with progress.stage("publish the API keys"):
            keys.publish(settings, keys.entries(root, check))  # before any instance starts
    deployments = _deployments(settings, models, environment, apply, progress)
    result = Reconciliation(apply, deployments)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            with progress.stage("MLflow: read the aliases"):
                tracking.connect(settings)
                observed, versions = tracking.aliases_and_versions(sorted(models))
            result.actions = alias_actions(models, observed, versions, environment)
            if apply:
                _apply_aliases(result.actions, result.aliases_done, progress)
    except Exception as exc:  # traffic may have moved: record it whatever failed here
        result.errors.append(f"MLflow aliases not reconciled: {_reason(exc)}")
    if apply:
        try:
            result.notes = _record(settings, result.outcomes, repository, progress)
        except Exception as exc:  # the result must still be returned whole
            result.errors.append(f"GitHub deployments not recorded: {_reason(exc)}")
    return result


def _reason(exc: Exception) -> str:
    """One line for a later step's failure, with our error's hint (which setting to check)."""
    if isinstance(exc, MlopsError):
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    return first_line(exc)


def _apply_aliases(actions: list[Action], done: list[Action], progress: Reporter) -> None:
    changes = [a for a in actions if a.kind in ("set-alias", "remove-alias")]
    progress.expect(len(changes))
    for action in changes:
        if action.kind == "set-alias" and action.version is not None:
            with progress.stage(f"MLflow: {action.model} {action.alias} -> {action.version}"):
                tracking.set_alias(action.model, action.alias, action.version)
        elif action.kind == "remove-alias":
            with progress.stage(f"MLflow: remove {action.model}'s {action.alias} alias"):
                tracking.remove_alias(action.model, action.alias)
        else:
            continue
        done.append(action)


def _deployments(
    settings: Settings, models: Mapping[str, Any], environment: str | None, apply: bool,
    progress: Reporter,
) -> list[rollout.Outcome]:  # fmt: skip
    if settings.deploy.target == "none":
        return []
    target = rollout.make_target(settings, models, progress)
    chosen = [env for env in ENVIRONMENTS if environment in (None, env)]
    if apply:
        return [rollout.apply(settings, target, env, models, progress) for env in chosen]
    progress.expect(len(chosen))
    planned = []
    for env in chosen:
        with progress.stage(f"{env}: plan"):
            planned.append(rollout.planned(settings, target, env, models))
    return planned


def _record(
    settings: Settings, outcomes: list[rollout.Outcome], repository: str | None,
    progress: Reporter,
) -> list[str]:  # fmt: skip
    """A GitHub deployment and status for every environment the run changed or failed."""
    moved = [o for o in outcomes if o.changed or o.failures]
    if not moved:
        return []
    name = repository or os.environ.get("GITHUB_REPOSITORY")
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not name or not token:
        return ["GitHub deployments not recorded: no GITHUB_TOKEN and GITHUB_REPOSITORY"]
    from mlops.adapters.github import GitHub

    github = GitHub(name, token)
    ref = os.environ.get("GITHUB_SHA") or git.head_commit(settings.root)
    notes = []
    progress.expect(len(moved))
    for outcome in moved:
        serving = {m: {f"v{v}": w for v, w in outcome.routes.weights(m).items()}
                   for m in outcome.routes.routes} if outcome.routes else {}  # fmt: skip
        state = "failure" if outcome.failures else "success"
        text = "; ".join(outcome.failures) if outcome.failures else _summary(serving)
        with progress.stage(f"GitHub: record the deployment to {outcome.environment}"):
            number = github.record_deployment(ref, outcome.environment, state, text,
                                              outcome.url, {"models": serving})  # fmt: skip
        notes.append(f"GitHub deployment {number} to {outcome.environment}: {state}")
    return notes


def _summary(serving: Mapping[str, Mapping[str, int]]) -> str:
    parts = [f"{m} " + ", ".join(f"{v} {w}%" for v, w in weights.items())
             for m, weights in sorted(serving.items())]  # fmt: skip
    return "serving " + "; ".join(parts) if parts else "nothing serving"
