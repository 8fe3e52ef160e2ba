"""Handlers of the local GitHub API server for pull requests: listing and opening them, reading
one, its changed files, reviews and requested reviewers. A pull request is also an issue
(`github_model.Issue` with `pull` set, numbered with the issues), so its labels and comments
are served by the issue handlers. Importing this module registers them.

The list filters like GitHub's: `state` (open by default), `base`, and `head` as `owner:branch`
(a `head` without its owner is ignored, as GitHub ignores it). It sorts by `created` (newest
first by default), `updated` or `popularity` (comments; both oldest or least first by default);
`long-running` sorts like `created`, without GitHub's one-month limits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops.testing.github_model import Issue, Pull, Repository
from mlops.testing.github_routes import Call, Listing, Reply, handles

# GitHub lists at most 3000 changed files of a pull request.
MAX_PULL_FILES = 3000
SORT_KEYS: dict[str, Callable[[Issue], Any]] = {
    "created": lambda i: (i.created_at, i.number),
    "updated": lambda i: (i.updated_at, i.number),
    "popularity": lambda i: (len(i.comments), i.number),
    "long-running": lambda i: (i.created_at, i.number),
}


def _head(repo: Repository, pull: Pull) -> tuple[str, str]:
    """The head of a pull request as GitHub labels it, (owner in lower case, branch)."""
    owner = (pull.head_repo or repo.full_name).split("/", 1)[0]
    return owner.lower(), pull.head_ref


@handles("get", "{R}/pulls")
def list_pulls(call: Call) -> Reply:
    repo, query = call.repo(), call.query
    state = query.get("state", "open")
    pulls = [(i, i.pull) for i in repo.issues if i.pull and state in ("all", i.state)]
    owner, colon, branch = query.get("head", "").partition(":")
    if colon:
        pulls = [(i, p) for i, p in pulls if _head(repo, p) == (owner.lower(), branch)]
    if "base" in query:
        pulls = [(i, p) for i, p in pulls if p.base_ref == query["base"]]
    sort = query.get("sort", "created")
    descending = query.get("direction", "desc" if sort == "created" else "asc") == "desc"
    found = sorted((i for i, _ in pulls), key=SORT_KEYS[sort], reverse=descending)
    return Listing(found, lambda i: call.out.pull_simple(repo, i))


@handles("post", "{R}/pulls")
def create_pull(call: Call) -> Reply:
    issue = call.state.create_pull(call.repo_name, call.login, call.body)
    return 201, call.out.pull(call.repo(), issue)


@handles("get", "{R}/pulls/{pull_number}")
def get_pull(call: Call) -> Reply:
    issue, _ = call.state.pull(call.repo_name, call.number("pull_number"))
    return 200, call.out.pull(call.repo(), issue)


@handles("get", "{R}/pulls/{pull_number}/files")
def list_pull_files(call: Call) -> Reply:
    repo = call.repo()
    _, pull = call.state.pull(repo.full_name, call.number("pull_number"))
    return Listing(pull.files[:MAX_PULL_FILES], lambda f: call.out.diff_entry(repo, pull, f))


@handles("get", "{R}/pulls/{pull_number}/reviews")
def list_reviews(call: Call) -> Reply:
    repo = call.repo()
    issue, pull = call.state.pull(repo.full_name, call.number("pull_number"))
    ordered = sorted(pull.reviews, key=lambda r: (r.submitted_at, r.id))
    return Listing(ordered, lambda r: call.out.review(repo, issue, r))


@handles("get", "{R}/pulls/{pull_number}/requested_reviewers")
def list_requested_reviewers(call: Call) -> Reply:
    repo = call.repo()
    _, pull = call.state.pull(repo.full_name, call.number("pull_number"))
    users = [call.out.user(u) for u in pull.requested_reviewers]
    teams = [call.out.team(t) for t in call.out.requested_teams(repo, pull)]
    return 200, {"users": users, "teams": teams}
