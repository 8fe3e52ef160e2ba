"""The local GitHub API server driven by real PyGithub 2.x, one test per operation group.

Every test's server is the `gh` fixture's, run by `github_server()`, so it also fails if any
request or response broke GitHub's published OpenAPI description.
"""

from __future__ import annotations

import base64

import pytest
from github import BadCredentialsException, Github, GithubException, UnknownObjectException

from mlops.testing.github_fixtures import github_client
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
BASE, HEAD, NEXT = "a" * 40, "b" * 40, "c" * 40
BOT, PAT = "bot-token", "pat-token"


@pytest.fixture
def gh(gh: GitHubServer) -> GitHubServer:
    """The server with an org, a team, a repository and pull request #1 (alice's)."""
    gh.add_user("mchen", name="M. Chen")
    gh.add_team("acme", "clinical-ml", members=["mchen"], maintainers=["lead"])
    gh.add_token(BOT, login="github-actions[bot]", can_read_org=False)
    gh.add_token(PAT, login="mchen")
    gh.add_repository(REPO, head_sha=BASE)
    gh.set_collaborator(REPO, "mchen", "maintain")
    gh.add_pull_request(
        REPO,
        author="alice",
        head_ref="feat",
        head_sha=HEAD,
        files=[("models/a/train.py", "modified"), ("models/a/model.yaml", "added")],
        requested_reviewers=["mchen", "lead"],
        requested_teams=["clinical-ml"],
    )
    return gh


@pytest.fixture
def bot(gh: GitHubServer) -> Github:
    return github_client(gh, BOT)


@pytest.fixture
def pat(gh: GitHubServer) -> Github:
    return github_client(gh, PAT)


def test_repository_and_pull_request_reads(gh: GitHubServer, bot: Github) -> None:
    """It answers the repository and pull request with the seeded refs, shas and files."""
    repo = bot.get_repo(REPO)
    assert (repo.full_name, repo.default_branch, repo.owner.login) == (REPO, "main", "acme")
    pr = repo.get_pull(1)
    assert (pr.user.login, pr.state, pr.base.ref, pr.base.sha) == ("alice", "open", "main", BASE)
    assert (pr.head.ref, pr.head.sha, pr.head.repo.full_name) == ("feat", HEAD, REPO)
    assert [(f.filename, f.status) for f in pr.get_files()] == [
        ("models/a/train.py", "modified"),
        ("models/a/model.yaml", "added"),
    ]
    assert pr.url.startswith(gh.api_url)


def test_push_moves_the_pull_request_head(gh: GitHubServer, bot: Github) -> None:
    """It reports the new head sha and changed files after a push."""
    gh.push(REPO, 1, head_sha=NEXT, files=[("models/b/x.py", "renamed")])
    pr = bot.get_repo(REPO).get_pull(1)
    assert pr.head.sha == NEXT
    assert [f.filename for f in pr.get_files()] == ["models/b/x.py"]


def test_reviews_come_in_submission_order(gh: GitHubServer, bot: Github) -> None:
    """It lists reviews oldest first with increasing times; reviewers leave the request list."""
    gh.add_review(REPO, 1, user="lead", state="CHANGES_REQUESTED")
    gh.push(REPO, 1, head_sha=NEXT)
    gh.add_review(REPO, 1, user="mchen", state="APPROVED")
    pr = bot.get_repo(REPO).get_pull(1)
    reviews = list(pr.get_reviews())
    assert [(r.user.login, r.state, r.commit_id) for r in reviews] == [
        ("lead", "CHANGES_REQUESTED", HEAD),
        ("mchen", "APPROVED", NEXT),
    ]
    assert reviews[0].submitted_at < reviews[1].submitted_at
    users, teams = pr.get_review_requests()
    assert [u.login for u in users] == []
    assert [t.slug for t in teams] == ["clinical-ml"]


def test_sticky_comment_is_edited_in_place(gh: GitHubServer, bot: Github) -> None:
    """It keeps exactly one comment when the body is edited twice, by the token's user."""
    pr = bot.get_repo(REPO).get_pull(1)
    pr.create_issue_comment("<!-- mlops -->\nfirst")
    for body in ("<!-- mlops -->\nsecond", "<!-- mlops -->\nthird"):
        (mine,) = [c for c in pr.get_issue_comments() if c.body.startswith("<!-- mlops -->")]
        mine.edit(body)
    (comment,) = gh.comments(REPO, 1)
    assert comment["body"] == "<!-- mlops -->\nthird"
    assert comment["user"] == "github-actions[bot]"
    assert comment["updated_at"] > comment["created_at"]
    fetched = bot.get_repo(REPO).get_issue(1).get_comment(comment["id"])
    assert fetched.body.endswith("third")
    assert fetched.user.type == "Bot"


def test_labels_are_added_and_removed(gh: GitHubServer, bot: Github) -> None:
    """It adds labels once each, removes one, and answers 404 for a label not on the issue."""
    pr = bot.get_repo(REPO).get_pull(1)
    pr.add_to_labels("needs review", "model:a")
    pr.add_to_labels("model:a")
    pr.remove_from_labels("needs review")
    assert [label.name for label in pr.get_labels()] == ["model:a"]
    assert gh.labels(REPO, 1) == ["model:a"]
    with pytest.raises(GithubException) as error:
        pr.remove_from_labels("absent")
    assert (error.value.status, error.value.data["message"]) == (404, "Label does not exist")


def test_commit_statuses_combine_per_context(gh: GitHubServer, bot: Github) -> None:
    """It combines the latest status of each context: pending, then failure, then success."""
    commit = bot.get_repo(REPO).get_commit(HEAD)
    commit.create_status("pending", context="mlops/gate", description="running")
    commit.create_status("success", context="mlops/train", target_url="http://ci.example/1")
    assert commit.get_combined_status().state == "pending"
    commit.create_status("error", context="mlops/gate")
    assert commit.get_combined_status().state == "failure"
    commit.create_status("success", context="mlops/gate")
    combined = commit.get_combined_status()
    assert (combined.state, combined.total_count, combined.sha) == ("success", 2, HEAD)
    assert [s.state for s in commit.get_statuses()] == ["success", "error", "success", "pending"]
    assert {s["creator"] for s in gh.statuses(REPO, HEAD)} == {"github-actions[bot]"}


def test_status_on_an_unknown_commit_is_refused(gh: GitHubServer, bot: Github) -> None:
    """It answers 422 for a commit, or a status on a commit, the repository does not have."""
    repo = bot.get_repo(REPO)
    with pytest.raises(GithubException) as error:
        repo.get_commit("f" * 40)
    assert error.value.status == 422
    with pytest.raises(GithubException) as error:
        bot.requester.requestJsonAndCheck(
            "POST", f"{repo.url}/statuses/{'f' * 40}", input={"state": "success"}
        )
    assert (error.value.status, error.value.data["message"]) == (
        422,
        f"No commit found for SHA: {'f' * 40}",
    )
    assert gh.statuses(REPO) == []


def test_check_runs_are_created_and_completed(gh: GitHubServer, bot: Github) -> None:
    """It creates an in-progress check run (conclusion null), completes it and lists it."""
    repo = bot.get_repo(REPO)
    run = repo.create_check_run("mlops/gate", HEAD, status="in_progress")
    assert run.conclusion is None
    annotation = {"path": "models/a/model.yaml", "start_line": 3, "end_line": 3}
    annotation |= {"annotation_level": "failure", "message": "AUC regressed"}
    run.edit(
        conclusion="failure",
        output={"title": "Gate", "summary": "1 problem", "annotations": [annotation]},
    )
    (listed,) = repo.get_commit(HEAD).get_check_runs()
    assert (listed.name, listed.status, listed.conclusion) == ("mlops/gate", "completed", "failure")
    assert listed.output.annotations_count == 1
    assert listed.pull_requests[0].number == 1
    assert gh.check_runs(REPO, HEAD)[0]["app"] == "github-actions"


def test_check_runs_need_an_app_token(gh: GitHubServer, pat: Github) -> None:
    """It refuses a check run from a personal token with 403, as GitHub does."""
    with pytest.raises(GithubException) as error:
        pat.get_repo(REPO).create_check_run("mlops/gate", HEAD)
    assert error.value.status == 403


def test_deployments_and_auto_inactive_statuses(gh: GitHubServer, bot: Github) -> None:
    """A successful deployment marks the earlier successful one of its environment inactive."""
    repo = bot.get_repo(REPO)
    first = repo.create_deployment("main", environment="production", required_contexts=[])
    first.create_status("success", environment_url="http://models.example/")
    second = repo.create_deployment("feat", environment="production", required_contexts=[])
    second.create_status("in_progress")
    second.create_status("success", description="blue/green switched")
    staging = repo.create_deployment("main", environment="staging", required_contexts=[])
    assert [d.id for d in repo.get_deployments(environment="production")] == [second.id, first.id]
    assert [s.state for s in repo.get_deployment(first.id).get_statuses()] == [
        "inactive",
        "success",
    ]
    assert [s["state"] for s in gh.deployment_statuses(REPO, second.id)] == [
        "in_progress",
        "success",
    ]
    assert (first.sha, second.sha, staging.environment) == (BASE, HEAD, "staging")


def test_deployment_waits_for_required_contexts(gh: GitHubServer, bot: Github) -> None:
    """It answers 409 while a status context on the ref is not success, then deploys."""
    repo = bot.get_repo(REPO)
    repo.get_commit(HEAD).create_status("failure", context="mlops/gate")
    with pytest.raises(GithubException) as error:
        repo.create_deployment("feat", environment="production")
    assert error.value.status == 409
    repo.get_commit(HEAD).create_status("success", context="mlops/gate")
    assert repo.create_deployment("feat", environment="production").sha == HEAD


def test_issues_filter_by_state_and_labels(gh: GitHubServer, bot: Github) -> None:
    """It lists open drift issues (pull requests too, like GitHub) and closes one."""
    repo = bot.get_repo(REPO)
    drift = repo.create_issue("Drift in model a", body="PSI 0.3", labels=["drift", "model:a"])
    repo.create_issue("Unrelated", labels=["question"], assignees=["mchen", "nobody"])
    repo.get_pull(1).add_to_labels("drift")
    found = repo.get_issues(state="open", labels=["drift"])
    assert [(i.number, i.pull_request is not None) for i in found] == [(2, False), (1, True)]
    repo.get_issue(drift.number).edit(state="closed")
    assert [i.number for i in repo.get_issues(state="open", labels=["drift"])] == [1]
    assert [i["number"] for i in gh.issues(REPO, state="closed")] == [2]
    assert gh.issues(REPO, state="open")[0]["assignees"] == ["mchen"]


def test_team_reads_with_a_personal_token(gh: GitHubServer, pat: Github) -> None:
    """A token that may read the org sees roles and members; a non-member is 404."""
    team = pat.get_organization("acme").get_team_by_slug("clinical-ml")
    assert team.get_team_membership("mchen").role == "member"
    assert team.get_team_membership("lead").role == "maintainer"
    assert sorted(u.login for u in team.get_members()) == ["lead", "mchen"]
    with pytest.raises(UnknownObjectException):
        team.get_team_membership("alice")


def test_team_reads_are_hidden_from_github_token(gh: GitHubServer, bot: Github) -> None:
    """The default GITHUB_TOKEN gets 404 from team endpoints, as on GitHub."""
    org = bot.get_organization("acme")
    with pytest.raises(UnknownObjectException):
        org.get_team_by_slug("clinical-ml").get_team_membership("mchen")


def test_collaborator_permission(gh: GitHubServer, bot: Github) -> None:
    """It reports the legacy permission and the role of collaborators, owner and outsiders."""
    repo = bot.get_repo(REPO)
    assert repo.get_collaborator_permission("mchen") == "write"
    assert gh.to_json()["repositories"][0]["collaborators"] == {"mchen": "maintain"}
    assert repo.get_collaborator_permission("acme") == "admin"
    assert repo.get_collaborator_permission("alice") == "read"


def test_contents_at_a_ref(gh: GitHubServer, bot: Github) -> None:
    """It answers base64 content at a sha or branch, and 404 where the file is missing."""
    text = "* @acme/clinical-ml\n/models/a/ @mchen\n" * 20
    gh.set_file(REPO, ref=BASE, path=".github/CODEOWNERS", content=text)
    repo = bot.get_repo(REPO)
    found = repo.get_contents(".github/CODEOWNERS", ref=BASE)
    assert not isinstance(found, list)
    assert found.decoded_content.decode() == text
    assert base64.b64decode(found.content) == text.encode()
    assert repo.get_contents(".github/CODEOWNERS", ref="main").path == ".github/CODEOWNERS"
    with pytest.raises(UnknownObjectException):
        repo.get_contents(".github/CODEOWNERS", ref=HEAD)
    with pytest.raises(UnknownObjectException):
        repo.get_contents("CODEOWNERS", ref=BASE)


def test_users(gh: GitHubServer, bot: Github, pat: Github) -> None:
    """A personal token reads /user; an installation token gets 403 there, as on GitHub."""
    assert pat.get_user().login == "mchen"
    assert bot.get_user("mchen").name == "M. Chen"
    with pytest.raises(GithubException) as error:
        _ = bot.get_user().login
    assert error.value.status == 403


def test_pagination_across_pages(gh: GitHubServer) -> None:
    """It pages 150 comments with Link headers that PyGithub follows to the end."""
    for n in range(150):
        gh.add_comment(REPO, 1, user="mchen", body=f"comment {n}")
    client = github_client(gh, BOT, per_page=100)
    comments = client.get_repo(REPO).get_issue(1).get_comments()
    assert [c.body for c in comments] == [f"comment {n}" for n in range(150)]
    pages = [p for m, p, _ in gh.requests if m == "GET" and p.endswith("/issues/1/comments")]
    assert len(pages) == 2
    assert github_client(gh, BOT).get_repo(REPO).get_issue(1).get_comments().totalCount == 150


def test_link_headers_point_back_to_the_server(gh: GitHubServer, bot: Github) -> None:
    """Link headers keep the query, use the server's own prefix and name next/last/first/prev."""
    for n in range(5):
        gh.add_comment(REPO, 1, user="mchen", body=f"comment {n}")
    url = f"{gh.api_url}/repos/{REPO}/issues/1/comments"
    headers, page = bot.requester.requestJsonAndCheck(
        "GET", url, parameters={"per_page": 2, "page": 2}
    )
    assert [c["body"] for c in page] == ["comment 2", "comment 3"]
    links = {rel: target for target, rel in (p.split("; ") for p in headers["link"].split(", "))}
    assert links == {
        'rel="next"': f"<{url}?per_page=2&page=3>",
        'rel="last"': f"<{url}?per_page=2&page=3>",
        'rel="first"': f"<{url}?per_page=2&page=1>",
        'rel="prev"': f"<{url}?per_page=2&page=1>",
    }


def test_requests_without_a_known_token_are_401(gh: GitHubServer) -> None:
    """It answers 401 with GitHub's error body to no token and to an unknown token."""
    anonymous = Github(base_url=gh.api_url, retry=None, seconds_between_requests=None)
    with pytest.raises(GithubException) as error:
        anonymous.get_repo(REPO)
    assert (error.value.status, error.value.data["message"]) == (401, "Requires authentication")
    with pytest.raises(BadCredentialsException):
        github_client(gh, "guessed").get_repo(REPO)


def test_read_only_token_cannot_write(gh: GitHubServer) -> None:
    """A fork's read-only token reads but gets 403 on writes; nothing is written."""
    gh.add_token("fork-token", login="github-actions[bot]", read_only=True)
    client = github_client(gh, "fork-token")
    pr = client.get_repo(REPO).get_pull(1)
    with pytest.raises(GithubException) as error:
        pr.create_issue_comment("hello")
    assert error.value.status == 403
    assert error.value.data["message"] == "Resource not accessible by integration"
    assert gh.comments(REPO, 1) == []


def test_fork_pull_request_names_the_fork(gh: GitHubServer, bot: Github) -> None:
    """A pull request from a fork has the fork as head repository."""
    number = gh.add_pull_request(
        REPO, author="eve", head_ref="patch", head_sha=NEXT, head_repo="eve/models"
    )
    pr = bot.get_repo(REPO).get_pull(number)
    assert (number, pr.head.repo.full_name, pr.head.user.login) == (2, "eve/models", "eve")
    assert pr.base.repo.full_name == REPO


def test_merge_moves_the_base_branch(gh: GitHubServer, bot: Github) -> None:
    """Merging closes the pull request and moves the base branch to the merge commit."""
    sha = gh.merge(REPO, 1, by="mchen")
    repo = bot.get_repo(REPO)
    pr = repo.get_pull(1)
    assert (pr.merged, pr.state, pr.merge_commit_sha, pr.merged_by.login) == (
        True,
        "closed",
        sha,
        "mchen",
    )
    assert repo.get_commit("main").sha == sha


def test_pull_requests_of_a_commit(gh: GitHubServer, bot: Github) -> None:
    """A commit lists the pull requests containing it, open ones too until it reaches the
    default branch; then only the merged one, also found from its merge commit."""
    gh.add_commit(REPO, HEAD, parents=(BASE,))
    gh.add_commit(REPO, NEXT, parents=(HEAD,))
    stacked = gh.add_pull_request(
        REPO, author="eve", head_ref="next", head_sha=NEXT, base_sha=BASE, labels=["stacked"]
    )
    repo = bot.get_repo(REPO)

    def pulls(sha: str) -> list[tuple[int, str, bool]]:
        found = repo.get_commit(sha).get_pulls()
        return [(p.number, p.state, p.merged_at is not None) for p in found]

    assert pulls(HEAD) == [(1, "open", False), (stacked, "open", False)]
    assert pulls(NEXT) == [(stacked, "open", False)]
    merge = gh.merge(REPO, 1, by="mchen")
    assert pulls(merge) == [(1, "closed", True)]
    assert pulls(HEAD) == [(1, "closed", True)]
    (pull,) = repo.get_commit(merge).get_pulls()
    assert (pull.merge_commit_sha, pull.head.sha, pull.base.ref) == (merge, HEAD, "main")
    assert pulls(BASE) == []
    with pytest.raises(GithubException) as error:
        pulls("d" * 40)
    assert error.value.status == 422
    assert error.value.data["message"] == f"No commit found for SHA: {'d' * 40}"
