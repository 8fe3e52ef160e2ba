"""`mlops permissions`: the tracking server's permissions made to match the manifests' owners.

The manifests say who owns what (`core.tracking_access` turns that into grants); the server
says what it holds (`adapters.tracking_access`). Missing experiments and registered models are
created first, so that grants exist before the first training; users are never created (that
needs passwords), only reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters import tracking
from mlops.adapters.settings import load_settings
from mlops.adapters.tracking_access import AccessServer
from mlops.core import layout
from mlops.core.tracking_access import (
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_SETTING,
    AccessPlan,
    desired_grants,
    plan,
)
from mlops.errors import InvalidInput, MlopsError
from mlops.flows.repository import check_repository


@dataclass
class Permissions:
    """The plan for one server (carried out when `applied`)."""

    server: str
    service_account: str
    plan: AccessPlan
    applied: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "service_account": self.service_account,
            "applied": self.applied,
            "create": [{"resource_type": r.kind, "resource": r.name} for r in self.plan.create],
            "changes": [c.to_dict() for c in self.plan.changes],
            "unchanged": self.plan.unchanged,
            "unknown_users": self.plan.unknown_users,
            "warnings": self.plan.warnings,
        }


def model_owners(root: Path) -> dict[str, list[str]]:
    """Each model's owners; InvalidInput when a manifest has errors (nothing is changed)."""
    check = check_repository(root)
    problems = [d for d in check.errors() if d.file.startswith(f"{layout.MODELS_DIR}/")]
    if problems:
        raise InvalidInput(
            f"{problems[0].file} is invalid: no permission was changed",
            hint="fix it first: `mlops validate`",
            diagnostics=problems,
        )
    owners: dict[str, list[str]] = {}
    for name, document in sorted(check.manifests.items()):
        found = document.get(("owners",), [])
        owners[name] = [o for o in found if isinstance(o, str)] if isinstance(found, list) else []
    return owners


def service_account_name(given: str | None) -> str:
    """--service-account, else MLOPS_TRACKING_SERVICE_ACCOUNT, else `mlops-bot`."""
    return given or os.environ.get(SERVICE_ACCOUNT_SETTING) or SERVICE_ACCOUNT


def permissions(
    root: Path, service_account: str | None = None, *, apply: bool = False
) -> Permissions:
    """Plan (and with `apply`, make) the grants the manifests call for. After applying, the
    server is read again: a grant it does not hold as planned is an error."""
    settings = load_settings(root)
    uri = settings.tracking_uri
    if not uri.startswith(("http://", "https://")):
        raise MlopsError(
            f"the tracking store {tracking.public_uri(uri)} is a local file: it has no users "
            "or permissions",
            hint="point MLFLOW_TRACKING_URI at the tracking server (`mlflow server "
            "--app-name basic-auth`)",
        )
    account = service_account_name(service_account)
    wanted = desired_grants(model_owners(root), account)
    tracking.connect(settings)
    server = AccessServer(uri)
    users = {g.user for g in wanted}
    resources = {g.resource for g in wanted}
    planned = plan(wanted, server.observe(users, resources), account)
    if apply and not planned.empty:
        for resource in planned.create:
            server.create(resource)
        for change in planned.changes:
            server.grant(change.grant.user, change.grant.resource, change.grant.permission)
        left = plan(wanted, server.observe(users, resources), account).changes
        if left:
            shown = "; ".join(f"{c.grant.user} holds {c.current} on the {c.grant.resource}, "
                              f"not {c.grant.permission}" for c in left)  # fmt: skip
            raise MlopsError(
                f"the tracking server did not keep every grant: {shown}",
                hint="a wildcard grant or a role gives these users more; remove it on the server",
            )
    return Permissions(tracking.public_uri(uri), account, planned, apply)
