"""The repository on disk: where its root is and which model folders it has."""

from __future__ import annotations

import os
from pathlib import Path

from mlops.core import layout
from mlops.errors import RepositoryError


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding registry.yaml or a models/ folder.

    An explicit `start` (from --repo) must exist: a typo never validates a parent repository.
    """
    if start is not None and not start.is_dir():
        raise RepositoryError(f"--repo {start}: no such folder")
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / layout.REGISTRY).is_file() or (candidate / layout.MODELS_DIR).is_dir():
            return candidate
    raise RepositoryError(
        f"no model repository found at or above {here}",
        hint="run inside a repository with registry.yaml and models/, or pass --repo PATH",
    )


def model_folders(root: Path) -> list[str]:
    """Names of the folders under models/ (each one is a model), sorted."""
    models = root / layout.MODELS_DIR
    try:
        entries = list(os.scandir(models))
    except FileNotFoundError:
        return []
    return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
