"""`mlops backup` of a PostgreSQL tracking store: `pg_dump` in, `psql` out, on a real
server (tests/servers.py starts a throwaway cluster on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import postgres, postgres_bin
from support import make_repository, require_system

pytestmark = pytest.mark.system  # PostgreSQL


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    require_system("PostgreSQL", postgres_bin() is not None)
    with postgres("tracking") as url:
        yield url


def psql(url: str, sql: str) -> str:
    done = subprocess.run(["psql", "-X", "-A", "-t", "-d", url, "-c", sql], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def test_a_postgresql_store_is_dumped_and_restored_in_one_transaction(
    database: str, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dump is in the archive; a restore into the database that still holds rows is
    refused without --force; with it the tables are the backup's again; and an empty
    database takes the backup without --force."""
    monkeypatch.setenv("MLOPS_BACKUP_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", database)
    root = make_repository(tmp_path / "repo", ())
    psql(database, "CREATE TABLE runs (id text primary key); INSERT INTO runs VALUES ('r1')")
    made = cli("--repo", root, "backup", "create", "--json")
    assert made.code == 0, made.err
    created = json.loads(made.out)
    assert created["components"][0] == "tracking-dump"
    assert any("artifacts of a PostgreSQL store" in note for note in created["notes"])
    archive = created["archive"]
    assert cli("--repo", root, "backup", "verify", archive).code == 0

    psql(database, "INSERT INTO runs VALUES ('after the backup')")
    refused = cli("--repo", root, "backup", "restore", "--apply", archive)
    assert refused.code == 1 and "is not empty (1 entries)" in refused.err
    assert psql(database, "SELECT count(*) FROM runs") == "2"
    forced = cli("--repo", root, "backup", "restore", "--apply", "--force", archive)
    assert forced.code == 0, forced.err
    assert psql(database, "SELECT id FROM runs") == "r1"

    fresh = database.rsplit("/", 1)[0] + "/fresh"
    psql(database, "CREATE DATABASE fresh")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", fresh)
    into_empty = cli("--repo", root, "backup", "restore", "--apply", archive)
    assert into_empty.code == 0, into_empty.err
    assert "restored" in into_empty.out and psql(fresh, "SELECT id FROM runs") == "r1"
