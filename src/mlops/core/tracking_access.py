"""Least-privilege access on the tracking server, on plain data: who should hold what on each
model's registered model and experiments, and what to change to get there.

A model's owners (`owners` in model.yaml) become MLflow users by name: the team `@org/team` is
the user `team`, the user `@alice` is `alice`, an email address is itself. Owners get MANAGE on
the registered model (register versions, set and remove aliases, grant others) and EDIT on the
model's experiments (log runs). The platform's service account gets what the workflows need on
every model without being an admin: EDIT on the experiments (train, score, monitor) and MANAGE
on the registered model, because MLflow asks for MANAGE to remove an alias (reconcile does).
Everyone else falls back to the server's `default_permission`, which should be READ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops.core.batch import EXPERIMENT_PREFIX as BATCH_PREFIX
from mlops.core.codeowners import owner_kind

SERVICE_ACCOUNT = "mlops-bot"
SERVICE_ACCOUNT_SETTING = "MLOPS_TRACKING_SERVICE_ACCOUNT"
TRAINING_PREFIX = "models/"
MONITORING_PREFIX = "monitor/"  # flows.monitoring writes its runs there
EXPERIMENT_PREFIXES = (TRAINING_PREFIX, BATCH_PREFIX, MONITORING_PREFIX)

READ, EDIT, MANAGE, NO_PERMISSIONS = "READ", "EDIT", "MANAGE", "NO_PERMISSIONS"
EXPECTED_DEFAULT = READ
_RANK = {NO_PERMISSIONS: 0, READ: 1, "USE": 2, EDIT: 3, MANAGE: 4}

ResourceType = Literal["experiment", "registered_model"]
EXPERIMENT: ResourceType = "experiment"
REGISTERED_MODEL: ResourceType = "registered_model"


@dataclass(frozen=True, order=True)
class Resource:
    """A registered model (by model name) or an experiment (by experiment name)."""

    kind: ResourceType
    name: str

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')} {self.name}"


@dataclass(frozen=True, order=True)
class Grant:
    """`user` should hold exactly `permission` on `resource`."""

    resource: Resource
    user: str
    permission: str
    model: str = field(compare=False)


@dataclass(frozen=True)
class Observed:
    """What the server holds: users (name -> is admin), existing experiments and registered
    models, each existing user's effective permission on each existing resource, and the
    server's default permission (None when it cannot be told)."""

    users: Mapping[str, bool]
    resources: frozenset[Resource]
    permissions: Mapping[tuple[str, Resource], str]
    default_permission: str | None


@dataclass(frozen=True)
class Change:
    """A grant to make: `current` is the user's effective permission now (None: the resource
    does not exist yet)."""

    grant: Grant
    current: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"resource_type": self.grant.resource.kind, "resource": self.grant.resource.name,
                "user": self.grant.user, "current": self.current,
                "permission": self.grant.permission}  # fmt: skip


@dataclass
class AccessPlan:
    """The resources to create, the grants to change, the owners who have no user on the
    server (user -> models) and what a person should know."""

    create: list[Resource]
    changes: list[Change]
    unknown_users: dict[str, list[str]]
    warnings: list[str]
    unchanged: int

    @property
    def empty(self) -> bool:
        return not self.create and not self.changes


def mlflow_user(owner: str) -> str | None:
    """The MLflow user an owner maps to: `@org/team` -> `team`, `@alice` -> `alice`, an email
    address -> itself; None for anything else."""
    kind = owner_kind(owner)
    if kind == "team":
        return owner.rsplit("/", 1)[1]
    if kind == "user":
        return owner[1:]
    return owner if kind == "email" else None


def experiments(model: str) -> list[str]:
    """The experiments the platform logs a model's runs to: training, batch, monitoring."""
    return [f"{prefix}{model}" for prefix in EXPERIMENT_PREFIXES]


def model_resources(model: str) -> list[Resource]:
    return [Resource(REGISTERED_MODEL, model),
            *(Resource(EXPERIMENT, name) for name in experiments(model))]  # fmt: skip


def desired_grants(owners: Mapping[str, Sequence[str]], service_account: str) -> list[Grant]:
    """Every grant the manifests call for, sorted; a user named twice on one resource (an
    owner who is also the service account) holds the higher permission."""
    wanted: dict[tuple[Resource, str], Grant] = {}

    def add(grant: Grant) -> None:
        key = (grant.resource, grant.user)
        held = wanted.get(key)
        if held is None or _RANK[grant.permission] > _RANK[held.permission]:
            wanted[key] = grant

    for model in sorted(owners):
        users = [u for u in (mlflow_user(o) for o in owners[model]) if u is not None]
        for user in [*dict.fromkeys(users), service_account]:
            for resource in model_resources(model):
                level = MANAGE if resource.kind == REGISTERED_MODEL else EDIT
                add(Grant(resource, user, level, model))
    return sorted(wanted.values())


def plan(wanted: Sequence[Grant], observed: Observed, service_account: str) -> AccessPlan:
    """What makes the server hold `wanted`: resources to create first, then every grant whose
    user exists and whose effective permission differs (a missing user is reported instead)."""
    needed = sorted({g.resource for g in wanted})
    create = [r for r in needed if r not in observed.resources]
    changes: list[Change] = []
    unknown: dict[str, list[str]] = {}
    unchanged = 0
    for grant in wanted:
        if grant.user not in observed.users:
            models = unknown.setdefault(grant.user, [])
            if grant.model not in models:
                models.append(grant.model)
            continue
        current = observed.permissions.get((grant.user, grant.resource))
        if grant.resource in observed.resources and current == grant.permission:
            unchanged += 1
        else:
            changes.append(Change(grant, current))
    users = {g.user for g in wanted}
    return AccessPlan(create, changes, dict(sorted(unknown.items())),
                      warnings(observed, users, service_account), unchanged)  # fmt: skip


def warnings(observed: Observed, users: set[str], service_account: str) -> list[str]:
    """What undoes least privilege: a default other than READ, admins among the users."""
    found = []
    default = observed.default_permission
    if default is None:
        found.append("cannot tell the server's default_permission: make sure it is "
                     f"{EXPECTED_DEFAULT} in its basic-auth ini file")  # fmt: skip
    elif _RANK.get(default, 0) > _RANK[EXPECTED_DEFAULT]:
        found.append(f"the server's default_permission is {default}: every user can change "
                     f"every model; set default_permission = {EXPECTED_DEFAULT} in its "
                     "basic-auth ini file")  # fmt: skip
    elif default != EXPECTED_DEFAULT:
        found.append(
            f"the server's default_permission is {default}: teams cannot read the "
            f"models they do not own; the platform expects {EXPECTED_DEFAULT}"
        )
    if observed.users.get(service_account):
        found.append(f"the service account {service_account!r} is an admin: it can do anything "
                     "on the server; make it a regular user (the grants give it what the "
                     "workflows need)")  # fmt: skip
    admins = sorted(u for u in users if u != service_account and observed.users.get(u))
    if admins:
        found.append(f"owners who are admins, not limited by the grants: {', '.join(admins)}")
    return found
