"""A tracking server that refuses the credentials: MLflow's basic-auth app, on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import basic_auth_mlflow_server
from support import make_repository

MODEL = "breast-cancer"
ADMIN, PASSWORD = "admin", "a-long-admin-password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("auth")
    with basic_auth_mlflow_server(workdir, ADMIN, PASSWORD) as url:
        yield url


def versions(server: str) -> list[str]:
    from mlflow import MlflowClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
        client = MlflowClient(tracking_uri=server, registry_uri=server)
        found = client.search_model_versions(f"name='{MODEL}'")
    return sorted(str(v.version) for v in found)


def test_refused_credentials_are_named_and_nothing_is_registered(
    server: str, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong password: training stops with one line naming the store and the settings that
    hold its credentials, exit 1, and the store holds no version; the right password then
    trains version 1, so the refusal was the credentials'."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    root = make_repository(tmp_path / "repo", (MODEL,))
    refused = cli("--repo", root, "train", MODEL)
    assert refused.code == 1, refused.err
    assert f"the tracking store {server} failed to search the versions of '{MODEL}'" in refused.err
    assert "MLFLOW_TRACKING_USERNAME" in refused.err
    assert "Traceback" not in refused.err
    assert versions(server) == []
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    trained = cli("--repo", root, "train", MODEL, "--json")
    assert trained.code == 0, trained.err
    assert json.loads(trained.out)["results"][0]["version"] == "1"
    assert versions(server) == ["1"]


def test_reconcile_names_the_store_that_refuses_it(
    server: str, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Aliases cannot be read with a wrong password: reconcile prints its result with the error
    naming the store and the credential settings, and exits 1 (never an unexpected crash)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    root = make_repository(tmp_path / "repo", (MODEL,))
    result = cli("--repo", root, "reconcile", "--apply", "--json")
    assert result.code == 1, result.err
    (error,) = json.loads(result.out)["errors"]
    assert error.startswith(
        f"MLflow aliases not reconciled: the tracking store {server} failed to read the aliases"
    )
    assert "check MLFLOW_TRACKING_URI and its credentials" in error
