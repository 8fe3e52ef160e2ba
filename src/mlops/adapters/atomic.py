"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` through a temporary file in the same folder."""
    write_all({path: text})


def write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` through a temporary file in the same folder, keeping its
    permissions."""
    replace_with(path, lambda temporary: temporary.write_bytes(data))


def replace_with(path: Path, write: Callable[[Path], object]) -> None:
    """Replace `path` with what `write` puts in a temporary file beside it (flushed to disk
    first, with `path`'s permissions), in one rename."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    temporary = Path(name)
    try:
        os.close(handle)
        write(temporary)
        temporary.chmod(_mode(path))
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _mode(path: Path) -> int:
    """The file's current permissions, or what a plain new file gets (mkstemp's are 0600)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_all(files: Mapping[Path, str]) -> None:
    """Write several files, each atomically; all are prepared before any is replaced, so an
    error while preparing (a full disk, a bad folder) changes none of them."""
    prepared: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            prepared.append((temporary, path))
            os.fchmod(handle, _mode(path))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        for temporary, path in prepared:
            Path(temporary).replace(path)
    finally:
        for temporary, _ in prepared:
            Path(temporary).unlink(missing_ok=True)
