"""Least-privilege access on a real tracking server running MLflow's basic-auth app (default
permission READ): `mlops permissions` lets each model's owning team change its own model only,
and gives the platform's service account what the workflows need, without making it an admin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servers import basic_auth_mlflow_server
from support import make_repository

ADMIN, PASSWORD = "admin", "a-long-admin-password"
CLINICAL, PROCUREMENT, BOT = "clinical-ml", "procurement-analytics", "mlops-bot"
USER_PASSWORD = "a-long-user-password"
OWN, OTHER = "breast-cancer", "fuel-efficiency"  # owned by @acme/clinical-ml and procurement


@dataclass
class Granted:
    root: Path
    plan: dict[str, Any]
    models_after_plan: list[str]
    applied: dict[str, Any]


@contextmanager
def signed_in(server: str, user: str, password: str = USER_PASSWORD) -> Iterator[Any]:
    """An MlflowClient whose requests carry `user`'s credentials (MLflow reads them from the
    environment on every request)."""
    from mlflow import MlflowClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", user)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        yield MlflowClient(tracking_uri=server, registry_uri=server)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("permissions")
    with basic_auth_mlflow_server(workdir, ADMIN, PASSWORD) as url:
        yield url


@pytest.fixture(scope="module")
def granted(server: str, tmp_path_factory: pytest.TempPathFactory) -> Granted:
    """Two teams and the service account have users (the owner @mchen has none); the plan is
    read, then applied, as the admin."""
    from mlflow.server.auth.client import AuthServiceClient

    from mlops.flows.tracking_access import permissions

    root = make_repository(tmp_path_factory.mktemp("repo") / "repo", (OWN, OTHER))
    with signed_in(server, ADMIN, PASSWORD) as admin:
        users = AuthServiceClient(server)
        for user in (CLINICAL, PROCUREMENT, BOT):
            users.create_user(user, USER_PASSWORD)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", server)
            patch.delenv(SERVICE_SETTING, raising=False)
            planned = permissions(root).to_dict()
            models = [m.name for m in admin.search_registered_models()]
            applied = permissions(root, apply=True).to_dict()
    return Granted(root, planned, models, applied)


SERVICE_SETTING = "MLOPS_TRACKING_SERVICE_ACCOUNT"


def logged_run(client: Any, model: str) -> Any:
    """A finished run with a model folder in `model`'s training experiment, as the client's
    user."""
    experiment = client.get_experiment_by_name(f"models/{model}").experiment_id
    run = client.create_run(experiment)
    client.log_text(run.info.run_id, "a model", "model/README.txt")
    client.set_terminated(run.info.run_id)
    return run


def register_version(client: Any, model: str, run: Any = None) -> str:
    """A version of `model` from `run` (default: a fresh run of its own), as the client's user."""
    run = run or logged_run(client, model)
    version = client.create_model_version(model, f"{run.info.artifact_uri}/model",
                                          run_id=run.info.run_id)  # fmt: skip
    return str(version.version)


def refused(call: Any, *args: Any) -> bool:
    """Whether the server refuses the call with 403."""
    from mlflow.exceptions import MlflowException

    try:
        call(*args)
    except MlflowException as exc:
        return exc.get_http_status_code() == 403 or "403" in str(exc)
    return False


def test_the_plan_changes_nothing_and_apply_creates_then_grants(granted: Granted) -> None:
    """Without --apply nothing is created; the plan lists every registered model and
    experiment to create, MANAGE on each registered model and EDIT on each experiment for its
    team and for the service account, and the owner who has no user; --apply makes exactly
    that plan."""
    plan = granted.plan
    assert granted.models_after_plan == []
    assert plan["applied"] is False and plan["service_account"] == BOT
    created = {(c["resource_type"], c["resource"]) for c in plan["create"]}
    assert created == {
        *(("registered_model", m) for m in (OWN, OTHER)),
        *(("experiment", f"{p}/{m}") for p in ("models", "batch", "monitor") for m in (OWN, OTHER)),
    }
    grants = {(c["user"], c["resource"], c["permission"]) for c in plan["changes"]}
    assert (CLINICAL, OWN, "MANAGE") in grants and (CLINICAL, f"models/{OWN}", "EDIT") in grants
    assert (PROCUREMENT, OTHER, "MANAGE") in grants
    assert (BOT, OWN, "MANAGE") in grants and (BOT, f"batch/{OTHER}", "EDIT") in grants
    assert not [g for g in grants if g[0] == CLINICAL and OTHER in g[1]]
    assert not [g for g in grants if g[0] == PROCUREMENT and OWN in g[1]]
    assert len(grants) == 2 * 4 + 4 + 4  # the bot on both models, each team on its own
    assert plan["unknown_users"] == {"mchen": [OWN]}
    assert plan["warnings"] == []
    assert granted.applied["applied"] is True
    assert granted.applied["changes"] == plan["changes"]


def test_a_second_apply_changes_nothing_and_names_the_missing_user(
    granted: Granted, server: str, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run again, --apply has nothing to create or grant and says so, and still names the
    owner who has no user on the server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    again = cli("--repo", granted.root, "permissions", "--apply", "--json")
    assert again.code == 0, again.err
    result = json.loads(again.out)
    assert (result["create"], result["changes"], result["unchanged"]) == ([], [], 16)
    text = cli("--repo", granted.root, "permissions", "--apply")
    assert text.code == 0, text.err
    assert "nothing to change" in text.out
    assert "no user 'mchen'" in text.err and OWN in text.err


def test_the_owning_team_trains_and_promotes_its_own_model(
    granted: Granted, server: str, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With its own credentials the team trains its model (`mlops train` logs the run and
    registers a version) and moves an alias to that version."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", CLINICAL)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", USER_PASSWORD)
    trained = cli("--repo", granted.root, "train", OWN, "--json")
    assert trained.code == 0, trained.err
    version = json.loads(trained.out)["results"][0]["version"]
    with signed_in(server, CLINICAL) as team:
        team.set_registered_model_alias(OWN, "staging", version)
        assert team.get_registered_model(OWN).aliases["staging"] == version


def test_a_team_reads_but_cannot_change_another_teams_model(granted: Granted, server: str) -> None:
    """The other team's model: its owners register a version and set an alias; the first
    team is refused (403) registering a run of its own as a version, setting an alias and
    logging a run there, while it still reads the model, the version and the experiment."""
    with signed_in(server, PROCUREMENT) as owners:
        version = register_version(owners, OTHER)
        owners.set_registered_model_alias(OTHER, "staging", version)
    with signed_in(server, CLINICAL) as team:
        assert refused(register_version, team, OTHER, logged_run(team, OWN))
        assert refused(team.set_registered_model_alias, OTHER, "production", version)
        experiment = team.get_experiment_by_name(f"models/{OTHER}").experiment_id
        assert refused(team.create_run, experiment)
        assert team.get_registered_model(OTHER).aliases == {"staging": version}
        assert team.get_model_version(OTHER, version).version == version
        assert team.search_runs([experiment]) != []


def test_the_service_account_trains_and_moves_aliases_on_every_model(
    granted: Granted, server: str, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service account trains with `mlops train`, registers versions of every model and
    sets and removes their aliases (as reconcile does), yet it is no admin: the server
    refuses it the user list's changes."""
    from mlflow.server.auth.client import AuthServiceClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", BOT)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", USER_PASSWORD)
    trained = cli("--repo", granted.root, "train", OWN, "--json")
    assert trained.code == 0, trained.err
    versions = {OWN: json.loads(trained.out)["results"][0]["version"]}
    with signed_in(server, BOT) as bot:
        versions[OTHER] = register_version(bot, OTHER)
        for model, version in versions.items():
            bot.set_registered_model_alias(model, "production", version)
            assert bot.get_registered_model(model).aliases["production"] == version
            bot.delete_registered_model_alias(model, "production")
            assert "production" not in bot.get_registered_model(model).aliases
        assert refused(AuthServiceClient(server).create_user, "intruder", USER_PASSWORD)


def test_a_plan_for_a_new_model_creates_nothing(
    server: str, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan (no --apply) lists the new model's registered model and experiments and its
    grants, as a table, and leaves the server as it was."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    monkeypatch.setenv(SERVICE_SETTING, PROCUREMENT)
    root = make_repository(tmp_path / "repo", ("disease-progression",))
    planned = cli("--repo", root, "permissions")
    assert planned.code == 0, planned.err
    assert "Plan (run with --apply" in planned.out
    assert "disease-progression" in planned.out and PROCUREMENT in planned.out
    assert "no user 'care-analytics'" in planned.err and "no user 'ljulia'" in planned.err
    with signed_in(server, ADMIN, PASSWORD) as admin:
        assert admin.get_experiment_by_name("models/disease-progression") is None
        assert "disease-progression" not in [m.name for m in admin.search_registered_models()]


@pytest.mark.parametrize(
    ("user", "password", "says"),
    [
        (ADMIN, "wrong", "failed to read the admin user"),
        (CLINICAL, USER_PASSWORD, f"'{CLINICAL}' (MLFLOW_TRACKING_USERNAME) is not an admin"),
    ],
)
def test_credentials_that_are_not_an_admins_are_one_clear_error(
    granted: Granted, server: str, cli, monkeypatch: pytest.MonkeyPatch,
    user: str, password: str, says: str,
) -> None:  # fmt: skip
    """A wrong password, or a user who is not an admin: one error line naming the server and
    the credential settings, exit 1, no traceback."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    result = cli("--repo", granted.root, "permissions", "--apply")
    assert result.code == 1, result.err
    (error,) = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert says in error and server in error
    assert "MLFLOW_TRACKING_USERNAME" in result.err
    assert "Traceback" not in result.err
