"""`mlops backup create | verify | restore` on a real embedded MLflow store, its artifacts,
the DVC remote and prediction logs.

One module-scoped site (a checkout and its DVC remote beside it) has breast-cancer trained;
each test works on its own copy. The restore drill at the end trains, deploys on the local
target behind nginx, backs up, destroys everything, restores into a fresh location, and
checks that reconcile finds the aliases as they were and that the same request gets the
same prediction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from deploying import MODEL, promote, require_nginx, router_call, teardown
from support import commit_all, make_repository, run_cli

from mlops.adapters import dvc, probes
from mlops.adapters.backup_archive import ArchiveWriter
from mlops.adapters.backup_stores import swap
from mlops.adapters.settings import load_settings
from mlops.core import backup
from mlops.flows.rollout import smoke_row


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A backup key in MLOPS_BACKUP_KEY, no deployments (aliases only)."""
    key = new_key()
    monkeypatch.setenv("MLOPS_BACKUP_KEY", key)
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")
    return key


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site: `repo` with breast-cancer version 1 trained, and its DVC remote beside it."""
    site = tmp_path_factory.mktemp("backup") / "site"
    root = make_repository(site / "repo", (MODEL,))
    assert run_cli("--repo", root, "train", MODEL) == 0
    return site


@pytest.fixture
def root(trained: Path, tmp_path: Path) -> Path:
    """The test's own copy of the site; its checkout."""
    site = tmp_path / "site"
    shutil.copytree(trained, site, symlinks=True)
    return site / "repo"


def create(cli, root: Path, *args: str) -> Path:
    result = cli("--repo", root, "backup", "create", "--json", *args)
    assert result.code == 0, result.err
    return Path(json.loads(result.out)["archive"])


def verify(cli, root: Path, archive: Path) -> tuple[int, dict]:
    result = cli("--repo", root, "backup", "verify", "--json", archive)
    return result.code, json.loads(result.out)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def registry(root: Path) -> Any:
    """A client of the checkout's store (both URIs: training in this process set the
    registry's globally)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / '.mlops' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def tag_version(root: Path, value: str) -> None:
    registry(root).set_model_version_tag(MODEL, "1", "note", value)


def version_note(root: Path) -> str | None:
    return registry(root).get_model_version(MODEL, "1").tags.get("note")


def test_a_backup_holds_every_component_encrypted_and_verifies(root: Path, cli) -> None:
    """The archive lands beside the checkout with its checksum file; it holds the store,
    the artifacts and the DVC remote's files, none of them readable as they were, and
    verify finds it intact."""
    archive = create(cli, root)
    assert archive.parent == root.parent / "mlops-backups"
    assert archive.name.startswith("mlops-backup-") and archive.suffix == ".mlopsbak"
    checksum = archive.with_name(archive.name + ".sha256").read_text()
    assert checksum == f"{digest(archive)}  {archive.name}\n"
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    data = archive.read_bytes()
    assert b"SQLite format 3" not in data and b"breast-cancer" not in data
    code, result = verify(cli, root, archive)
    assert code == 0 and result["ok"] and result["problems"] == []
    assert result["components"] == ["tracking-db", "artifacts", "dvc-remote", "prediction-logs"]
    dvc_files = [p for p in (root.parent / "mlops-dvc-storage").rglob("*") if p.is_file()]
    artifacts = [p for p in (root / ".mlops" / "artifacts").rglob("*") if p.is_file()]
    assert result["members"] == 1 + len(dvc_files) + len(artifacts) and dvc_files
    again = cli("--repo", root, "backup", "verify")  # the newest in the destination
    assert again.code == 0 and "is intact" in again.out


def test_a_flipped_byte_is_detected_and_nothing_is_restored(root: Path, cli) -> None:
    """One byte changed in the middle of the archive: verify exits 1 naming the checksum
    and the chunk that fails authentication; a forced restore refuses and leaves the store
    as it was."""
    archive = create(cli, root)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    code, result = verify(cli, root, archive)
    assert code == 1 and not result["ok"]
    assert "the archive was altered or truncated" in result["problems"][0]
    assert "chunk 0 fails authentication: the archive was altered" in result["problems"][1]
    store = root / ".mlops" / "mlflow.db"
    before = digest(store)
    restored = cli("--repo", root, "backup", "restore", "--apply", "--force", archive)
    assert restored.code == 1
    assert "is damaged" in restored.err and "chunk 0 fails authentication" in restored.err
    assert digest(store) == before
    assert not list(store.parent.glob(".*restoring*"))


def chunk_end(index: int) -> int:
    """Where chunk `index` of an archive with full chunks ends."""
    return backup.HEADER.size + (index + 1) * (backup.LENGTH.size + backup.CHUNK_SIZE + 16)


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda size: size - 100, "truncated: chunk 1 is cut short"),
        (lambda _: chunk_end(0), "truncated: the archive ends after chunk 0, without its"
         " final chunk"),
        (lambda _: 20, "truncated: 20 bytes, shorter than the archive's header"),
    ],
    ids=["inside a chunk", "at a chunk boundary", "inside the header"],
)  # fmt: skip
def test_a_truncated_archive_is_detected_naming_where(root: Path, cli, cut, message) -> None:
    """Cut inside a chunk, at a chunk boundary or inside the header: each is named."""
    archive = create(cli, root)
    data = archive.read_bytes()
    assert len(data) > chunk_end(0)  # the store alone fills more than one chunk
    archive.write_bytes(data[: cut(len(data))])
    result = cli("--repo", root, "backup", "verify", archive)
    assert result.code == 1
    assert message in result.err
    refused = cli("--repo", root, "backup", "restore", archive)
    assert refused.code == 1 and message in refused.err


def test_a_restore_into_a_store_that_is_not_empty_needs_force(root: Path, cli) -> None:
    """Without --force each occupied place is refused, named, and nothing changes; with
    --force the store is the backup's again (a tag set after the backup is gone)."""
    archive = create(cli, root)
    tag_version(root, "after the backup")
    refused = cli("--repo", root, "backup", "restore", "--apply", "--json", archive)
    assert refused.code == 1
    plan = json.loads(refused.out)
    assert plan["applied"] is False
    assert {s["component"]: s["action"] for s in plan["steps"]} == {
        "tracking-db": "refuse", "artifacts": "refuse", "dvc-remote": "refuse",
        "prediction-logs": "restore",
    }  # fmt: skip
    assert "mlflow.db is not empty" in refused.err and "--force" in refused.err
    assert version_note(root) == "after the backup"

    planned = cli("--repo", root, "backup", "restore", "--force", archive)
    assert planned.code == 0 and "replace" in planned.out
    assert version_note(root) == "after the backup"  # a plan changes nothing
    forced = cli("--repo", root, "backup", "restore", "--force", "--apply", archive)
    assert forced.code == 0, forced.err
    assert version_note(root) is None
    assert not list((root / ".mlops").glob(".*"))  # nothing staged or set aside is left


def test_the_key_must_be_set_well_formed_and_the_right_one(
    root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing key and a malformed one stop create before anything is written; an archive
    made with another key is named as such, not as damaged."""
    archive = create(cli, root)
    folder = archive.parent
    monkeypatch.delenv("MLOPS_BACKUP_KEY")
    missing = cli("--repo", root, "backup", "create")
    assert missing.code == 1 and "no backup key: MLOPS_BACKUP_KEY is not set" in missing.err
    monkeypatch.setenv("MLOPS_BACKUP_KEY", "c2hvcnQ=")
    short = cli("--repo", root, "backup", "create")
    assert short.code == 1 and "MLOPS_BACKUP_KEY is 5 bytes, expected 32" in short.err
    monkeypatch.setenv("MLOPS_BACKUP_KEY", "***")
    garbled = cli("--repo", root, "backup", "verify", archive)
    assert garbled.code == 1 and "the backup key in MLOPS_BACKUP_KEY is not base64" in garbled.err
    assert sorted(p.name for p in folder.iterdir()) == [archive.name, archive.name + ".sha256"]
    monkeypatch.setenv("MLOPS_BACKUP_KEY", new_key())
    wrong = cli("--repo", root, "backup", "verify", archive)
    assert wrong.code == 1 and "was encrypted with another key" in wrong.err


def test_the_key_variable_and_destination_come_from_pyproject(
    root: Path, cli, monkeypatch: pytest.MonkeyPatch, _key: str
) -> None:
    """[tool.mlops.backup] names the key's variable and the destination (relative to the
    checkout)."""
    (root / "pyproject.toml").write_text(
        '[tool.mlops.backup]\ndestination = "vault"\nkey_env = "SITE_BACKUP_KEY"\n'
    )
    monkeypatch.delenv("MLOPS_BACKUP_KEY")
    missing = cli("--repo", root, "backup", "create")
    assert missing.code == 1 and "SITE_BACKUP_KEY is not set" in missing.err
    monkeypatch.setenv("SITE_BACKUP_KEY", _key)
    assert create(cli, root).parent == root / "vault"


def test_a_failed_create_leaves_no_archive(tmp_path: Path) -> None:
    """An error while members are added removes the partial file: no archive, no checksum."""
    with pytest.raises(RuntimeError), ArchiveWriter(tmp_path / "x.mlopsbak", os.urandom(32)) as w:
        (tmp_path / "member").write_bytes(b"data")
        w.add_file(tmp_path / "member", backup.ARTIFACTS, "member")
        raise RuntimeError("the disk filled up")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["member"]


def test_a_swap_that_fails_midway_puts_every_target_back(tmp_path: Path) -> None:
    """The first folder is already replaced when the second cannot be: the first is put
    back as it was, and the error names the place."""
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / "old").write_text("before")
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "new").write_text("after")
    with pytest.raises(backup.BackupError, match="everything was left as it was"):
        swap({first: staged, second: tmp_path / "vanished"})
    assert [p.name for p in first.iterdir()] == ["old"]
    assert [p.name for p in second.iterdir()] == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "second"]


def test_a_store_in_use_is_copied_consistently(root: Path, cli) -> None:
    """The store is read through SQLite's backup API while another connection holds an open
    write transaction: the backup has the last committed state and verifies."""
    import sqlite3

    writer = sqlite3.connect(root / ".mlops" / "mlflow.db", isolation_level=None)
    writer.execute("BEGIN")
    writer.execute("UPDATE registered_models SET description = 'uncommitted'")
    try:
        archive = create(cli, root)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert verify(cli, root, archive)[0] == 0


# -- the restore drill ---------------------------------------------------------------------


def request(root: Path, row: dict) -> dict:
    """One prediction through production's nginx port."""
    status, body = router_call(root, "production", f"/{MODEL}/predict", {"rows": [row]})
    assert status == 200, body
    return dict(body)


def logged_requests(root: Path) -> set[str]:
    folder = load_settings(root).prediction_logs
    lines = [json.loads(line) for path in folder.rglob("*.jsonl")
             for line in path.read_text().splitlines() if line.strip()]  # fmt: skip
    return {line["request_id"] for line in lines}


def reconcile(cli, root: Path, *args: str) -> dict:
    result = cli("--repo", root, "reconcile", "--json", *args)
    assert result.code == 0, result.err
    return dict(json.loads(result.out))


@pytest.mark.system
def test_restore_drill_after_losing_everything(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Train, deploy, predict; back up; destroy the checkout, the store, the artifacts, the
    DVC remote and the logs; restore into a fresh location. The old prediction logs are
    back, `dvc pull` gets the training data from the restored remote, reconcile finds the
    aliases as registry.yaml wants them and redeploys from the restored store, the same
    request gets the same prediction, and a second reconcile finds nothing to change."""
    require_nginx()
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "local")
    started = time.monotonic()
    old = make_repository(tmp_path / "old" / "repo", (MODEL,))
    staging, production = probes.free_port(), probes.free_port()
    (old / "pyproject.toml").write_text(
        f"[tool.mlops.deploy]\nports = {{ staging = {staging}, production = {production} }}\n"
        "check_timeout = 90\n"
    )
    assert run_cli("--repo", old, "train", MODEL) == 0
    promote(cli, old, "1", "staging", "production")
    commit_all(old, "promote 1")
    try:
        reconcile(cli, old, "--apply")
        row = smoke_row(old, MODEL)
        before = request(old, row)
        deadline = time.monotonic() + 10  # log lines are written a moment after the answer
        while before["request_id"] not in logged_requests(old) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert before["request_id"] in logged_requests(old)
        vault = tmp_path / "vault"
        archive = create(cli, old, "--to", str(vault))
    finally:
        teardown(old)
    data = digest(old / "models" / MODEL / "data" / "train.csv")
    fresh = tmp_path / "fresh" / "repo"
    subprocess.run(["git", "clone", "-q", str(old), str(fresh)], check=True)
    shutil.rmtree(tmp_path / "old")  # the store, artifacts, DVC remote, logs: all gone
    backed_up = time.monotonic()

    assert verify(cli, fresh, archive)[0] == 0
    restored = cli("--repo", fresh, "backup", "restore", "--apply", "--json", archive)
    assert restored.code == 0, restored.err
    assert json.loads(restored.out)["relocated"] >= 3  # the artifacts now live here
    assert before["request_id"] in logged_requests(fresh)
    dvc.pull(fresh, MODEL)  # the data versions come back from the restored remote
    assert digest(fresh / "models" / MODEL / "data" / "train.csv") == data
    try:
        plan = reconcile(cli, fresh)
        assert plan["actions"] == []  # MLflow aliases are what registry.yaml asks for
        reconcile(cli, fresh, "--apply")
        after = request(fresh, row)
        assert (after["version"], after["predictions"]) == (before["version"],
                                                            before["predictions"])  # fmt: skip
        again = reconcile(cli, fresh)
        assert again["actions"] == [] and [o["steps"] for o in again["deployments"]] == [[], []]
    finally:
        teardown(fresh)
    print(
        f"drill: deploy+backup {backed_up - started:.1f}s, restore+redeploy "
        f"{time.monotonic() - backed_up:.1f}s"
    )


def test_a_malformed_backup_section_is_named(root: Path, cli) -> None:
    """key_env must name an environment variable; the error names the setting."""
    (root / "pyproject.toml").write_text('[tool.mlops.backup]\nkey_env = "not a name"\n')
    result = cli("--repo", root, "backup", "verify")
    assert result.code == 1
    assert "[tool.mlops.backup] key_env = 'not a name'" in result.err
