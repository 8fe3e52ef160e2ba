"""`mlops backup` with an S3 destination, against a real S3 endpoint (moto's server) on
127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import s3_server, use_test_aws_credentials
from support import make_repository

BUCKET = "backups"


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An S3 client of an endpoint with bucket `backups`, which the AWS variables name (test
    credentials, no developer profile); a backup key; no deployments."""
    use_test_aws_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("MLOPS_BACKUP_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with s3_server() as url:
        import boto3

        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def site(root: Path) -> Path:
    """A checkout whose embedded store holds one row and one artifact (no model needed)."""
    make_repository(root, ())
    (root / ".mlops" / "artifacts" / "models").mkdir(parents=True)
    (root / ".mlops" / "artifacts" / "models" / "MLmodel").write_text("flavors: {}\n")
    with sqlite3.connect(root / ".mlops" / "mlflow.db") as db:
        db.execute("CREATE TABLE runs (id TEXT)")
        db.execute("INSERT INTO runs VALUES ('r1')")
    return root


def test_a_backup_on_s3_is_verified_and_restored(s3: Any, tmp_path: Path, cli) -> None:
    """The archive and its checksum land under the URL's prefix; verify and restore fetch
    the newest one from the configured destination; a tampered object is refused."""
    old = site(tmp_path / "old" / "repo")
    made = cli("--repo", old, "backup", "create", "--to", f"s3://{BUCKET}/site", "--json")
    assert made.code == 0, made.err
    url = json.loads(made.out)["archive"]
    name = url.rsplit("/", 1)[1]
    assert url == f"s3://{BUCKET}/site/{name}" and name.endswith(".mlopsbak")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [f"site/{name}", f"site/{name}.sha256"]

    fresh = make_repository(tmp_path / "fresh" / "repo", ())
    (fresh / "pyproject.toml").write_text(
        f'[tool.mlops.backup]\ndestination = "s3://{BUCKET}/site"\n'
    )
    checked = cli("--repo", fresh, "backup", "verify", "--json")
    assert checked.code == 0, checked.err
    assert json.loads(checked.out)["archive"] == url
    restored = cli("--repo", fresh, "backup", "restore", "--apply")
    assert restored.code == 0, restored.err
    with sqlite3.connect(fresh / ".mlops" / "mlflow.db") as db:
        assert db.execute("SELECT id FROM runs").fetchall() == [("r1",)]
    assert (fresh / ".mlops/artifacts/models/MLmodel").read_text() == "flavors: {}\n"

    data = bytearray(s3.get_object(Bucket=BUCKET, Key=f"site/{name}")["Body"].read())
    data[-5] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key=f"site/{name}", Body=bytes(data))
    tampered = cli("--repo", fresh, "backup", "verify", url)
    assert tampered.code == 1
    assert "fails authentication" in tampered.err and "recorded in" in tampered.err


def test_an_unreachable_bucket_is_named(s3: Any, tmp_path: Path, cli) -> None:
    """A bucket that does not exist fails create with its URL, and leaves nothing behind."""
    old = site(tmp_path / "old" / "repo")
    made = cli("--repo", old, "backup", "create", "--to", "s3://no-such-bucket/x")
    assert made.code == 1
    assert "cannot upload the backup to s3://no-such-bucket/x" in made.err
    assert not (tmp_path / "old" / "mlops-backups").exists()
