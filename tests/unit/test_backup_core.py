"""The backup archive's format, its checks and the restore plan, on plain data."""

from __future__ import annotations

import base64
import hashlib

import pytest

from mlops.core import backup
from mlops.core.backup import BackupError, Header, Manifest, Member, Target

KEY = bytes(range(32))
DIGEST = hashlib.sha256(b"x").hexdigest()


def manifest(*members: Member, sources: dict[str, str] | None = None) -> Manifest:
    return Manifest("2026-01-01T00:00:00Z", list(members), sources or {}, "file:///old/artifacts")


def test_a_key_is_base64_of_32_bytes() -> None:
    """A well-formed key reads back as its 32 bytes, surrounding spaces ignored."""
    text = base64.b64encode(KEY).decode()
    assert backup.parse_key(f" {text}\n", "MLOPS_BACKUP_KEY") == KEY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no backup key: MLOPS_BACKUP_KEY is not set"),
        ("", "no backup key: MLOPS_BACKUP_KEY is not set"),
        ("not base64!", "the backup key in MLOPS_BACKUP_KEY is not base64"),
        (base64.b64encode(b"short").decode(), "is 5 bytes, expected 32"),
    ],
)
def test_a_missing_or_malformed_key_is_refused_naming_the_variable(
    text: str | None, message: str
) -> None:
    """It names the variable and what is wrong, and never echoes the value."""
    with pytest.raises(BackupError) as caught:
        backup.parse_key(text, "MLOPS_BACKUP_KEY")
    assert message in caught.value.message
    if text:
        assert text not in caught.value.message


def test_a_key_id_names_a_key_without_revealing_it() -> None:
    assert backup.key_id(KEY) == backup.key_id(bytes(KEY))
    assert backup.key_id(KEY) != backup.key_id(bytes(32))
    assert len(backup.key_id(KEY)) == 8 and KEY[:8] not in backup.key_id(KEY)


def test_the_manifest_round_trips_through_json() -> None:
    written = manifest(Member("mlflow.db", backup.TRACKING_DB, 1, DIGEST),
                       Member("a/b.txt", backup.ARTIFACTS, 1, DIGEST),
                       sources={backup.TRACKING_DB: "/x/mlflow.db"})  # fmt: skip
    read = backup.parse_manifest(written.to_json())
    assert read == written
    assert read.components == [backup.TRACKING_DB, backup.ARTIFACTS]
    assert read.size == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{", "the manifest is not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"format_version": 9}', "manifest format_version 9"),
        (b'{"format_version": 1, "created": "t", "sources": {}, "members": [{"path": "../x",'
         b' "component": "artifacts", "size": 1, "sha256": "' + DIGEST.encode() + b'"}]}',
         "not a plain relative path"),
        (b'{"format_version": 1, "created": "t", "sources": {"nope": "/x"}, "members": []}',
         "manifest sources"),
    ],
)  # fmt: skip
def test_a_malformed_manifest_is_refused_naming_the_field(text: bytes, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        backup.parse_manifest(text)


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../up", "a/../../b", "a//b", "./a", "a\0b"])
def test_a_member_path_never_leaves_its_folder(path: str) -> None:
    """A restore writes only inside the folders it fills: absolute, parent and empty parts
    are refused."""
    assert backup.path_problem(path) is not None


def test_plain_relative_paths_are_accepted() -> None:
    assert backup.path_problem("models/m-1/artifacts/MLmodel") is None
    assert backup.path_problem("date=2026-01-01/v1-a.jsonl") is None


def test_members_are_checked_against_the_manifest() -> None:
    """Each difference is named: a changed digest, a changed size, a member the manifest
    lacks and one the stream lacks."""
    other = hashlib.sha256(b"y").hexdigest()
    listed = manifest(Member("a", backup.ARTIFACTS, 1, DIGEST), Member("b", backup.ARTIFACTS, 1,
                      DIGEST), Member("c", backup.ARTIFACTS, 1, DIGEST))  # fmt: skip
    seen = [Member("a", backup.ARTIFACTS, 1, other), Member("b", backup.ARTIFACTS, 2, DIGEST),
            Member("d", backup.ARTIFACTS, 1, DIGEST)]  # fmt: skip
    problems = backup.members_problems(listed, seen)
    assert problems == [
        f"artifacts/a: sha256 {other[:12]}..., the manifest says {DIGEST[:12]}...",
        "artifacts/b: 2 bytes, the manifest says 1",
        "artifacts/d: in the archive but not in its manifest",
        "artifacts/c: in the manifest but missing from the archive",
    ]
    assert backup.members_problems(listed, list(listed.members)) == []


def test_the_header_round_trips_and_a_foreign_file_is_named() -> None:
    header = Header(b"s" * 16, backup.key_id(KEY))
    assert backup.parse_header(header.pack()) == header
    with pytest.raises(BackupError, match="not an mlops backup archive"):
        backup.parse_header(b"PK\x03\x04" + header.pack()[4:])
    with pytest.raises(BackupError, match="truncated: 5 bytes, shorter than the archive's header"):
        backup.parse_header(header.pack()[:5])


def test_each_chunk_is_bound_to_its_place_and_to_being_last() -> None:
    """Associated data differ by index and by the final flag, so chunks cannot be moved,
    dropped at the end or followed by more."""
    packed = Header(b"s" * 16, backup.key_id(KEY)).pack()
    bound = {backup.chunk_aad(packed, i, f) for i in range(3) for f in (False, True)}
    assert len(bound) == 6
    assert len({backup.nonce(i) for i in range(1000)}) == 1000


def test_frames_round_trip_and_an_unsafe_one_is_refused() -> None:
    frame = backup.frame(Member("a/b", backup.ARTIFACTS, 7, DIGEST))
    assert backup.parse_frame(frame[backup.LENGTH.size :]) == ("a/b", backup.ARTIFACTS, 7)
    with pytest.raises(BackupError, match="not a plain relative path"):
        backup.parse_frame(b'{"path": "../x", "component": "artifacts", "size": 1}')
    with pytest.raises(BackupError, match="frame is malformed"):
        backup.parse_frame(b"{}")


def test_a_restore_fills_empty_places_and_refuses_occupied_ones_without_force() -> None:
    """An empty place is restored; one that holds something is refused, naming it, unless
    forced (then replaced); a component the configuration cannot take is refused."""
    archive = manifest(Member("mlflow.db", backup.TRACKING_DB, 5, DIGEST),
                       Member("x", backup.ARTIFACTS, 3, DIGEST),
                       sources={backup.PREDICTION_LOGS: "/logs", backup.DVC_REMOTE: "/dvc"})  # fmt: skip
    targets = {
        backup.TRACKING_DB: Target(backup.TRACKING_DB, "/new/mlflow.db", 4),
        backup.ARTIFACTS: Target(backup.ARTIFACTS, "/new/artifacts", 0),
        backup.PREDICTION_LOGS: Target(backup.PREDICTION_LOGS, "/new/logs", 0),
    }
    plan = backup.restore_plan(archive, targets, force=False)
    assert [(s.component, s.action) for s in plan.steps] == [
        (backup.TRACKING_DB, "refuse"), (backup.ARTIFACTS, "restore"),
        (backup.DVC_REMOTE, "refuse"), (backup.PREDICTION_LOGS, "restore"),
    ]  # fmt: skip
    assert "/new/mlflow.db is not empty (4 entries)" in plan.steps[0].why
    assert plan.steps[2].why == "this configuration has no place for it"
    forced = backup.restore_plan(archive, targets, force=True)
    assert forced.steps[0].action == "replace"
    assert [s.component for s in forced.refused] == [backup.DVC_REMOTE]


def test_artifact_locations_move_with_the_restore() -> None:
    old, new = "file:///old/.mlops/artifacts", "file:///new/.mlops/artifacts"
    assert backup.relocated(f"{old}/models/m/1", old, new) == f"{new}/models/m/1"
    assert backup.relocated(old, old, new) == new
    assert backup.relocated("file:///old/.mlops/artifacts-other/x", old, new).startswith(
        "file:///old/"
    )
    assert backup.relocated("models:/m-1", old, new) == "models:/m-1"
