"""A data input exactly as a registered version recorded it (its DVC md5), wherever it is.

Tried in order: the checkout's own file when its content has that md5 (the usual case on
the machine that trained), the DVC cache's object of that md5, the DVC remote's object of that
md5 (a fresh runner), then DVC at the version's git commit (a remote of a kind read only by
DVC itself). Whatever is found is checked against the recorded md5, so a reference is never
silently the wrong data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlops.adapters.dvc import remote_object
from mlops.core import layout
from mlops.errors import MlopsError


class DataUnavailable(MlopsError):
    """The recorded version of a data input cannot be found or does not match."""


def recorded_bytes(root: Path, model: str, path: str, md5: str, commit: str | None) -> bytes:
    """The content of `models/<model>/<path>` with DVC md5 `md5`."""
    local = root / layout.model_dir(model) / path
    if local.is_file():
        content = local.read_bytes()
        if _md5(content) == md5:
            return content
    cached = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    if cached.is_file():
        content = cached.read_bytes()
        if _md5(content) == md5:
            return content
    stored = remote_object(root, md5)
    if stored is not None and _md5(stored) == md5:
        return stored
    if not commit:
        raise DataUnavailable(
            f"{model}: {path} as recorded (md5 {md5}) is neither in the checkout nor in the"
            " DVC cache, and the version records no git commit to fetch it from"
        )
    content = _at_commit(root, f"{layout.model_dir(model)}/{path}", commit, md5)
    if _md5(content) != md5:
        raise DataUnavailable(
            f"{model}: {path} at commit {commit[:12]} has md5 {_md5(content)}, but the version"
            f" recorded {md5}"
        )
    return content


def _at_commit(root: Path, target: str, commit: str, md5: str) -> bytes:
    import dvc.api

    try:
        with dvc.api.open(target, repo=str(root), rev=commit, mode="rb") as handle:
            return bytes(handle.read())
    except Exception as exc:  # DVC's errors: no such revision, remote unreachable, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataUnavailable(
            f"cannot fetch {target} (md5 {md5}) at commit {commit[:12]} through DVC: {reason}",
            hint="fetch the commit (git fetch) and check the DVC remote (`dvc status -c`)",
        ) from None


def _md5(content: bytes) -> str:
    return hashlib.md5(content, usedforsecurity=False).hexdigest()
