"""Backups of the platform's own state: the format of an archive, its checks and the plan
of a restore, on plain data (the encryption and the files are `adapters.backup_archive`).

What one archive holds, each part a *component* of members (files, by relative path):

- `tracking-db`: the embedded MLflow store (one SQLite file, copied with SQLite's online
  backup, so consistent while in use), or `tracking-dump`: `pg_dump` of a PostgreSQL store;
- `artifacts`: the embedded store's artifact folder (models, run files);
- `dvc-remote`: the files of a DVC remote that is a local folder (the data versions);
- `prediction-logs`: this deploy host's prediction logs (the monitoring's raw material).

The file, `<name>.mlopsbak`, is a header and then the stream of chunks:

    header   MAGIC, format version (u16), chunk size (u32), salt (16 bytes), key id (8 bytes)
    chunk    ciphertext length (u32), then AES-256-GCM ciphertext and tag

The plaintext, cut into chunks of `chunk size` bytes, is each member as a frame (u32 length
and JSON `{"path", "component", "size"}`, then its bytes), an empty frame, then the manifest
(JSON: format version, created time, where each component came from, and the path, component,
sha256 and size of every member's plaintext). The manifest comes last so that a store in use
is read once, hashed as it streams. Each archive encrypts with its own key, HKDF-SHA256 of the
configured key and the header's salt; chunk `i` uses nonce `i` and binds the header, `i` and
whether it is the last chunk as associated data. So any flipped byte fails authentication in
its chunk, reordered or dropped chunks fail on their index, and an archive cut at a chunk
boundary lacks its final chunk: each is reported by chunk number. The key id (a hash of the
configured key, which reveals nothing of it) tells a wrong key apart from an altered archive.
Beside the archive, `<name>.mlopsbak.sha256` records its SHA-256 (sha256sum's format): a
check that needs no key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops.errors import MlopsError

FORMAT_VERSION = 1
MAGIC = b"MLOPSBAK"
SUFFIX = ".mlopsbak"
CHECKSUM_SUFFIX = ".sha256"
CHUNK_SIZE = 1 << 20  # plaintext bytes per chunk
TAG_SIZE = 16  # AES-GCM's authentication tag
SALT_SIZE = 16
KEY_SIZE = 32
HEADER = struct.Struct(">8sHI16s8s")
LENGTH = struct.Struct(">I")
MAX_FRAME = 1 << 16  # a member's frame header (JSON) is small; a larger one is corrupt

TRACKING_DB = "tracking-db"
TRACKING_DUMP = "tracking-dump"
ARTIFACTS = "artifacts"
DVC_REMOTE = "dvc-remote"
PREDICTION_LOGS = "prediction-logs"
COMPONENTS = {
    TRACKING_DB: "MLflow tracking store (SQLite)",
    TRACKING_DUMP: "MLflow tracking store (pg_dump of PostgreSQL)",
    ARTIFACTS: "MLflow artifacts",
    DVC_REMOTE: "DVC remote (local folder)",
    PREDICTION_LOGS: "prediction logs",
}
TRACKING_FILE = "mlflow.db"  # the tracking-db component's one member
DUMP_FILE = "tracking.sql"  # the tracking-dump component's one member
SAFE_PART = re.compile(r"^[^/\x00]+$")


class BackupError(MlopsError):
    """A backup cannot be made, read or restored; the message names what is wrong."""


@dataclass(frozen=True)
class Member:
    path: str  # relative to its component's folder, "/"-separated
    component: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    created: str  # UTC, ISO 8601
    members: list[Member]
    sources: dict[str, str] = field(default_factory=dict)  # component -> where it came from
    artifact_root: str | None = None  # the artifact store's URI the tracking store names
    format_version: int = FORMAT_VERSION

    def component(self, name: str) -> list[Member]:
        return [m for m in self.members if m.component == name]

    @property
    def components(self) -> list[str]:
        """The components the archive holds (a component may hold no member: an empty
        folder), in the order of COMPONENTS."""
        present = set(self.sources) | {m.component for m in self.members}
        return [c for c in COMPONENTS if c in present]

    @property
    def size(self) -> int:
        return sum(m.size for m in self.members)

    def to_json(self) -> bytes:
        data = {"format_version": self.format_version, "created": self.created,
                "sources": self.sources, "artifact_root": self.artifact_root,
                "members": [asdict(m) for m in self.members]}  # fmt: skip
        return json.dumps(data, indent=1, sort_keys=True).encode()


def parse_manifest(text: bytes) -> Manifest:
    """The manifest an archive ends with; BackupError naming the first malformed field."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"the manifest is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BackupError("the manifest is not a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"manifest format_version {data.get('format_version')!r}: this "
                          f"version of mlops reads format {FORMAT_VERSION}")  # fmt: skip
    created, sources, root = data.get("created"), data.get("sources"), data.get("artifact_root")
    if not isinstance(created, str):
        raise BackupError("the manifest has no created time")
    if not isinstance(sources, dict) or not all(
        isinstance(k, str) and k in COMPONENTS and isinstance(v, str) for k, v in sources.items()
    ):
        raise BackupError(f"manifest sources {sources!r}: expected component -> location")
    if root is not None and not isinstance(root, str):
        raise BackupError(f"manifest artifact_root {root!r}: expected a URI")
    members = data.get("members")
    if not isinstance(members, list):
        raise BackupError("the manifest lists no members")
    return Manifest(created, [_member(item) for item in members], dict(sources), root)


def _member(item: Any) -> Member:
    try:
        member = Member(**item)
    except TypeError:
        raise BackupError(f"manifest member {item!r}: expected path, component, size, "
                          "sha256") from None  # fmt: skip
    problem = member_problem(member)
    if problem:
        raise BackupError(f"manifest member {member.path!r}: {problem}")
    return member


def member_problem(member: Member) -> str | None:
    """Why a member (from a manifest or a frame) cannot be restored, or None."""
    if member.component not in COMPONENTS:
        return f"unknown component {member.component!r}"
    if isinstance(member.size, bool) or not isinstance(member.size, int) or member.size < 0:
        return f"size {member.size!r} is not a byte count"
    if not isinstance(member.sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", member.sha256):
        return f"sha256 {member.sha256!r} is not a SHA-256 digest"
    return path_problem(member.path)


def path_problem(path: Any) -> str | None:
    """Why `path` is not a safe relative path inside a component's folder, or None: a
    restore never writes outside the folders it was asked to fill."""
    if not isinstance(path, str) or not path:
        return "the path is empty"
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") or not SAFE_PART.match(p) for p in parts):
        return f"the path {path!r} is not a plain relative path"
    return None


def members_problems(manifest: Manifest, seen: Sequence[Member]) -> list[str]:
    """What differs between the members the archive's stream carried (with the size and
    SHA-256 of the bytes actually read) and those its manifest lists."""
    listed = {(m.component, m.path): m for m in manifest.members}
    found = {(m.component, m.path): m for m in seen}
    problems = []
    for key, member in found.items():
        expected = listed.get(key)
        where = f"{member.component}/{member.path}"
        if expected is None:
            problems.append(f"{where}: in the archive but not in its manifest")
        elif expected.size != member.size:
            problems.append(f"{where}: {member.size} bytes, the manifest says {expected.size}")
        elif expected.sha256 != member.sha256:
            problems.append(f"{where}: sha256 {member.sha256[:12]}..., the manifest says "
                            f"{expected.sha256[:12]}...")  # fmt: skip
    problems += [f"{c}/{p}: in the manifest but missing from the archive"
                 for c, p in listed if (c, p) not in found]  # fmt: skip
    if len(found) != len(seen):
        problems.append("the archive carries a member twice")
    return problems


# -- the key and the header --------------------------------------------------------------


def parse_key(text: str | None, variable: str) -> bytes:
    """The 32-byte key from the variable's text (base64); BackupError naming the variable
    and what is wrong (unset, not base64, the wrong length), never the value."""
    if text is None or not text.strip():
        raise BackupError(f"no backup key: {variable} is not set",
                          hint=f"set {variable} to base64 of 32 random bytes, e.g. "
                          '`python -c "import os,base64; print(base64.b64encode(os.urandom(32))'
                          '.decode())"`, and keep it apart from the backups')  # fmt: skip
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BackupError(
            f"the backup key in {variable} is not base64",
            hint="expected base64 of 32 random bytes (44 characters)",
        ) from None
    if len(key) != KEY_SIZE:
        raise BackupError(f"the backup key in {variable} is {len(key)} bytes, expected "
                          f"{KEY_SIZE} (AES-256)")  # fmt: skip
    return key


def key_id(key: bytes) -> bytes:
    """8 bytes that name a key without revealing it (recorded in each archive's header)."""
    return hashlib.sha256(b"mlops-backup key id\0" + key).digest()[:8]


@dataclass(frozen=True)
class Header:
    salt: bytes
    key_id: bytes
    chunk_size: int = CHUNK_SIZE
    version: int = FORMAT_VERSION

    def pack(self) -> bytes:
        return HEADER.pack(MAGIC, self.version, self.chunk_size, self.salt, self.key_id)


def parse_header(data: bytes) -> Header:
    if len(data) < HEADER.size:
        raise BackupError(f"truncated: {len(data)} bytes, shorter than the archive's header "
                          f"({HEADER.size} bytes)")  # fmt: skip
    magic, version, chunk, salt, kid = HEADER.unpack(data[: HEADER.size])
    if magic != MAGIC:
        raise BackupError("not an mlops backup archive (its first bytes are not MLOPSBAK)")
    if version != FORMAT_VERSION:
        raise BackupError(f"archive format {version}: this version of mlops reads format "
                          f"{FORMAT_VERSION}")  # fmt: skip
    if not 0 < chunk <= 1 << 26:
        raise BackupError(f"the header's chunk size {chunk} is not plausible: altered header")
    return Header(salt, kid, chunk, version)


def nonce(index: int) -> bytes:
    """Chunk `index`'s nonce: unique under the archive's own key."""
    return index.to_bytes(12, "big")


def chunk_aad(header: bytes, index: int, final: bool) -> bytes:
    """What chunk `index` is bound to: the header, its position and whether it ends the
    archive."""
    return header + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def frame(member: Member) -> bytes:
    """A member's frame header in the plaintext stream (the bytes follow it)."""
    data = json.dumps({"path": member.path, "component": member.component,
                       "size": member.size}, sort_keys=True).encode()  # fmt: skip
    return LENGTH.pack(len(data)) + data


def parse_frame(data: bytes) -> tuple[str, str, int]:
    """(path, component, size) of a frame header's JSON."""
    try:
        item = json.loads(data)
        path, component, size = item["path"], item["component"], item["size"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise BackupError("a member's frame is malformed") from None
    problem = member_problem(Member(path, component, size, "0" * 64))
    if problem:
        raise BackupError(f"member {path!r}: {problem}")
    return str(path), str(component), int(size)


# -- restoring ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a component would be restored, and what is there now."""

    component: str
    location: str
    entries: int  # files (or tables) there now: 0 is empty
    supported: str | None = None  # why this configuration cannot take it, when it cannot


@dataclass(frozen=True)
class Step:
    component: str
    location: str
    files: int
    bytes: int
    action: str  # "restore", "replace" (--force) or "refuse"
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RestorePlan:
    steps: list[Step]

    @property
    def refused(self) -> list[Step]:
        return [s for s in self.steps if s.action == "refuse"]

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [s.to_dict() for s in self.steps],
                "refused": [f"{s.component}: {s.why}" for s in self.refused]}  # fmt: skip


def restore_plan(manifest: Manifest, targets: Mapping[str, Target], force: bool,
                 only: frozenset[str] | None = None) -> RestorePlan:  # fmt: skip
    """Each of the archive's components into its target: restored into an empty place,
    replacing what is there only with `force`, refused where the configuration has no
    place for it; with `only`, the other components are skipped (left as they are)."""
    steps = []
    for component in manifest.components:
        members = manifest.component(component)
        files, size = len(members), sum(m.size for m in members)
        target = targets.get(component)
        if only is not None and component not in only:
            steps.append(Step(component, target.location if target else "", files, size,
                              "skip", "not asked for (--only)"))  # fmt: skip
        elif target is None or target.supported:
            why = target.supported if target else "this configuration has no place for it"
            steps.append(Step(component, target.location if target else "", files, size,
                              "refuse", why or ""))  # fmt: skip
        elif target.entries and not force:
            steps.append(Step(component, target.location, files, size, "refuse",
                              f"{target.location} is not empty ({target.entries} entries):"
                              " restore replaces it only with --force"))  # fmt: skip
        else:
            action = "replace" if target.entries else "restore"
            steps.append(Step(component, target.location, files, size, action))
    return RestorePlan(steps)


def relocated(uri: str, old_root: str, new_root: str) -> str:
    """`uri` under `new_root` when it is under `old_root` (the artifact folder the tracking
    store names moved with the restore), else unchanged."""
    old, new = old_root.rstrip("/"), new_root.rstrip("/")
    if uri == old or uri.startswith(old + "/"):
        return new + uri[len(old) :]
    return uri
