"""Server-side encryption of everything the platform writes to S3, requested by
`[tool.mlops.storage] encryption` and checked in the object metadata of a real S3 endpoint
(moto's server) on 127.0.0.1: the DVC remote's objects after training, the MLflow artifacts
a tracking server stores for the run (the server asks for it with MLflow's own
MLFLOW_S3_UPLOAD_EXTRA_ARGS, as docs/compliance.md tells a site to), and a backup's archive.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import mlflow_server, s3_server, use_test_aws_credentials
from support import make_repository

MODEL = "breast-cancer"
SSE = {"ServerSideEncryption": "AES256"}


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """An endpoint with buckets dvc, mlflow and backups; test credentials only."""
    use_test_aws_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("MLOPS_BACKUP_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with s3_server() as url:
        import boto3

        client = boto3.client("s3", endpoint_url=url)
        for bucket in ("dvc", "mlflow", "backups"):
            client.create_bucket(Bucket=bucket)
        yield url, client


def encryption_of(client: Any, bucket: str) -> dict[str, str | None]:
    """Each object of the bucket and the server-side encryption S3 recorded for it."""
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: client.head_object(Bucket=bucket, Key=k).get("ServerSideEncryption") for k in keys}


def test_data_artifacts_and_backups_are_encrypted_at_rest(
    s3: tuple[str, Any], tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every object training wrote to the DVC remote and the artifact store, and both objects
    of a backup, were stored with AES256 server-side encryption."""
    url, client = s3
    server_env = {"MLFLOW_S3_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
                  "AWS_SECRET_ACCESS_KEY": "testing",
                  "MLFLOW_S3_UPLOAD_EXTRA_ARGS": json.dumps(SSE)}  # fmt: skip
    backend = f"sqlite:///{tmp_path / 'server.db'}"
    with mlflow_server(backend, "s3://mlflow/artifacts", log_dir=tmp_path, env=server_env) as at:
        root = make_repository(tmp_path / "repo", (MODEL,))
        (root / "pyproject.toml").write_text(
            f'[tool.mlops]\ntracking_uri = "{at}"\n'
            f'[tool.mlops.data]\nremote = "s3://dvc/store"\nendpoint_url = "{url}"\n'
            '[tool.mlops.storage]\nencryption = "AES256"\n'
        )
        trained = cli("--repo", root, "train", MODEL)
        assert trained.code == 0, trained.err
    data, artifacts = encryption_of(client, "dvc"), encryption_of(client, "mlflow")
    assert len(data) >= 3 and set(data.values()) == {"AES256"}, data  # train, holdout, model
    assert artifacts and set(artifacts.values()) == {"AES256"}, artifacts

    embedded = make_repository(tmp_path / "site", ())
    (embedded / "pyproject.toml").write_text('[tool.mlops.storage]\nencryption = "AES256"\n')
    (embedded / ".mlops" / "artifacts").mkdir(parents=True)
    (embedded / ".mlops" / "artifacts" / "MLmodel").write_text("flavors: {}\n")
    with sqlite3.connect(embedded / ".mlops" / "mlflow.db") as db:
        db.execute("CREATE TABLE runs (id TEXT)")
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    made = cli("--repo", embedded, "backup", "create", "--to", "s3://backups/site")
    assert made.code == 0, made.err
    backups = encryption_of(client, "backups")
    assert len(backups) == 2 and set(backups.values()) == {"AES256"}, backups


def test_an_unknown_encryption_or_a_kms_key_without_kms_is_refused(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before anything is written, with the setting and what is expected."""
    root = make_repository(tmp_path / "repo", (MODEL,))
    (root / "pyproject.toml").write_text('[tool.mlops.storage]\nencryption = "rot13"\n')
    bad = cli("--repo", root, "reconcile")
    assert bad.code == 1 and "encryption = 'rot13'" in bad.err and "AES256 or aws:kms" in bad.err
    (root / "pyproject.toml").write_text('[tool.mlops.storage]\nkms_key_id = "alias/x"\n')
    lonely = cli("--repo", root, "reconcile")
    assert lonely.code == 1 and "kms_key_id is set without encryption" in lonely.err
