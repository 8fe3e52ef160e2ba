"""`mlops reconcile [--env ENV] [--apply]`: make the outside world match registry.yaml.

Computes desired (registry.yaml) against observed (read from the systems themselves) and
prints the plan; `--apply` carries it out. Two parts:

- each environment's deployments follow the registry's stages (`mlops.commands.rollout`):
  new versions start beside the old ones, pass health and smoke checks, nginx switches, the
  old become the standby or stop. Each environment that changed gets a GitHub deployment
  with its status, when a token and repository are configured;
- MLflow aliases (`staging`, `production`, `canary`) follow the stages too.

Idempotent: a second run right after finds nothing to do. A failed version never takes
traffic; the run then exits 1 naming it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

from mlops.adapters import git, tracking
from mlops.adapters.repository import find_root
from mlops.adapters.settings import Settings, load_settings
from mlops.commands import rollout
from mlops.commands.validate import check_repository
from mlops.core import layout
from mlops.core.deploy import ENVIRONMENTS
from mlops.core.reconcile import Action, alias_actions
from mlops.errors import InvalidInput, MlopsError
from mlops.output import console, print_json, print_table


@click.command("reconcile")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS),
              help="Only this environment (default: both).")  # fmt: skip
@click.option("--apply", "apply", is_flag=True, help="Carry the plan out (default: print it).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--repository", help="OWNER/NAME for deployments (default: GITHUB_REPOSITORY).")
@click.pass_obj
def command(
    obj: dict[str, Any], environment: str | None, apply: bool, as_json: bool,
    repository: str | None,
) -> None:  # fmt: skip
    """Plan (and with --apply, make) aliases and deployments match registry.yaml."""
    root = find_root(obj.get("repo"))
    check = check_repository(root)
    errors = [d for d in check.diagnostics if d.severity == "error" and d.file == layout.REGISTRY]
    if errors or check.registry is None:
        for problem in errors:
            click.echo(problem.render(), err=True)
        raise InvalidInput(f"{layout.REGISTRY} is invalid: nothing was reconciled")
    models = check.registry.data.get("models") or {}
    settings = load_settings(root)
    # Deployments first: they need no MLflow import (5 s), so a revert to a standby version
    # serves again before the aliases, which only label versions, follow.
    outcomes = _deployments(settings, models, environment, apply)
    with contextlib.redirect_stdout(sys.stderr):
        tracking.connect(settings)
        observed, versions = tracking.aliases_and_versions(sorted(models))
    actions = alias_actions(models, observed, versions, environment)
    done = _apply_aliases(actions) if apply else []
    notes = _record(settings, outcomes, repository) if apply else []
    if as_json:
        print_json({"applied": apply, "actions": [a.to_dict() for a in actions],
                    "deployments": [o.to_dict() for o in outcomes], "notes": notes})  # fmt: skip
    else:
        _show(actions, apply, done, outcomes, notes)
    problems = [f"{a.model}: {a.detail}" for a in actions if a.blocking]
    problems += [failure for o in outcomes for failure in o.failures]
    if problems:
        raise MlopsError("; ".join(problems), hint="the versions that serve now keep serving")


def _apply_aliases(actions: list[Action]) -> list[Action]:
    done = []
    for action in actions:
        if action.kind == "set-alias" and action.version is not None:
            tracking.set_alias(action.model, action.alias, action.version)
        elif action.kind == "remove-alias":
            tracking.remove_alias(action.model, action.alias)
        else:
            continue
        done.append(action)
    return done


def _deployments(
    settings: Settings, models: Mapping[str, Any], environment: str | None, apply: bool
) -> list[rollout.Outcome]:
    if settings.deploy.target == "none":
        return []
    target = rollout.make_target(settings, models)
    outcomes = []
    for env in ENVIRONMENTS:
        if environment not in (None, env):
            continue
        run = rollout.apply if apply else rollout.planned
        outcomes.append(run(settings, target, env, models))
    return outcomes


def _record(
    settings: Settings, outcomes: list[rollout.Outcome], repository: str | None
) -> list[str]:
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
    for outcome in moved:
        serving = {m: {f"v{v}": w for v, w in outcome.routes.weights(m).items()}
                   for m in outcome.routes.routes} if outcome.routes else {}  # fmt: skip
        state = "failure" if outcome.failures else "success"
        text = "; ".join(outcome.failures) if outcome.failures else _summary(serving)
        number = github.record_deployment(ref, outcome.environment, state, text, outcome.url,
                                          {"models": serving})  # fmt: skip
        notes.append(f"GitHub deployment {number} to {outcome.environment}: {state}")
    return notes


def _summary(serving: Mapping[str, Mapping[str, int]]) -> str:
    parts = [f"{m} " + ", ".join(f"{v} {w}%" for v, w in weights.items())
             for m, weights in sorted(serving.items())]  # fmt: skip
    return "serving " + "; ".join(parts) if parts else "nothing serving"


def _show(
    actions: list[Action], apply: bool, done: list[Action],
    outcomes: list[rollout.Outcome], notes: list[str],
) -> None:  # fmt: skip
    title = "Reconciled" if apply else "Plan (run with --apply to carry it out)"
    if actions:
        rows = [(a.model, a.kind, a.alias, a.detail) for a in actions]
        print_table(f"{title}: MLflow aliases", ("model", "action", "alias", "change"), rows)
    else:
        console().print("✓ MLflow aliases match registry.yaml")
    for outcome in outcomes:
        steps = outcome.done if apply else outcome.steps
        if steps:
            rows = [(s.model, s.kind, s.version or "", s.detail) for s in steps]
            print_table(f"{title}: {outcome.environment} ({outcome.url})",
                        ("model", "action", "version", "detail"), rows)  # fmt: skip
        elif not outcome.failures:
            console().print(f"✓ {outcome.environment} serves what registry.yaml asks for")
        for failure in outcome.failures:
            console().print(f"✗ {failure}")
    for note in notes:
        console().print(note)
    if apply and done:
        console().print(f"{len(done)} alias action(s) applied")
