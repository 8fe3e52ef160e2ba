"""Handlers of the local GitHub API server for pull requests: reading one, its changed files,
reviews and requested reviewers. A pull request is also an issue (`github_model.Issue` with
`pull` set), so its labels and comments are served by the issue handlers. Importing this
module registers them."""

from __future__ import annotations

from mlops.testing.github_routes import Call, Listing, Reply, handles

# GitHub lists at most 3000 changed files of a pull request.
MAX_PULL_FILES = 3000


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
