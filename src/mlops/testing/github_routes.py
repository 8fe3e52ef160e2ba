"""Handlers of the local GitHub API server, one per documented operation.

A handler takes a `Call` (the matched route, query, JSON body, token and state) and returns
`(status, body)` or a `Listing` the server paginates. Missing things raise `GitHubError`.
Lists come in GitHub's orders: issues, deployments, deployment statuses and commit statuses
newest first; comments, reviews, labels, changed files and a commit's pull requests oldest
first. Like GitHub, the issue list includes pull requests (they carry a `pull_request` key).
Pull requests (`github_routes_pulls`) and repository settings (`github_routes_admin`) have
their own modules, registered when the server imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from mlops.testing.github_admin import GitHubAdmin
from mlops.testing.github_model import Issue, Repository, Token
from mlops.testing.github_payloads_admin import AdminPayloads
from mlops.testing.github_state import GitHubError

JSON = dict[str, Any]


@dataclass
class Listing:
    """A list answer: `build` turns each item of the requested page into JSON; with `key`
    the page is wrapped as {"total_count": n, key: [...]}. A page holds at most
    `max_per_page` items, whatever `per_page` asks for."""

    items: list[Any]
    build: Callable[[Any], Any]
    key: str | None = None
    max_per_page: int = 100


Reply = tuple[int, Any] | Listing


@dataclass
class Call:
    state: GitHubAdmin
    out: AdminPayloads
    params: dict[str, str]
    query: MultiDict[str, str]
    body: Any
    token: Token

    @property
    def login(self) -> str:
        return self.token.login

    @property
    def repo_name(self) -> str:
        return f"{self.params['owner']}/{self.params['repo']}"

    def repo(self) -> Repository:
        return self.state.repository(self.repo_name)

    def number(self, name: str) -> int:
        return int(self.params[name])

    def issue(self, name: str = "issue_number") -> Issue:
        return self.state.issue(self.repo_name, self.number(name))


HANDLERS: dict[tuple[str, str], Callable[[Call], Reply]] = {}
R = "/repos/{owner}/{repo}"


def handles(method: str, path: str) -> Callable[[Callable[[Call], Reply]], Callable[[Call], Reply]]:
    def register(handler: Callable[[Call], Reply]) -> Callable[[Call], Reply]:
        HANDLERS[(method, path.replace("{R}", R))] = handler
        return handler

    return register


# accounts and teams ------------------------------------------------------------------------


@handles("get", "/user")
def get_authenticated_user(call: Call) -> Reply:
    if call.token.app:
        raise GitHubError(403, "Resource not accessible by integration")
    return 200, call.out.full_user(call.login, private=True)


@handles("get", "/users/{username}")
def get_user(call: Call) -> Reply:
    user = call.state.user(call.params["username"])
    return 200, call.out.full_user(user.login, private=False)


@handles("get", "/orgs/{org}")
def get_org(call: Call) -> Reply:
    org = call.state.user(call.params["org"])
    if org.type != "Organization":
        raise GitHubError(404, "Not Found")
    return 200, call.out.organization(org.login)


def _team_call(call: Call) -> tuple[str, str]:
    if not call.token.can_read_org:
        raise GitHubError(404, "Not Found")
    team = call.state.team(call.params["org"], call.params["team_slug"])
    return team.org, team.slug


@handles("get", "/orgs/{org}/teams/{team_slug}")
def get_team(call: Call) -> Reply:
    return 200, call.out.team(call.state.team(*_team_call(call)), full=True)


@handles("get", "/orgs/{org}/teams/{team_slug}/members")
def list_team_members(call: Call) -> Reply:
    team = call.state.team(*_team_call(call))
    role = call.query.get("role", "all")
    members = {"member": team.members, "maintainer": team.maintainers}.get(role)
    logins = members if members is not None else [*team.maintainers, *team.members]
    unique = list(dict.fromkeys(logins))
    return Listing(unique, call.out.user)


@handles("get", "/orgs/{org}/teams/{team_slug}/memberships/{username}")
def get_membership(call: Call) -> Reply:
    org, slug = _team_call(call)
    login = call.params["username"]
    role = call.state.membership_role(org, slug, login)
    if role is None:
        raise GitHubError(404, "Not Found")
    url = f"{call.out.api}/orgs/{org}/teams/{slug}/memberships/{login}"
    return 200, {"url": url, "role": role, "state": "active"}


# repositories, commits, contents -----------------------------------------------------------


@handles("get", "{R}")
def get_repo(call: Call) -> Reply:
    return 200, call.out.repository(call.repo().full_name, full=True)


@handles("get", "{R}/collaborators/{username}/permission")
def get_permission(call: Call) -> Reply:
    return 200, call.out.collaborator(call.repo().full_name, call.params["username"])


@handles("get", "{R}/contents/{path}")
def get_contents(call: Call) -> Reply:
    repo = call.repo()
    ref = call.query.get("ref") or repo.default_branch
    file = call.state.file_at(repo, ref, call.params["path"].strip("/"))
    if file is None:
        raise GitHubError(404, "Not Found")
    return 200, call.out.content_file(repo, file, ref)


@handles("get", "{R}/codeowners/errors")
def get_codeowners_errors(call: Call) -> Reply:
    return 200, {"errors": call.repo().codeowners_errors}


@handles("get", "{R}/commits/{ref}")
def get_commit(call: Call) -> Reply:
    repo = call.repo()
    sha = call.state.commit_sha(repo, call.params["ref"])
    return 200, call.out.commit(repo, next(c for c in repo.commits if c.sha == sha))


@handles("get", "{R}/commits/{ref}/status")
def get_combined_status(call: Call) -> Reply:
    repo = call.repo()
    sha = call.state.resolve(repo, call.params["ref"])
    if sha is None:
        raise GitHubError(404, "Not Found")
    return 200, call.out.combined_status(repo, sha)


@handles("get", "{R}/commits/{ref}/statuses")
def list_statuses(call: Call) -> Reply:
    repo = call.repo()
    sha = call.state.resolve(repo, call.params["ref"])
    found = [s for s in reversed(repo.statuses) if s.sha == sha]
    return Listing(found, lambda s: call.out.status(repo, s))


@handles("get", "{R}/commits/{commit_sha}/pulls")
def list_pulls_of_commit(call: Call) -> Reply:
    repo = call.repo()
    sha = call.state.commit_sha(repo, call.params["commit_sha"])
    found = call.state.pulls_of_commit(repo, sha)
    return Listing(found, lambda i: call.out.pull_simple(repo, i))


@handles("post", "{R}/statuses/{sha}")
def create_status(call: Call) -> Reply:
    body = call.body
    status = call.state.create_status(
        call.repo_name, call.params["sha"], body["state"], body.get("context") or "default",
        body.get("description"), body.get("target_url"), call.login,
    )  # fmt: skip
    return 201, call.out.status(call.repo(), status)


# check runs --------------------------------------------------------------------------------


@handles("post", "{R}/check-runs")
def create_check_run(call: Call) -> Reply:
    if not call.token.app:
        raise GitHubError(403, "You must authenticate via a GitHub App.")
    run = call.state.create_check_run(call.repo_name, call.token.app, call.body)
    return 201, call.out.check_run(call.repo(), run)


@handles("get", "{R}/check-runs/{check_run_id}")
def get_check_run(call: Call) -> Reply:
    repo, run = call.state.check_run(call.repo_name, call.number("check_run_id"))
    return 200, call.out.check_run(repo, run)


@handles("patch", "{R}/check-runs/{check_run_id}")
def update_check_run(call: Call) -> Reply:
    if not call.token.app:
        raise GitHubError(403, "You must authenticate via a GitHub App.")
    repo, run = call.state.check_run(call.repo_name, call.number("check_run_id"))
    if run.app != call.token.app:  # an app may change only its own check runs
        raise GitHubError(403, "Resource not accessible by integration")
    return 200, call.out.check_run(repo, call.state.update_check_run(repo, run, call.body))


@handles("get", "{R}/commits/{ref}/check-runs")
def list_check_runs(call: Call) -> Reply:
    repo = call.repo()
    sha = call.state.resolve(repo, call.params["ref"])
    runs = [r for r in reversed(repo.check_runs) if r.head_sha == sha]
    if "check_name" in call.query:
        runs = [r for r in runs if r.name == call.query["check_name"]]
    if "status" in call.query:
        runs = [r for r in runs if r.status == call.query["status"]]
    if call.query.get("filter", "latest") == "latest":
        runs = list({r.name: r for r in reversed(runs)}.values())[::-1]
    return Listing(runs, lambda r: call.out.check_run(repo, r), key="check_runs")


# deployments -------------------------------------------------------------------------------


@handles("get", "{R}/deployments")
def list_deployments(call: Call) -> Reply:
    repo = call.repo()
    found = list(reversed(repo.deployments))
    for name in ("sha", "ref", "task", "environment"):
        value = call.query.get(name)
        if value is not None and value != "none":
            found = [d for d in found if getattr(d, name) == value]
    return Listing(found, lambda d: call.out.deployment(repo, d))


@handles("post", "{R}/deployments")
def create_deployment(call: Call) -> Reply:
    deployment = call.state.create_deployment(call.repo_name, call.login, call.body)
    return 201, call.out.deployment(call.repo(), deployment)


@handles("get", "{R}/deployments/{deployment_id}")
def get_deployment(call: Call) -> Reply:
    repo, deployment = call.state.deployment(call.repo_name, call.number("deployment_id"))
    return 200, call.out.deployment(repo, deployment)


@handles("get", "{R}/deployments/{deployment_id}/statuses")
def list_deployment_statuses(call: Call) -> Reply:
    repo, deployment = call.state.deployment(call.repo_name, call.number("deployment_id"))
    found = list(reversed(deployment.statuses))
    return Listing(found, lambda s: call.out.deployment_status(repo, deployment, s))


@handles("post", "{R}/deployments/{deployment_id}/statuses")
def create_deployment_status(call: Call) -> Reply:
    number = call.number("deployment_id")
    status = call.state.create_deployment_status(call.repo_name, number, call.login, call.body)
    repo, deployment = call.state.deployment(call.repo_name, number)
    return 201, call.out.deployment_status(repo, deployment, status)


# issues, comments, labels ------------------------------------------------------------------


@handles("get", "{R}/issues")
def list_issues(call: Call) -> Reply:
    repo, query = call.repo(), call.query
    state = query.get("state", "open")
    found = [i for i in repo.issues if state in ("all", i.state)]
    wanted = {n.strip().lower() for n in query.get("labels", "").split(",") if n.strip()}
    found = [i for i in found if wanted <= {n.lower() for n in i.labels}]
    if "creator" in query:
        found = [i for i in found if i.user.lower() == query["creator"].lower()]
    assignee = query.get("assignee", "*")
    if assignee == "none":
        found = [i for i in found if not i.assignees]
    elif assignee != "*":
        found = [i for i in found if assignee.lower() in (a.lower() for a in i.assignees)]
    keys: dict[str, Callable[[Issue], Any]] = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (len(i.comments), i.number),
    }
    found.sort(key=keys[query.get("sort", "created")], reverse=query.get("direction") != "asc")
    return Listing(found, lambda i: call.out.issue(repo, i))


@handles("post", "{R}/issues")
def create_issue(call: Call) -> Reply:
    issue = call.state.create_issue(call.repo_name, call.login, call.body)
    return 201, call.out.issue(call.repo(), issue)


@handles("get", "{R}/issues/{issue_number}")
def get_issue(call: Call) -> Reply:
    return 200, call.out.issue(call.repo(), call.issue())


@handles("patch", "{R}/issues/{issue_number}")
def update_issue(call: Call) -> Reply:
    issue = call.state.edit_issue(
        call.repo_name, call.number("issue_number"), call.login, call.body
    )
    return 200, call.out.issue(call.repo(), issue)


@handles("get", "{R}/issues/{issue_number}/comments")
def list_comments(call: Call) -> Reply:
    repo, issue = call.repo(), call.issue()
    return Listing(issue.comments, lambda c: call.out.comment(repo, issue, c))


@handles("post", "{R}/issues/{issue_number}/comments")
def create_comment(call: Call) -> Reply:
    number = call.number("issue_number")
    comment = call.state.create_comment(call.repo_name, number, call.login, call.body["body"])
    return 201, call.out.comment(call.repo(), call.issue(), comment)


@handles("get", "{R}/issues/comments/{comment_id}")
def get_comment(call: Call) -> Reply:
    issue, comment = call.state.comment(call.repo_name, call.number("comment_id"))
    return 200, call.out.comment(call.repo(), issue, comment)


@handles("patch", "{R}/issues/comments/{comment_id}")
def update_comment(call: Call) -> Reply:
    comment_id = call.number("comment_id")
    comment = call.state.edit_comment(call.repo_name, comment_id, call.body["body"])
    issue, _ = call.state.comment(call.repo_name, comment_id)
    return 200, call.out.comment(call.repo(), issue, comment)


def _labels(call: Call, issue: Issue) -> Listing:
    repo = call.repo()
    return Listing(list(issue.labels), lambda name: call.out.label(repo, name))


@handles("get", "{R}/issues/{issue_number}/labels")
def list_labels(call: Call) -> Reply:
    return _labels(call, call.issue())


@handles("post", "{R}/issues/{issue_number}/labels")
def add_labels(call: Call) -> Reply:
    body = call.body
    items = body.get("labels") or [] if isinstance(body, dict) else body or []
    names = [v if isinstance(v, str) else v["name"] for v in items]
    issue = call.state.add_labels(call.repo_name, call.number("issue_number"), names)
    return _labels(call, issue)


@handles("delete", "{R}/issues/{issue_number}/labels/{name}")
def remove_label(call: Call) -> Reply:
    number = call.number("issue_number")
    issue = call.state.remove_label(call.repo_name, number, call.params["name"])
    return _labels(call, issue)
