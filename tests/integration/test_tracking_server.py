"""Training against a real MLflow tracking server backed by a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import mlflow_server, postgres, postgres_bin
from support import make_repository, require_system

pytestmark = pytest.mark.system  # PostgreSQL


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """PostgreSQL in a temporary folder, and `mlflow server` on it, both on 127.0.0.1."""
    require_system("PostgreSQL", postgres_bin() is not None)
    workdir = tmp_path_factory.mktemp("tracking")
    with postgres() as database:
        artifacts = workdir / "artifacts"
        artifacts.mkdir()
        with mlflow_server(database, artifacts) as url:
            yield url


def test_train_and_predict_against_the_server(
    server: str, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLFLOW_TRACKING_URI switches to the server: the version lands there, not locally."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    root = make_repository(tmp_path / "repo", ("breast-cancer",))
    result = cli("--repo", root, "train", "breast-cancer", "--json")
    assert result.code == 0, result.out + result.err
    (outcome,) = json.loads(result.out)["results"]
    assert (outcome["version"], outcome["reused"]) == ("1", False)
    assert not (root / ".mlops" / "mlflow.db").exists()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    version = client.get_model_version("breast-cancer", "1")
    assert (
        len(version.tags["artifact_sha256"]) == 64 and version.tags["run_id"] == outcome["run_id"]
    )
    run = client.get_run(outcome["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")

    rows = root / "models/breast-cancer/data/holdout.csv"
    predicted = cli("--repo", root, "predict", "breast-cancer", "--version", "1", "--input", rows)
    assert predicted.code == 0, predicted.err
    assert len(predicted.out.splitlines()) == 144
