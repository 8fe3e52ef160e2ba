"""Opening and finding pull requests on the local GitHub API server, driven by PyGithub.

A pull request is opened between branches the server knows: seeded ones, or ones pushed to
the bare git repository backing the repository. The `gh` fixture fails a test whose requests or
responses broke GitHub's published OpenAPI description.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from github import Github, GithubException
from support import commit_all, git

from mlops.testing.github_fixtures import github_client
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
BASE, HEAD, NEXT = "a" * 40, "b" * 40, "c" * 40
BOT = "bot-token"


@pytest.fixture
def gh(gh: GitHubServer) -> GitHubServer:
    """The server with REPO (main at BASE), maintained by mchen, and alice's pull request #1
    from `feat` (HEAD)."""
    gh.add_token(BOT, login="github-actions[bot]", can_read_org=False)
    gh.add_repository(REPO, head_sha=BASE, collaborators={"mchen": "maintain"})
    gh.add_pull_request(REPO, author="alice", head_ref="feat", head_sha=HEAD)
    return gh


@pytest.fixture
def bot(gh: GitHubServer) -> Github:
    return github_client(gh, BOT)


def test_pull_requests_are_opened_and_found(gh: GitHubServer, bot: Github) -> None:
    """A pull request opened from a branch takes the next issue number, is found by head and
    base, and takes labels like an issue."""
    gh.set_branch(REPO, "fix", NEXT)
    repo = bot.get_repo(REPO)
    pr = repo.create_pull(title="Fix a", body="Because", head="fix", base="main", draft=True)
    assert (pr.number, pr.state, pr.draft, pr.body) == (2, "open", True, "Because")
    assert (pr.head.ref, pr.head.sha, pr.base.ref, pr.base.sha) == ("fix", NEXT, "main", BASE)
    assert (pr.user.login, pr.maintainer_can_modify) == ("github-actions[bot]", False)
    pr.add_to_labels("x")
    (found,) = repo.get_pulls(state="open", head="acme:fix")
    assert (found.number, [label.name for label in found.labels]) == (2, ["x"])
    assert [p.number for p in repo.get_pulls(base="main")] == [2, 1]
    assert [p.number for p in repo.get_pulls(head="fix")] == [2, 1]  # no owner: ignored
    assert list(repo.get_pulls(head="eve:fix")) == []
    assert list(repo.get_pulls(base="feat")) == []
    assert repo.create_issue("Next").number == 3
    assert gh.labels(REPO, 2) == ["x"]


def test_pull_requests_list_by_state_and_sort(gh: GitHubServer, bot: Github) -> None:
    """Closed pull requests show with state closed or all; sorting by update is oldest first."""
    gh.set_branch(REPO, "fix", NEXT)
    repo = bot.get_repo(REPO)
    repo.create_pull(title="Fix", head="fix", base="main")
    gh.merge(REPO, 2, by="mchen")
    assert [p.number for p in repo.get_pulls()] == [1]
    assert [p.number for p in repo.get_pulls(state="closed")] == [2]
    assert [p.number for p in repo.get_pulls(state="all", direction="asc")] == [1, 2]
    repo.get_issue(1).create_comment("bump")
    assert [p.number for p in repo.get_pulls(state="all", sort="updated")] == [2, 1]
    assert [p.number for p in repo.get_pulls(state="all", sort="popularity")] == [2, 1]


def test_opening_a_pull_request_is_validated(gh: GitHubServer, bot: Github) -> None:
    """Another pull request for the same head and base, an unknown base or head, and a head
    without new commits answer 422 as GitHub does; nothing is opened."""
    gh.set_branch(REPO, "same", BASE)
    repo = bot.get_repo(REPO)

    def refused(head: str, base: str = "main") -> list[dict[str, str]]:
        with pytest.raises(GithubException) as error:
            repo.create_pull(title="Again", body="", head=head, base=base)
        assert (error.value.status, error.value.data["message"]) == (422, "Validation Failed")
        errors: list[dict[str, str]] = error.value.data["errors"]
        return errors

    exists = "A pull request already exists for acme:feat."
    assert refused("acme:feat") == [
        {"resource": "PullRequest", "code": "custom", "message": exists}
    ]
    assert refused("feat", base="nope") == [
        {"resource": "PullRequest", "field": "base", "code": "invalid"}
    ]
    for head in ("gone", "eve:feat"):
        assert refused(head) == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
    (error,) = refused("same")
    assert error["message"] == "No commits between main and same"
    assert [p.number for p in repo.get_pulls(state="all")] == [1]


def test_branches_pushed_to_the_backing_repository(
    gh: GitHubServer, bot: Github, tmp_path: Path
) -> None:
    """A branch pushed only to the bare repository backing REPO is learnt when a request names
    it: a pull request is opened from it and labelled; a commit is learnt by its sha alone."""
    bare, clone = tmp_path / "models.git", tmp_path / "clone"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    (clone / "train.py").write_text("print('retrained')\n", encoding="utf-8")
    first = commit_all(clone, "Retrain a")
    git(clone, "push", "-q", "origin", "HEAD:refs/heads/retrain/a")
    (clone / "train.py").write_text("print('again')\n", encoding="utf-8")
    second = commit_all(clone, "Retrain a again")
    git(clone, "push", "-q", "origin", "HEAD:refs/heads/later")
    gh.back_with_git(REPO, bare)
    repo = bot.get_repo(REPO)
    pr = repo.create_pull(title="Retrain a", body="Drift", head="retrain/a", base="main")
    assert (pr.number, pr.head.ref, pr.head.sha, pr.base.sha) == (2, "retrain/a", first, BASE)
    pr.add_to_labels("retraining")
    (found,) = repo.get_pulls(state="open", head="acme:retrain/a")
    assert [label.name for label in found.labels] == ["retraining"]
    commit = repo.get_commit(second[:7])
    assert (commit.sha, commit.commit.message, [p.sha for p in commit.parents]) == (
        second, "Retrain a again", [first],
    )  # fmt: skip
    commit.create_status("success", context="mlops/gate")
    branches = gh.to_json()["repositories"][0]["branches"]
    assert (branches["retrain/a"], "later" in branches) == (first, False)
    for head in ("retrain/b", "later~1"):
        with pytest.raises(GithubException) as error:
            repo.create_pull(title="Nope", body="", head=head, base="main")
        assert error.value.data["errors"][0]["field"] == "head"


def test_backing_must_be_a_git_repository(gh: GitHubServer, tmp_path: Path) -> None:
    """Backing a repository with a folder that is not a git repository fails at once."""
    with pytest.raises(ValueError, match="not a git repository"):
        gh.back_with_git(REPO, tmp_path)
