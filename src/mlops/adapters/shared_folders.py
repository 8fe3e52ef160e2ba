"""Folders a container and the deploy host's own user both write: setgid, group-writable.

The container runs as its image's user with this process's group added, and every folder
in the tree is `rwxrws---` of this process's group: what the container creates inherits the
group, so the host's user can read it and remove it (retention) without root.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_MODE = 0o2770


def shared_folder(path: Path) -> None:
    """Create `path` (and missing parents) and make it a shared folder of this process's
    group (when this user owns it; a folder someone else prepared is left as it is)."""
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid():
        path.chmod(SHARED_MODE)


def make_dirs(path: Path) -> None:
    """`path` and its missing parents, each group-writable and setgid like its parent, so
    another user of the group can still remove what is in them."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    path.mkdir(parents=True, exist_ok=True)
    for folder in reversed(missing):
        folder.chmod(SHARED_MODE)
