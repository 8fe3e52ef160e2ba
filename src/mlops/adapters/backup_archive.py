"""Encrypted backup archives on disk: writing one atomically, and reading one back with every
chunk authenticated and every member's SHA-256 checked (the format: `mlops.core.backup`).

A new archive is written to a temporary file in its destination folder and renamed into
place once complete, then its checksum file is written beside it: a failed create leaves no
archive, never half of one. Reading stops at the first chunk that fails authentication:
nothing after it can be trusted.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mlops.adapters import atomic
from mlops.core import backup
from mlops.core.backup import BackupError, Header, Manifest, Member

READ_SIZE = 1 << 20
Progress = Callable[[int], None]  # called with the bytes just handled
# Where a member's bytes go while reading (None: only checked), by component and path.
Sink = Callable[[str, str], IO[bytes] | None]


def _archive_key(key: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=backup.KEY_SIZE, salt=salt,
                   info=b"mlops-backup archive key").derive(key)  # fmt: skip
    return AESGCM(derived)


def checksum_path(archive: Path) -> Path:
    return archive.with_name(archive.name + backup.CHECKSUM_SUFFIX)


class _Sealer:
    """The plaintext stream, cut into chunks and encrypted as it is written."""

    def __init__(self, out: IO[bytes], key: bytes) -> None:
        header = Header(os.urandom(backup.SALT_SIZE), backup.key_id(key))
        self.out, self.packed, self.size = out, header.pack(), header.chunk_size
        self.aead = _archive_key(key, header.salt)
        self.digest = hashlib.sha256(self.packed)
        self.buffer = bytearray()
        self.index = 0
        out.write(self.packed)

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) > self.size:  # the last chunk is written by close()
            self._seal(bytes(self.buffer[: self.size]), final=False)
            del self.buffer[: self.size]

    def close(self) -> str:
        """Seal the final chunk; the whole archive's SHA-256."""
        self._seal(bytes(self.buffer), final=True)
        self.buffer.clear()
        return self.digest.hexdigest()

    def _seal(self, plain: bytes, final: bool) -> None:
        aad = backup.chunk_aad(self.packed, self.index, final)
        sealed = self.aead.encrypt(backup.nonce(self.index), plain, aad)
        data = backup.LENGTH.pack(len(sealed)) + sealed
        self.out.write(data)
        self.digest.update(data)
        self.index += 1


@dataclass
class Written:
    path: Path
    sha256: str
    size: int
    manifest: Manifest


class ArchiveWriter:
    """Members added one by one; `finish` writes the manifest and puts the archive in place.
    Leaving the block without `finish` (an error) removes the temporary file."""

    def __init__(self, path: Path, key: bytes, progress: Progress | None = None) -> None:
        self.path, self.progress = path, progress
        self.members: list[Member] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        self.temporary = Path(temporary)
        self.file = os.fdopen(handle, "wb")
        self.sealer = _Sealer(self.file, key)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.file.close()
        self.temporary.unlink(missing_ok=True)

    def add_file(self, source: Path, component: str, path: str) -> Member:
        """The file's bytes as member `path` of `component`. A file that grows meanwhile (a
        log being appended) is taken up to the size it had when it was opened."""
        with source.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            self.sealer.write(backup.frame(Member(path, component, size, "0" * 64)))
            digest, left = hashlib.sha256(), size
            while left:
                data = fh.read(min(READ_SIZE, left))
                if not data:
                    raise BackupError(f"{source} shrank while it was being backed up")
                digest.update(data)
                self.sealer.write(data)
                left -= len(data)
                if self.progress:
                    self.progress(len(data))
        member = Member(path, component, size, digest.hexdigest())
        self.members.append(member)
        return member

    def finish(self, created: str, sources: dict[str, str], artifact_root: str | None) -> Written:
        manifest = Manifest(created, list(self.members), sources, artifact_root)
        self.sealer.write(backup.LENGTH.pack(0))  # the empty frame: the manifest follows
        self.sealer.write(manifest.to_json())
        digest = self.sealer.close()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.temporary.chmod(0o600)  # mkstemp's mode already; stated, as it matters
        size = self.temporary.stat().st_size
        self.temporary.replace(self.path)
        try:
            atomic.write_text(checksum_path(self.path), f"{digest}  {self.path.name}\n")
        except OSError:
            self.path.unlink(missing_ok=True)
            raise
        return Written(self.path, digest, size, manifest)


# -- reading -----------------------------------------------------------------------------


@dataclass
class Verified:
    """What reading an archive found: its manifest when it could be read whole, and every
    problem (none: intact, and every member matches its manifest entry)."""

    path: Path
    location: str = ""  # where the archive is kept (a path or URL), when not `path`
    sha256: str = ""
    recorded_sha256: str | None = None
    manifest: Manifest | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest is not None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while data := fh.read(READ_SIZE):
            digest.update(data)
    return digest.hexdigest()


def recorded_sha256(archive: Path) -> str | None:
    """The SHA-256 its checksum file records; None when there is none."""
    try:
        text = checksum_path(archive).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return text.split()[0].lower() if text.split() else ""


def read_archive(path: Path, key: bytes, sink: Sink | None = None,
                 progress: Progress | None = None) -> Verified:  # fmt: skip
    """Check (and with `sink`, extract) the archive at `path`: its checksum file, every
    chunk's authentication, every member against the manifest. A wrong key, or a file that
    is no archive, is a BackupError; damage is a problem in the result."""
    result = Verified(path)
    if not path.is_file():
        raise BackupError(f"no backup archive at {path}")
    result.sha256 = file_sha256(path)
    result.recorded_sha256 = recorded_sha256(path)
    if result.recorded_sha256 is None:
        result.problems.append(f"{checksum_path(path).name} is missing: the archive's"
                               " checksum cannot be compared")  # fmt: skip
    elif result.recorded_sha256 != result.sha256:
        result.problems.append(f"sha256 {result.sha256[:12]}... differs from the"
                               f" {result.recorded_sha256[:12]}... recorded in"
                               f" {checksum_path(path).name}: the archive was altered or"
                               " truncated")  # fmt: skip
    with path.open("rb") as fh:
        header_bytes = fh.read(backup.HEADER.size)
        header = backup.parse_header(header_bytes)
        if header.key_id != backup.key_id(key):
            raise BackupError(
                f"{path.name} was encrypted with another key than the configured one",
                hint="configure the key the backup was made with",
            )
        stream = _Stream(_chunks(fh, header_bytes, _archive_key(key, header.salt), progress))
        try:
            seen = _members(stream, sink)
            result.manifest = backup.parse_manifest(stream.rest())
        except BackupError as exc:
            result.problems.append(exc.message)
            return result
    result.problems += backup.members_problems(result.manifest, seen)
    return result


def _chunks(fh: IO[bytes], packed: bytes, aead: AESGCM,
            progress: Progress | None) -> Iterator[bytes]:  # fmt: skip
    """The archive's plaintext, chunk by chunk, each authenticated; BackupError naming the
    first chunk that is cut short, altered, out of place or missing."""
    index, sealed = 0, _sealed(fh, 0)
    if sealed is None:
        raise BackupError("truncated: the archive ends after its header, before any chunk")
    while sealed is not None:
        following = _sealed(fh, index + 1)
        final = following is None
        try:
            plain = aead.decrypt(
                backup.nonce(index), sealed, backup.chunk_aad(packed, index, final)
            )
        except InvalidTag:
            raise _damaged(aead, packed, index, sealed, final) from None
        if progress:
            progress(len(sealed) + backup.LENGTH.size)
        yield plain
        index, sealed = index + 1, following


def _damaged(aead: AESGCM, packed: bytes, index: int, sealed: bytes, final: bool) -> BackupError:
    """Why chunk `index` failed: the archive cut at a chunk boundary, bytes added after the
    end, or the chunk altered."""
    try:
        aead.decrypt(backup.nonce(index), sealed, backup.chunk_aad(packed, index, not final))
    except InvalidTag:
        return BackupError(f"chunk {index} fails authentication: the archive was altered"
                           " (or its header was)")  # fmt: skip
    if final:
        return BackupError(f"truncated: the archive ends after chunk {index}, without its"
                           " final chunk")  # fmt: skip
    return BackupError(f"data follows the final chunk ({index}): the archive was altered")


def _sealed(fh: IO[bytes], index: int) -> bytes | None:
    """The next chunk's ciphertext; None at the end of the file."""
    prefix = fh.read(backup.LENGTH.size)
    if not prefix:
        return None
    if len(prefix) < backup.LENGTH.size:
        raise BackupError(f"truncated: chunk {index} is cut short in its length field")
    (length,) = backup.LENGTH.unpack(prefix)
    if length < backup.TAG_SIZE or length > (1 << 26) + backup.TAG_SIZE:
        raise BackupError(f"chunk {index} declares {length} bytes: the archive was altered")
    sealed = fh.read(length)
    if len(sealed) < length:
        raise BackupError(f"truncated: chunk {index} is cut short ({len(sealed)} of"
                          f" {length} bytes)")  # fmt: skip
    return sealed


class _Stream:
    """Exact reads over the decrypted chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buffer = chunks, bytearray()

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            more = next(self.chunks, None)
            if more is None:
                raise BackupError("the archive's content ends inside a member")
            self.buffer += more
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def pieces(self, size: int) -> Iterator[bytes]:
        while size:
            data = self.read(min(size, READ_SIZE))
            size -= len(data)
            yield data

    def rest(self) -> bytes:
        for more in self.chunks:
            self.buffer += more
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _members(stream: _Stream, sink: Sink | None) -> list[Member]:
    seen: list[Member] = []
    while True:
        (length,) = backup.LENGTH.unpack(stream.read(backup.LENGTH.size))
        if length == 0:
            return seen
        if length > backup.MAX_FRAME:
            raise BackupError(f"a member's frame declares {length} bytes: malformed archive")
        path, component, size = backup.parse_frame(stream.read(length))
        out = sink(component, path) if sink else None
        digest = hashlib.sha256()
        try:
            for data in stream.pieces(size):
                digest.update(data)
                if out is not None:
                    out.write(data)
        finally:
            if out is not None:
                out.close()
        seen.append(Member(path, component, size, digest.hexdigest()))
