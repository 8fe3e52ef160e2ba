"""Test helpers shared by every tier: scratch repositories, real git, CLI results."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


def copy_repository(destination: Path) -> Path:
    """The platform files of this repository (policies, models, registry) in a scratch folder."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "policies", destination / "policies")
    shutil.copytree(
        ROOT / "models",
        destination / "models",
        ignore=shutil.ignore_patterns("data", "model", "*.json", "__pycache__", ".dvc"),
    )
    shutil.copy2(ROOT / "registry.yaml", destination / "registry.yaml")
    return destination


def skeleton(destination: Path) -> Path:
    """A repository with this repository's policies, no models and an empty registry."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "policies", destination / "policies")
    (destination / "models").mkdir()
    (destination / "registry.yaml").write_text("schema_version: 1\nmodels: {}\n")
    return destination


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")
