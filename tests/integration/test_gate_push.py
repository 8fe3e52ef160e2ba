"""`mlops gate` on a push to main: it gates the merged pull request of the pushed commit.

A real git clone holds main, the pull request's branch and its merge commit; the local GitHub
API server holds the same pull request, merged, and checks every request and response against
GitHub's OpenAPI description (the `gh` fixture fails the test on any violation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from evaluations import write_evaluation
from support import commit_all, git, make_repository

from mlops.testing.github_seed import approve, open_pull_request
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
MODEL = "breast-cancer"
BOT = "ghs_bot"  # an installation token, like the workflow's GITHUB_TOKEN


@pytest.fixture
def gh(gh: GitHubServer) -> GitHubServer:
    """The server with the bot's token, the users and acme's clinical-ml team."""
    gh.add_token(BOT, login="github-actions[bot]", can_read_org=False)
    for login in ("alice", "mchen", "carol"):
        gh.add_user(login)
    gh.add_team("acme", "clinical-ml", members=["carol"])
    return gh


@pytest.fixture
def pr(tmp_path: Path, gh: GitHubServer, monkeypatch: pytest.MonkeyPatch, cli) -> dict[str, Any]:
    """A clone with main and a branch changing breast-cancer, the pull request on the server
    (open, evaluated: `mlops report` left a passing check run on its head) and the merge
    commit `merge` made in the clone, not yet on the server."""
    root = make_repository(tmp_path / "repo", (MODEL, "fuel-efficiency"))
    assert cli("--repo", root, "codeowners").code == 0
    base = commit_all(root, "owners")
    git(root, "checkout", "-q", "-b", "tune")
    params = root / f"models/{MODEL}/params.yaml"
    params.write_text(params.read_text().replace("c: 1.0", "c: 0.5"))
    head = commit_all(root, "tune C")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from acme/tune", "tune")
    merge = git(root, "rev-parse", "HEAD")
    number = open_pull_request(
        gh, REPO, author="alice", branch="tune", base=base, head=head,
        files=[(f"models/{MODEL}/params.yaml", "modified")],
    )  # fmt: skip
    for key, value in {
        "GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": BOT,
        "MLOPS_GITHUB_THROTTLE": "off",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    for key in ("GITHUB_EVENT_NAME", "GITHUB_SHA"):
        monkeypatch.delenv(key, raising=False)
    write_evaluation(root, MODEL, 0.99)
    assert cli("--repo", root, "report", "--pr", str(number)).code == 0
    return {"root": root, "base": base, "head": head, "merge": merge, "number": number}


def merge(gh: GitHubServer, pr: dict[str, Any]) -> str:
    """Merge the pull request on the server with the clone's merge commit."""
    sha = gh.merge(REPO, pr["number"], by="mchen", merge_sha=pr["merge"])
    gh.add_commit(REPO, sha, parents=(pr["base"], pr["head"]), branch="main")
    return sha


def gate(cli, pr: dict[str, Any], *args: str) -> Any:
    return cli("--repo", pr["root"], "gate", *args)


def test_an_approved_merge_passes_from_its_merge_commit(gh: GitHubServer, pr, cli) -> None:
    """The merge commit names its pull request; the owner approved it and its gates passed."""
    approve(gh, REPO, pr["number"], "mchen")
    sha = merge(gh, pr)
    result = gate(cli, pr, "--commit", sha, "--json")
    assert result.code == 0, result.err
    decision = json.loads(result.out)
    assert (decision["commit"], decision["pull_request"]) == (sha, pr["number"])
    assert (decision["head_sha"], decision["passed"]) == (pr["head"], True)
    assert decision["approvals"]["approvers"] == ["@mchen"]
    assert decision["policy"][MODEL]["passed"]


def test_a_push_event_gates_the_pushed_commit(
    gh: GitHubServer, pr, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a push event the pushed commit (GITHUB_SHA) is gated without arguments."""
    approve(gh, REPO, pr["number"], "mchen")
    sha = merge(gh, pr)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_SHA", sha)
    result = gate(cli, pr)
    assert result.code == 0, result.err
    assert f"commit {sha[:12]} was merged from pull request #{pr['number']}" in result.out
    assert "@mchen" in result.out


def test_an_unapproved_merge_does_not_deploy(
    gh: GitHubServer, pr, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merged without an owner's approval: exit 1 naming the missing approval."""
    sha = merge(gh, pr)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_SHA", sha)
    result = gate(cli, pr, "--json")
    assert result.code == 1
    decision = json.loads(result.out)
    assert (decision["commit"], decision["passed"]) == (sha, False)
    (model,) = decision["approvals"]["models"]
    assert (model["name"], model["approved"]) == (MODEL, False)
    assert f"commit {sha[:12]} may not deploy: its pull request #{pr['number']}" in result.err
    assert "needs an approval from one of @acme/clinical-ml, @mchen" in result.err


def test_a_direct_push_is_refused(
    gh: GitHubServer, pr, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit pushed to main without a pull request has nobody's approval: exit 1."""
    root = pr["root"]
    (root / f"models/{MODEL}/params.yaml").write_text("c: 9.0\n")
    direct = commit_all(root, "straight to main")
    gh.add_commit(REPO, direct, parents=(pr["merge"],), branch="main")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_SHA", direct)
    result = gate(cli, pr)
    assert result.code == 1
    assert (
        f"commit {direct[:12]} was not merged from a pull request: nothing approved it"
        in result.err
    )


def test_an_open_pull_request_does_not_count(gh: GitHubServer, pr, cli) -> None:
    """The pull request's head commit, not merged: GitHub lists it open, which approves
    nothing for a deployment."""
    approve(gh, REPO, pr["number"], "mchen")
    result = gate(cli, pr, "--commit", pr["head"])
    assert result.code == 1
    assert "was not merged from a pull request" in result.err


def test_a_commit_in_several_merged_pull_requests_is_ambiguous(gh: GitHubServer, pr, cli) -> None:
    """A commit two merged (stacked) pull requests share, and the merge commit of neither:
    the gate names both instead of picking one."""
    stacked_head = gh.add_commit(REPO, "e" * 40, parents=(pr["head"],))
    stacked = gh.add_pull_request(
        REPO, author="alice", head_ref="tune-more", head_sha=stacked_head, base_sha=pr["base"]
    )
    merge(gh, pr)
    gh.merge(REPO, stacked, by="mchen")
    result = gate(cli, pr, "--commit", pr["head"])
    assert result.code == 1
    assert f"in several merged pull requests (#{pr['number']}, #{stacked})" in result.err


def test_a_merge_commit_names_its_pull_request_when_a_later_one_contains_it(
    gh: GitHubServer, pr, cli
) -> None:
    """A later merged pull request built on the merge commit also contains it; the one that
    made it is gated."""
    approve(gh, REPO, pr["number"], "mchen")
    sha = merge(gh, pr)
    later_head = gh.add_commit(REPO, "f" * 40, parents=(sha,))
    later = gh.add_pull_request(
        REPO, author="alice", head_ref="later", head_sha=later_head, base_sha=pr["base"]
    )
    gh.merge(REPO, later, by="mchen")
    result = gate(cli, pr, "--commit", sha, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["pull_request"] == pr["number"]


def test_pr_and_commit_together_are_a_usage_error(gh: GitHubServer, pr, cli) -> None:
    result = gate(cli, pr, "--pr", str(pr["number"]), "--commit", pr["merge"])
    assert result.code == 2
    assert "either --pr or --commit, not both" in result.err


def test_a_pull_request_event_still_gates_its_pull_request(
    gh: GitHubServer, pr, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a pull_request event the event's pull request is gated, whatever GITHUB_SHA is."""
    approve(gh, REPO, pr["number"], "mchen")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": pr["number"], "pull_request": {"number": 1}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_SHA", pr["merge"])
    result = gate(cli, pr, "--json")
    assert result.code == 0, result.err
    decision = json.loads(result.out)
    assert decision["pull_request"] == pr["number"] and "commit" not in decision
