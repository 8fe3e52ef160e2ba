"""A pull request on the local GitHub API server, seeded as the platform's workflows find it.

Tests and benchmarks of `mlops gate` and `mlops report` arrange the same state: the repository
with its base commit on the default branch and the change on a branch, the open pull request
that names its changed files, an owner's approval of the head commit, and the check run that
`mlops report` leaves on a head whose gates pass. These functions make that state on a server
(running or not) so that every caller builds it the same way::

    number = open_pull_request(gh, "acme/models", author="alice", branch="tune",
                               base=base, head=head, files=[("models/m/params.yaml", "modified")])
    approve(gh, "acme/models", number, "mchen")
    passing_check_run(gh, "acme/models", "m", head)
"""

from __future__ import annotations

from collections.abc import Iterable

from mlops.adapters.github import CHECK_PREFIX
from mlops.core.checks import DEFAULT_APP as WORKFLOW_APP  # the app of a workflow's GITHUB_TOKEN
from mlops.testing.github_seeding import GitHubSeeding


def open_pull_request(
    server: GitHubSeeding,
    repo: str,
    *,
    author: str,
    branch: str,
    base: str,
    head: str,
    files: Iterable[tuple[str, str]],
    number: int | None = None,
    default_branch: str = "main",
) -> int:
    """Create `repo` with commit `base` on `default_branch` and `head` (a child of `base`) on
    `branch`, and an open pull request by `author` from `branch` changing `files`
    ((path, status) pairs). Returns its number (`number`, or the next free one)."""
    server.add_repository(repo, default_branch=default_branch)
    server.add_commit(repo, base, branch=default_branch)
    server.add_commit(repo, head, parents=(base,), branch=branch)
    return server.add_pull_request(
        repo, author=author, head_ref=branch, head_sha=head, base_ref=default_branch,
        base_sha=base, files=list(files), number=number,
    )  # fmt: skip


def approve(
    server: GitHubSeeding, repo: str, number: int, *reviewers: str, commit: str | None = None
) -> None:
    """An approving review by each of `reviewers` on `commit` (default: the current head)."""
    for reviewer in reviewers:
        server.add_review(repo, number, user=reviewer, state="APPROVED", commit_id=commit)


def passing_check_run(server: GitHubSeeding, repo: str, model: str, head_sha: str) -> int:
    """The check run `mlops report` leaves on `head_sha` when `model` passes every gate: named
    for the model, completed with success, created by the workflow's app. Returns its id."""
    fields = {
        "name": f"{CHECK_PREFIX}{model}",
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": "success",
        "output": {"title": "passes every gate", "summary": "passes every gate"},
    }
    with server.lock:  # a running server's thread reads the state concurrently
        return server.create_check_run(repo, WORKFLOW_APP, fields).id
