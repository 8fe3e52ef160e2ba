"""`mlops permissions [--apply] [--service-account NAME] [--json]`: least-privilege access on
the tracking server (MLflow's basic-auth app), from the manifests' owners.

Each model's owners get MANAGE on its registered model and EDIT on its experiments; the
platform's service account gets what the workflows need on every model; everyone else keeps
the server's default_permission (READ). Missing experiments and registered models are created
first. Owners without a user on the server are listed, never created. A plan by default;
`--apply` makes it, and a second `--apply` has nothing to do. It runs with an admin's
MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.flows.tracking_access import Permissions, permissions
from mlops.output import console, print_json, print_table


@click.command("permissions")
@click.option("--apply", "apply", is_flag=True, help="Make the changes (default: print them).")
@click.option(
    "--service-account",
    metavar="NAME",
    help="The platform's MLflow user (default: MLOPS_TRACKING_SERVICE_ACCOUNT, else mlops-bot).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], apply: bool, service_account: str | None, as_json: bool) -> None:
    """Make the tracking server's permissions match the model owners (a plan unless --apply)."""
    result = permissions(find_root(obj.get("repo")), service_account, apply=apply)
    if as_json:
        print_json(result.to_dict())
    else:
        _show(result)
    err = console(stderr=True, markup=False)
    for user, models in result.plan.unknown_users.items():
        owned = ", ".join(models)
        err.print(f"warning: no user {user!r} on {result.server} (owner of {owned}): an admin "
                  "must create it; its grants wait until then", soft_wrap=True)  # fmt: skip
    for warning in result.plan.warnings:
        err.print(f"warning: {warning}", soft_wrap=True)


def _show(result: Permissions) -> None:
    planned = result.plan
    out = console(markup=False)
    if planned.empty:
        out.print(f"✓ nothing to change: {result.server} grants what the manifests call for "
                  f"({planned.unchanged} grant(s) in place)")  # fmt: skip
        return
    done = "Created" if result.applied else "Plan (run with --apply to make these changes)"
    if planned.create:
        print_table(f"{done}: {result.server}", ("resource", "name"),
                    [(r.kind.replace("_", " "), r.name) for r in planned.create])  # fmt: skip
    if planned.changes:
        title = "Granted" if result.applied else "Grants planned"
        rows = [(str(c.grant.resource), c.grant.user, c.current or "–", c.grant.permission)
                for c in planned.changes]  # fmt: skip
        print_table(f"{title} (service account {result.service_account})",
                    ("resource", "user", "now", "wanted"), rows)  # fmt: skip
