"""Shared fixtures: scratch copies of this repository, real git repositories, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploying import BOT, REPO
from support import GIT_ENV, Result, commit_all, copy_repository, git, skeleton

from mlops.cli import main
from mlops.testing.github_fixtures import github_server
from mlops.testing.github_server import GitHubServer

__all__ = ["commit_all", "copy_repository", "git", "skeleton"]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's git config, a CI runner's GitHub variables or an image
    registry set in the environment."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    for key in (
        "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_TOKEN", "GH_TOKEN",
        "GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "MLOPS_IMAGE_REGISTRY",
        "MLOPS_REGISTRY_USERNAME", "MLOPS_REGISTRY_PASSWORD",
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
def gh(request: pytest.FixtureRequest) -> Iterator[GitHubServer]:
    """The local GitHub API server, empty; it fails the test if any request or response broke
    GitHub's contract, unless the test is marked `github_violations`. A module seeds it by
    overriding `gh` with a fixture that takes this one."""
    check = request.node.get_closest_marker("github_violations") is None
    with github_server(check=check) as server:
        yield server


@pytest.fixture
def deploy_gh(gh: GitHubServer, monkeypatch: pytest.MonkeyPatch) -> GitHubServer:
    """The local GitHub server that deployments are recorded on, with the repository REPO and
    the environment reconcile reads it from (see deploying.py)."""
    gh.add_token(BOT, login="github-actions[bot]", can_read_org=False)
    gh.add_repository(REPO, default_branch="main")
    for key, value in {"GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO,
                       "GITHUB_TOKEN": BOT, "MLOPS_GITHUB_THROTTLE": "off"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    return gh
