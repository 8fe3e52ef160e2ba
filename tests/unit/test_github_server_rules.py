"""The rules the local GitHub API server applies to writes, checked without HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import commit_all, git

from mlops.testing.github_model import Status
from mlops.testing.github_seeding import GitHubSeeding
from mlops.testing.github_state import GitHubError

REPO = "acme/models"
BASE, HEAD = "a" * 40, "b" * 40


@pytest.fixture
def state() -> GitHubSeeding:
    seeded = GitHubSeeding()
    seeded.add_repository(REPO, head_sha=BASE)
    seeded.add_pull_request(REPO, author="alice", head_ref="feat", head_sha=HEAD)
    return seeded


@pytest.mark.parametrize(
    ("states", "combined"),
    [
        ([], "pending"),
        (["success", "pending"], "pending"),
        (["success", "error"], "failure"),
        (["pending", "failure"], "failure"),
        (["success", "success"], "success"),
    ],
)
def test_combined_state(states: list[str], combined: str) -> None:
    """failure beats pending, pending (or nothing) beats success."""
    latest = [Status(sha=HEAD, state=s, context=str(i)) for i, s in enumerate(states)]
    assert GitHubSeeding.combined_state(latest) == combined


def test_clock_never_repeats() -> None:
    """Every event gets a later timestamp than the one before, even within one second."""
    state = GitHubSeeding()
    times = [state.now() for _ in range(5)]
    assert times == sorted(set(times))


def test_refs_resolve_like_git(state: GitHubSeeding) -> None:
    """Branch names, refs/heads/ names and unambiguous abbreviated shas resolve to a sha."""
    repo = state.repository(REPO)
    assert state.resolve(repo, "main") == BASE
    assert state.resolve(repo, "refs/heads/feat") == HEAD
    assert state.resolve(repo, HEAD[:7]) == HEAD
    assert state.resolve(repo, "bbb") is None
    assert state.resolve(repo, "c" * 40) is None


def test_a_backed_repository_learns_pushed_branches(state: GitHubSeeding, tmp_path: Path) -> None:
    """Unknown branches and shas are read from the backing git repository, for ref resolution
    and branch protection alike; a known branch keeps its sha, a missing one stays missing."""
    clone = tmp_path / "clone"
    git(tmp_path, "init", "-q", "-b", "main", str(clone))
    (clone / "a.txt").write_text("a\n", encoding="utf-8")
    sha = commit_all(clone, "A")
    git(clone, "branch", "release")
    state.back_with_git(REPO, clone / ".git")
    repo = state.repository(REPO)
    assert (state.resolve(repo, "main"), state.resolve(repo, sha[:8])) == (BASE, sha)
    assert "release" not in repo.branches
    with pytest.raises(GitHubError, match="Branch not protected"):
        state.protection(REPO, "release")
    assert repo.branches["release"] == sha
    with pytest.raises(GitHubError, match="Branch not found"):
        state.protection(REPO, "gone")


def _check_run(state: GitHubSeeding, **fields: Any) -> GitHubError:
    with pytest.raises(GitHubError) as error:
        state.create_check_run(REPO, "github-actions", {"name": "gate", "head_sha": HEAD} | fields)
    return error.value


def test_check_run_rules(state: GitHubSeeding) -> None:
    """A completed run needs a conclusion, a conclusion completes a run, annotations cap at 50."""
    assert _check_run(state, status="completed").status == 422
    annotations = [{"path": "a", "message": "m"}] * 51
    assert _check_run(state, output={"summary": "s", "annotations": annotations}).status == 422
    run = state.create_check_run(
        REPO, "app", {"name": "gate", "head_sha": HEAD, "conclusion": "success"}
    )
    assert (run.status, run.conclusion, run.completed_at is not None) == (
        "completed",
        "success",
        True,
    )


def test_required_contexts_report_missing_ones(state: GitHubSeeding) -> None:
    """A required context without any status blocks the deployment and is named as missing."""
    state.add_status(REPO, HEAD, state="success", context="ci", creator="bot")
    with pytest.raises(GitHubError) as error:
        state.create_deployment(REPO, "bot", {"ref": "feat", "required_contexts": ["ci", "gate"]})
    assert error.value.status == 409
    assert error.value.errors == [
        {
            "resource": "Deployment",
            "field": "required_contexts",
            "contexts": [{"context": "gate", "state": "missing"}],
        }
    ]


def test_transient_deployments_stay_active(state: GitHubSeeding) -> None:
    """auto_inactive leaves transient deployments and other environments alone."""
    transient = state.create_deployment(
        REPO, "bot", {"ref": "main", "environment": "pr-1", "transient_environment": True}
    )
    other = state.create_deployment(REPO, "bot", {"ref": "main", "environment": "staging"})
    for deployment in (transient, other):
        state.create_deployment_status(REPO, deployment.id, "bot", {"state": "success"})
    newer = state.create_deployment(REPO, "bot", {"ref": "feat", "environment": "pr-1"})
    state.create_deployment_status(REPO, newer.id, "bot", {"state": "success"})
    assert [s["state"] for s in state.deployment_statuses(REPO, transient.id)] == ["success"]
    assert [s["state"] for s in state.deployment_statuses(REPO, other.id)] == ["success"]


def test_status_limit_per_context(state: GitHubSeeding) -> None:
    """GitHub keeps at most 1000 statuses per sha and context."""
    for _ in range(1000):
        state.create_status(REPO, HEAD, "pending", "ci", None, None, "bot")
    with pytest.raises(GitHubError, match="maximum number of statuses"):
        state.create_status(REPO, HEAD, "pending", "ci", None, None, "bot")
    state.create_status(REPO, HEAD, "pending", "other", None, None, "bot")
