"""The local GitHub API server catches requests and responses that break GitHub's contract.

These tests provoke violations on purpose, so they are marked `github_violations` and assert
on `violations` instead of letting the `gh` fixture fail them on exit.
"""

from __future__ import annotations

from typing import Any

import pytest
from github import Github, GithubException, UnknownObjectException

from mlops.testing.github_fixtures import check_contract, github_client, github_server
from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.github_violations

REPO = "acme/models"
HEAD = "b" * 40


@pytest.fixture
def gh(gh: GitHubServer) -> GitHubServer:
    """The server with the bot's token, REPO and alice's pull request #1."""
    gh.add_token("t", login="github-actions[bot]")
    gh.add_repository(REPO)
    gh.add_pull_request(REPO, author="alice", head_ref="feat", head_sha=HEAD)
    return gh


@pytest.fixture
def client(gh: GitHubServer) -> Github:
    return github_client(gh, "t")


def _post(client: Github, path: str, body: Any) -> GithubException:
    with pytest.raises(GithubException) as error:
        client.requester.requestJsonAndCheck(
            "POST", f"{client.get_repo(REPO).url}{path}", input=body
        )
    return error.value


def test_invalid_status_state_is_422_and_a_violation(gh: GitHubServer, client: Github) -> None:
    """A status with state "bogus" answers Validation Failed and is recorded, naming the field."""
    error = _post(client, f"/statuses/{HEAD}", {"state": "bogus", "context": "ci"})
    assert error.status == 422
    assert error.data["message"] == "Validation Failed"
    assert "state" in error.data["errors"][0]["message"]
    (violation,) = gh.violations
    assert violation.startswith(f"POST /repos/{REPO}/statuses/{HEAD}: request body$.state:")
    assert gh.statuses(REPO) == []


def test_deployment_without_ref_is_a_violation(gh: GitHubServer, client: Github) -> None:
    """A deployment request missing its required `ref` is refused and recorded."""
    assert _post(client, "/deployments", {"environment": "production"}).status == 422
    assert "'ref' is a required property" in gh.violations[0]
    assert gh.deployments(REPO) == []


def test_unknown_check_run_conclusion_is_a_violation(gh: GitHubServer, client: Github) -> None:
    """A check run concluding "passed" (not an allowed value) is refused and recorded."""
    body = {"name": "gate", "head_sha": HEAD, "conclusion": "passed"}
    assert _post(client, "/check-runs", body).status == 422
    assert "conclusion" in gh.violations[0]


def test_unknown_route_is_404_and_a_violation(gh: GitHubServer, client: Github) -> None:
    """A path the description lacks answers 404 and is recorded as unexpected."""
    with pytest.raises(UnknownObjectException):
        client.requester.requestJsonAndCheck("GET", f"{gh.api_url}/repos/{REPO}/hooks")
    assert gh.violations == [
        f"GET /api/v3/repos/{REPO}/hooks: no such operation in the description"
    ]
    assert gh.requests[-1] == ("GET", f"/repos/{REPO}/hooks", 404)


def test_broken_response_is_a_violation(gh: GitHubServer, client: Github) -> None:
    """A response with an id that is not an integer is recorded against the response schema."""

    def break_ids(method: str, path: str, body: Any) -> Any:
        return body | {"id": "not-an-int"} if path == f"/repos/{REPO}" else body

    gh.response_hook = break_ids
    client.get_repo(REPO)
    assert gh.violations == [
        f"GET /repos/{REPO}: response 200 body$.id: 'not-an-int' is not of type 'integer'"
    ]


def test_missing_required_response_field_is_a_violation(gh: GitHubServer, client: Github) -> None:
    """A pull request answer lacking a required field is recorded."""
    gh.response_hook = lambda _m, _p, body: {k: v for k, v in body.items() if k != "head"}
    client.get_repo(REPO).get_pull(1)
    assert any("'head' is a required property" in v for v in gh.violations)


def test_undeclared_error_status_must_have_githubs_error_shape(
    gh: GitHubServer, client: Github
) -> None:
    """A 404 the operation does not declare passes with GitHub's error shape, not without it."""
    reviews = f"{gh.api_url}/repos/{REPO}/pulls/99/reviews"
    with pytest.raises(UnknownObjectException):
        client.requester.requestJsonAndCheck("GET", reviews)
    assert gh.violations == []
    gh.response_hook = lambda _m, path, body: {"oops": True} if "/99/" in path else body
    with pytest.raises(GithubException):
        client.requester.requestJsonAndCheck("GET", reviews)
    assert gh.violations == [
        f"GET /repos/{REPO}/pulls/99/reviews: response 404 404: error body lacks a message"
    ]


def test_github_server_fails_the_block_on_violations() -> None:
    """The helper turns recorded violations into an AssertionError when the block ends."""
    with pytest.raises(AssertionError, match="no such operation"), github_server() as server:
        server.add_token("t", login="mchen")
        github_client(server, "t").requester.requestJson("GET", f"{server.api_url}/meta")
    with github_server() as server:
        server.add_token("t", login="mchen")
        assert github_client(server, "t").get_user().login == "mchen"
    check_contract(server)


def test_requests_are_logged_without_the_prefix(gh: GitHubServer, client: Github) -> None:
    """The log lists each answered request as (method, path, status)."""
    client.get_repo(REPO).get_pull(1)
    assert gh.requests == [("GET", f"/repos/{REPO}", 200), ("GET", f"/repos/{REPO}/pulls/1", 200)]


def test_legacy_status_list_is_checked_as_the_documented_one(
    gh: GitHubServer, client: Github
) -> None:
    """PyGithub's legacy `GET .../statuses/{sha}` is validated as `.../commits/{ref}/statuses`."""
    commit = client.get_repo(REPO).get_commit(HEAD)
    commit.create_status("success", context="ci")
    gh.response_hook = lambda _m, path, body: [{"id": 1}] if "/statuses/" in path else body
    assert [s.id for s in commit.get_statuses()] == [1]
    assert any("'state' is a required property" in v for v in gh.violations)


def test_a_fault_of_the_server_is_a_violation(gh: GitHubServer, client: Github) -> None:
    """An exception inside a handler answers 500 and is recorded, not swallowed."""
    gh.data.repositories[0].issues[0].labels = None  # type: ignore[assignment]
    with pytest.raises(GithubException) as error:
        client.get_repo(REPO).get_issue(1)
    assert error.value.status == 500
    assert gh.violations[0].startswith(f"GET /repos/{REPO}/issues/1: server error TypeError")
