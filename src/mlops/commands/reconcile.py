"""`mlops reconcile [--env ENV] [--apply]`: make the outside world match registry.yaml.

Computes desired (registry.yaml) against observed (read from the systems themselves) and
prints the plan; `--apply` carries it out. Idempotent: a second run right after finds nothing
to do. Today it reconciles MLflow aliases (`staging`, `production`, `canary`) with the
registry's stages; deployments follow the same plan-then-apply shape.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from mlops.adapters import tracking
from mlops.adapters.repository import find_root
from mlops.adapters.settings import load_settings
from mlops.commands.validate import check_repository
from mlops.core import layout
from mlops.core.reconcile import Action, alias_actions
from mlops.errors import InvalidInput, MlopsError
from mlops.output import console, print_json, print_table


@click.command("reconcile")
@click.option("--env", "environment", type=click.Choice(["staging", "production"]),
              help="Only this environment (default: both).")  # fmt: skip
@click.option("--apply", "apply", is_flag=True, help="Carry the plan out (default: print it).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], environment: str | None, apply: bool, as_json: bool) -> None:
    """Plan (and with --apply, make) MLflow aliases match registry.yaml's stages."""
    root = find_root(obj.get("repo"))
    check = check_repository(root)
    errors = [d for d in check.diagnostics if d.severity == "error" and d.file == layout.REGISTRY]
    if errors or check.registry is None:
        for problem in errors:
            click.echo(problem.render(), err=True)
        raise InvalidInput(f"{layout.REGISTRY} is invalid: nothing was reconciled")
    models = check.registry.data.get("models") or {}
    with contextlib.redirect_stdout(sys.stderr):
        tracking.connect(load_settings(root))
        observed, versions = tracking.aliases_and_versions(sorted(models))
    actions = alias_actions(models, observed, versions, environment)
    done = _apply(actions) if apply else []
    if as_json:
        print_json({"applied": apply, "actions": [a.to_dict() for a in actions]})
    else:
        _show(actions, apply, done)
    blocked = [a for a in actions if a.blocking]
    if blocked:
        raise MlopsError("; ".join(f"{a.model}: {a.detail}" for a in blocked))


def _apply(actions: list[Action]) -> list[Action]:
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


def _show(actions: list[Action], apply: bool, done: list[Action]) -> None:
    if not actions:
        console().print("✓ MLflow aliases match registry.yaml: nothing to do")
        return
    rows = [(a.model, a.kind, a.alias, a.detail) for a in actions]
    title = "Reconciled" if apply else "Plan (run with --apply to carry it out)"
    print_table(title, ("model", "action", "alias", "change"), rows)
    if apply:
        console().print(f"{len(done)} action(s) applied")
