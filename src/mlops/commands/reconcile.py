"""`mlops reconcile [--env ENV] [--apply]`: make the outside world match registry.yaml.

Computes desired (registry.yaml) against observed (read from the systems themselves) and
prints the plan; `--apply` carries it out. Two parts:

- each environment's deployments follow the registry's stages (`mlops.flows.rollout`):
  new versions start beside the old ones, pass health and smoke checks, nginx switches, the
  old become the standby or stop. Each environment that changed gets a GitHub deployment
  with its status, when a token and repository are configured;
- MLflow aliases (`staging`, `production`, `canary`) follow the stages too.

Idempotent: a second run right after finds nothing to do. A failed version never takes
traffic; the run then exits 1 naming it.
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.stages import ENVIRONMENTS
from mlops.errors import MlopsError
from mlops.flows.reconcile import Reconciliation, reconcile
from mlops.output import console, print_json, print_table, progress


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
    with progress(not as_json) as reporter:  # each action on stderr, as it runs
        result = reconcile(root, environment, apply=apply, repository=repository,
                           progress=reporter)  # fmt: skip
    if as_json:
        print_json(result.to_dict())
    else:
        _show(result)
    if result.problems:
        raise MlopsError(
            "; ".join(result.problems), hint="the versions that serve now keep serving"
        )


def _show(result: Reconciliation) -> None:
    actions, apply, done = result.actions, result.applied, result.aliases_done
    title = "Reconciled" if apply else "Plan (run with --apply to carry it out)"
    if actions:
        rows = [(a.model, a.kind, a.alias, a.detail) for a in actions]
        print_table(f"{title}: MLflow aliases", ("model", "action", "alias", "change"), rows)
    elif not result.errors:
        console().print("✓ MLflow aliases match registry.yaml")
    for outcome in result.outcomes:
        steps = outcome.done if apply else outcome.steps
        if steps:
            rows = [(s.model, s.kind, s.version or "", s.detail) for s in steps]
            print_table(f"{title}: {outcome.environment} ({outcome.url})",
                        ("model", "action", "version", "detail"), rows)  # fmt: skip
        elif not outcome.failures:
            console().print(f"✓ {outcome.environment} serves what registry.yaml asks for")
        if outcome.ca:  # clients call the router over HTTPS and verify it with this CA
            console().print(f"  {outcome.url} (CA: {outcome.ca})", soft_wrap=True)
        for failure in outcome.failures:
            console().print(f"✗ {failure}")
    for line in result.notes + [f"✗ {e}" for e in result.errors]:
        console().print(line)
    if apply and done:
        console().print(f"{len(done)} alias action(s) applied")
