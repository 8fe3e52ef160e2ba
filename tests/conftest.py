"""Shared fixtures: scratch copies of this repository, real git repositories, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploying import deployment_github
from support import GIT_ENV, Result, commit_all, copy_repository, git, skeleton

from mlops.cli import main
from mlops.testing.github_server import GitHubServer

__all__ = ["commit_all", "copy_repository", "git", "skeleton"]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's git config or a CI runner's GitHub variables."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    for key in (
        "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_TOKEN", "GH_TOKEN",
        "GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH",
    ):  # fmt: skip
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    """Run `mlops ARGS...` in-process; returns exit code and captured output."""

    def run(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch copy of this repository's platform files (not a git repository)."""
    return copy_repository(tmp_path / "repo")


@pytest.fixture
def git_repo(repo: Path) -> Path:
    """The scratch repository as a real git repository with one commit on `main`."""
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "initial")
    return repo


@pytest.fixture
def deploy_gh(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubServer]:
    """The local GitHub server that deployments are recorded on (see deploying.py)."""
    with deployment_github(monkeypatch) as server:
        yield server
