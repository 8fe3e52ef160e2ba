"""Helpers of the tests that read a model's history from the main line of registry.yaml
(`mlops history`, `mlops catalogue`): complete version records, registry.yaml written as a
test needs it, commits dated at will, and pull requests merged into main in a real clone and
mirrored on the local GitHub API server, approved and (if asked) with passing gates::

    github_env(gh, monkeypatch, REPO, BOT)
    root = repository_on_github(gh, REPO, tmp_path / "repo", MODEL)
    first = merged_pull(gh, REPO, root, MODEL, 1, {"staging": "1", "production": "1"},
                        versions={"1": 0.97}, when=when, monkeypatch=monkeypatch)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import commit_all, git, make_repository, set_stages

from mlops.testing.github_seed import approve, open_pull_request, passing_check_run
from mlops.testing.github_server import GitHubServer

AUTHOR = "alice"  # opens every pull request
REVIEWER = "mchen"  # approves and merges every pull request


def version_entry(model: str, number: str, auc: float) -> dict[str, Any]:
    """A complete registry.yaml record of `model`'s version `number` with ROC AUC `auc` (its
    other fields made-up but well-formed)."""
    return {"run_id": number * 32, "model_uri": f"models:/{model}/{number}",
            "git_commit": "a" * 40, "dvc_hashes": {"data/train.csv": "d" * 32},
            "params_hash": "sha256:" + "b" * 64, "metrics": {"roc_auc": auc, "accuracy": 0.95},
            "artifact_sha256": "c" * 64, "created": "2026-11-01T10:00:00Z"}  # fmt: skip


def write_registry(
    root: Path, model: str, versions: dict[str, float], stages: dict[str, Any]
) -> None:
    """Replace `model`'s entry of registry.yaml with `versions` (version number: ROC AUC, each
    a `version_entry`) and `stages`, as given (no policy checks: a test's setup)."""
    path = root / "registry.yaml"
    data = yaml.safe_load(path.read_text())
    data["models"][model] = {"versions": {v: version_entry(model, v, auc)
                                          for v, auc in versions.items()},
                             "stages": stages}  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def dated(monkeypatch: pytest.MonkeyPatch, when: datetime | str) -> None:
    """Commits made from now on carry `when` (a datetime in UTC, or an ISO 8601 string used
    as given) as their author and commit time."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(when, datetime) else when
    monkeypatch.setenv("GIT_COMMITTER_DATE", stamp)
    monkeypatch.setenv("GIT_AUTHOR_DATE", stamp)


def github_env(gh: GitHubServer, monkeypatch: pytest.MonkeyPatch, repo: str, bot: str) -> None:
    """The server knows `bot` as the workflow's token and the pull requests' people; the
    environment points `mlops` at the server's `repo` with that token, unthrottled."""
    gh.add_token(bot, login="github-actions[bot]", can_read_org=False)
    for login in (AUTHOR, REVIEWER):
        gh.add_user(login)
    for key, value in {"GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": repo,
                       "GITHUB_TOKEN": bot, "MLOPS_GITHUB_THROTTLE": "off"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)


def repository_on_github(gh: GitHubServer, repo: str, path: Path, model: str) -> Path:
    """A scratch git repository at `path` holding `model`, and `repo` on the server with the
    repository's first commit on main. Returns the repository's root."""
    root = make_repository(path, (model,))
    base = git(root, "rev-parse", "HEAD")
    gh.add_repository(repo, default_branch="main")
    gh.add_commit(repo, base, branch="main")
    return root


@dataclass(frozen=True)
class Merged:
    """A pull request's branch merged into main in the clone: its number and branch, the
    commit it branched from, its one commit, and the merge commit."""

    number: int
    branch: str
    base: str
    head: str
    merge: str


def merge_in_clone(
    root: Path,
    model: str,
    number: int,
    stages: dict[str, Any],
    *,
    versions: dict[str, float] | None = None,
    branch: str | None = None,
    subject: str | None = None,
    from_branch: bool = False,
    when: datetime | str | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
    date_branch: bool = False,
) -> Merged:
    """Pull request `number`'s branch (default `pr-NUMBER`) from main's tip, with one commit
    (`subject`, default `promote: BRANCH`) setting `model`'s `stages` in registry.yaml (and,
    with `versions`, replacing its versions by those: `write_registry`), merged into main with
    a merge commit (`Merge pull request #NUMBER`, followed by ` from BRANCH` if `from_branch`).

    With `when` (and `monkeypatch`) the merge is `dated` then, and so is the branch's commit
    if `date_branch`; otherwise that commit keeps the time set before."""
    branch = branch or f"pr-{number}"
    if when is not None and date_branch:
        assert monkeypatch is not None
        dated(monkeypatch, when)
    base = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-b", branch)
    if versions is None:
        set_stages(root, stages, model)
    else:
        write_registry(root, model, versions, stages)
    head = commit_all(root, subject or f"promote: {branch}")
    git(root, "checkout", "-q", "main")
    if when is not None and not date_branch:
        assert monkeypatch is not None
        dated(monkeypatch, when)
    message = f"Merge pull request #{number}" + (f" from {branch}" if from_branch else "")
    git(root, "merge", "-q", "--no-ff", "-m", message, branch)
    return Merged(number, branch, base, head, git(root, "rev-parse", "HEAD"))


def merged_pull(
    gh: GitHubServer,
    repo: str,
    root: Path,
    model: str,
    number: int,
    stages: dict[str, Any],
    *,
    when: datetime | str,
    monkeypatch: pytest.MonkeyPatch,
    versions: dict[str, float] | None = None,
    branch: str | None = None,
    from_branch: bool = False,
    date_branch: bool = False,
    gates_pass: bool = False,
) -> str:
    """Pull request `number` by alice, merged into main in the clone at `when` as
    `merge_in_clone` makes it (the same keywords), opened on the server (by the server's
    clock), approved by mchen, with `model`'s passing gate check run on its head if
    `gates_pass`, merged there by mchen and its merge commit mirrored on main. Returns the
    merge commit."""
    done = merge_in_clone(root, model, number, stages, versions=versions, branch=branch,
                          from_branch=from_branch, when=when, monkeypatch=monkeypatch,
                          date_branch=date_branch)  # fmt: skip
    open_pull_request(gh, repo, author=AUTHOR, branch=done.branch, base=done.base,
                      head=done.head, files=[("registry.yaml", "modified")], number=number)  # fmt: skip
    approve(gh, repo, number, REVIEWER)
    if gates_pass:
        passing_check_run(gh, repo, model, done.head)
    gh.merge(repo, number, by=REVIEWER, merge_sha=done.merge)
    gh.add_commit(repo, done.merge, parents=(done.base, done.head), branch="main")
    return done.merge
