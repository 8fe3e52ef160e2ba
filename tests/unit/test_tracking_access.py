"""Who should hold what on the tracking server, from the manifests' owners (pure mapping)."""

from __future__ import annotations

import pytest

from mlops.core.batch import EXPERIMENT_PREFIX as BATCH_PREFIX
from mlops.core.tracking_access import (
    EDIT,
    EXPERIMENT,
    MANAGE,
    READ,
    REGISTERED_MODEL,
    Observed,
    Resource,
    desired_grants,
    experiments,
    mlflow_user,
    model_resources,
    plan,
)

BOT = "mlops-bot"
OWNERS = {"fraud": ["@acme/risk", "@alice"], "churn": ["@acme/marketing"]}


def held(observed_users: dict[str, bool], resources: list[Resource],
         permissions: dict[tuple[str, Resource], str], default: str | None = READ) -> Observed:  # fmt: skip
    return Observed(observed_users, frozenset(resources), permissions, default)


@pytest.mark.parametrize(
    ("owner", "user"),
    [("@acme/clinical-ml", "clinical-ml"), ("@alice", "alice"),
     ("ml@example.com", "ml@example.com"), ("clinical-ml", None), ("@a/b/c", None)],
)  # fmt: skip
def test_owners_map_to_mlflow_users_by_name(owner: str, user: str | None) -> None:
    """A team `@org/team` is the MLflow user `team`, a user `@alice` is `alice`, an email
    address is itself; anything else maps to no user."""
    assert mlflow_user(owner) == user


def test_a_models_experiments_are_those_the_platform_logs_to() -> None:
    """Training, batch scoring and monitoring each log to their own experiment."""
    from mlops.flows.costs import TRAINING_PREFIX
    from mlops.flows.monitoring import EXPERIMENT_PREFIX as MONITORING_PREFIX

    assert experiments("fraud") == [
        f"{TRAINING_PREFIX}fraud", f"{BATCH_PREFIX}fraud", f"{MONITORING_PREFIX}fraud"
    ]  # fmt: skip


def test_owners_manage_their_model_and_edit_its_experiments_only() -> None:
    """Each owner gets MANAGE on its registered model and EDIT on its experiments, nothing on
    other models; the service account gets the same on every model."""
    grants = desired_grants(OWNERS, BOT)
    by_user: dict[str, set[tuple[Resource, str]]] = {}
    for grant in grants:
        by_user.setdefault(grant.user, set()).add((grant.resource, grant.permission))
    assert set(by_user) == {"risk", "alice", "marketing", BOT}
    fraud = {(r, MANAGE if r.kind == REGISTERED_MODEL else EDIT) for r in model_resources("fraud")}
    churn = {(r, MANAGE if r.kind == REGISTERED_MODEL else EDIT) for r in model_resources("churn")}
    assert by_user["risk"] == by_user["alice"] == fraud
    assert by_user["marketing"] == churn
    assert by_user[BOT] == fraud | churn
    assert grants == sorted(grants)


def test_an_owner_who_is_also_the_service_account_gets_one_grant_per_resource() -> None:
    """Named twice, a user holds one grant per resource, the higher permission."""
    grants = desired_grants({"fraud": ["@mlops-bot", "@mlops-bot"]}, BOT)
    assert len(grants) == len(model_resources("fraud"))


def test_missing_resources_are_created_first_and_their_grants_planned() -> None:
    """On an empty server everything is created, and every grant of a known user is planned
    with no current permission; an owner with no user is reported with its models instead."""
    grants = desired_grants(OWNERS, BOT)
    result = plan(grants, held({"risk": False, "marketing": False, BOT: False}, [], {}), BOT)
    assert result.create == sorted({g.resource for g in grants})
    assert {c.current for c in result.changes} == {None}
    assert {c.grant.user for c in result.changes} == {"risk", "marketing", BOT}
    assert result.unknown_users == {"alice": ["fraud"]}
    assert result.unchanged == 0 and result.warnings == []


def test_grants_already_held_are_not_planned_again() -> None:
    """A user whose effective permission is the wanted one needs nothing; a different one,
    higher or lower, is set to the wanted permission."""
    grants = desired_grants({"fraud": ["@acme/risk"]}, BOT)
    resources = model_resources("fraud")
    permissions = {(g.user, g.resource): g.permission for g in grants}
    registered = Resource(REGISTERED_MODEL, "fraud")
    training = Resource(EXPERIMENT, "models/fraud")
    permissions[("risk", registered)] = READ
    permissions[("risk", training)] = MANAGE
    result = plan(grants, held({"risk": False, BOT: False}, resources, permissions), BOT)
    assert result.create == []
    assert [(c.grant.resource, c.current, c.grant.permission) for c in result.changes] == [
        (training, MANAGE, EDIT), (registered, READ, MANAGE)
    ]  # fmt: skip
    assert result.unchanged == len(grants) - 2
    settled = plan(grants, held({"risk": False, BOT: False}, resources,
                                {(g.user, g.resource): g.permission for g in grants}), BOT)  # fmt: skip
    assert settled.empty and settled.unchanged == len(grants)


@pytest.mark.parametrize(
    ("default", "says"),
    [("EDIT", "every user can change every model"),
     ("MANAGE", "every user can change every model"),
     ("NO_PERMISSIONS", "teams cannot read the models they do not own"),
     (None, "cannot tell the server's default_permission")],
)  # fmt: skip
def test_a_default_permission_other_than_read_is_a_warning(default: str | None, says: str) -> None:
    """READ is what everyone else should fall back to: another default, or one the server
    does not tell, is named."""
    result = plan([], held({}, [], {}, default), BOT)
    assert len(result.warnings) == 1 and says in result.warnings[0]
    assert plan([], held({}, [], {}, READ), BOT).warnings == []


def test_admins_among_the_users_are_a_warning() -> None:
    """An admin is not limited by grants: the service account or an owner being one is named."""
    grants = desired_grants({"fraud": ["@alice"]}, BOT)
    result = plan(grants, held({"alice": True, BOT: True}, [], {}), BOT)
    assert any(f"service account {BOT!r} is an admin" in w for w in result.warnings)
    assert any(w.endswith("not limited by the grants: alice") for w in result.warnings)
