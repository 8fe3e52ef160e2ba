"""GitHub through PyGithub: the pull request, its reviews, the report comment, statuses, checks.

Every call goes through one client made from the environment the Actions runner provides
(`GITHUB_TOKEN`, `GITHUB_API_URL`, `GITHUB_REPOSITORY`, `GITHUB_EVENT_PATH`). PyGithub's
throttling and retries (which protect against GitHub's secondary rate limits) stay on unless
`MLOPS_GITHUB_THROTTLE=off`, which the test suite sets for its local server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlops.core.approval import Review
from mlops.core.stages import PRODUCTION
from mlops.errors import MlopsError, UsageError

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

T = TypeVar("T")
DEFAULT_API = "https://api.github.com"
CHECK_PREFIX = "mlops: "


class GitHubError(MlopsError):
    """GitHub refused or failed a request (`status`: its HTTP status, None when GitHub did
    not answer)."""

    status: int | None = None


@dataclass(frozen=True)
class PullRequest:
    number: int
    author: str
    head_sha: str
    base_sha: str
    base_ref: str
    fork: bool
    url: str


@dataclass(frozen=True)
class CheckRun:
    name: str
    conclusion: str | None
    summary: str
    text: str
    app: str | None = None  # the slug of the GitHub App that wrote it
    head_sha: str = ""


def repository_name(explicit: str | None = None) -> str:
    name = explicit or os.environ.get("GITHUB_REPOSITORY")
    if not name or "/" not in name:
        raise UsageError("no repository: pass --repository OWNER/NAME or set GITHUB_REPOSITORY")
    return name


def event_pull_number() -> int | None:
    """The pull request number of the event that started this workflow run, if any."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if isinstance(number, int) else None


def _client(token: str) -> Github:
    from github import Auth, Github

    fast = os.environ.get("MLOPS_GITHUB_THROTTLE", "").lower() == "off"
    options: dict[str, Any] = (
        {"retry": None, "seconds_between_requests": None, "seconds_between_writes": None}
        if fast
        else {}
    )
    return Github(
        auth=Auth.Token(token),
        base_url=os.environ.get("GITHUB_API_URL") or DEFAULT_API,
        timeout=15,
        per_page=100,
        lazy=True,
        **options,
    )


class GitHub:
    """One repository on GitHub (or on a server speaking its REST API).

    Team membership is read with `MLOPS_TEAMS_TOKEN` when it is set: a workflow's own
    GITHUB_TOKEN may never read an organisation's teams, so a team named in CODEOWNERS needs a
    token that may (a GitHub App's installation token with the organisation's Members: read
    permission, or a fine-grained personal token with the same), used for nothing else.
    """

    def __init__(self, repository: str, token: str | None = None) -> None:
        token = token or os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
        if not token:
            raise UsageError("no GitHub token: set GITHUB_TOKEN")
        self.client = _client(token)
        teams_token = os.environ.get("MLOPS_TEAMS_TOKEN")
        self.teams_client = _client(teams_token) if teams_token else self.client
        self.name = repository
        self._repo: Repository | None = None

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self._repo = self._call("read the repository", self.client.get_repo, self.name)
        return self._repo

    def pull_request(self, number: int) -> PullRequest:
        pr = self._call(f"read pull request #{number}", self.repo.get_pull, number)
        head_repo = pr.head.repo.full_name if pr.head.repo is not None else None
        return PullRequest(
            number=number,
            author=pr.user.login,
            head_sha=pr.head.sha,
            base_sha=pr.base.sha,
            base_ref=pr.base.ref,
            fork=head_repo != self.name,
            url=pr.html_url,
        )

    def pulls_of_commit(self, sha: str) -> list[int]:
        """The merged pull requests that brought commit `sha` in, as numbers.

        GitHub lists the pull requests associated with a commit: the one whose merge commit
        it is (merge, squash or rebase) and those whose commits include it. Only merged ones
        count (`merged_at` set). When some have `sha` (a full sha) as their merge commit,
        only those are returned: the commit is exactly what GitHub merged. Otherwise every
        merged pull request containing the commit is, ascending (several when stacked pull
        requests shared it).
        """

        def read() -> list[int]:
            merged = [p for p in self.repo.get_commit(sha).get_pulls() if p.merged_at]
            exact = [p for p in merged if p.merge_commit_sha == sha]
            return sorted(p.number for p in exact or merged)

        return self._call(f"find the pull request of commit {sha[:12]}", read)

    def reviews(self, number: int) -> list[Review]:
        def read() -> list[Review]:
            pr = self.repo.get_pull(number)
            return [
                Review(
                    user=r.user.login if r.user else "",
                    state=r.state,
                    commit_id=r.commit_id or "",
                    submitted_at=r.submitted_at.isoformat() if r.submitted_at else "",
                )
                for r in pr.get_reviews()
            ]

        return self._call(f"read the reviews of #{number}", read)

    def team_members(self, org: str, slug: str) -> list[str] | None:
        """Logins in a team, or None when the token may not read team membership."""
        from github import GithubException

        try:
            team = self.teams_client.get_organization(org).get_team_by_slug(slug)
            return [member.login for member in team.get_members()]
        except GithubException as exc:
            if exc.status in (403, 404):
                return None
            raise _error(f"read team @{org}/{slug}", exc) from None

    def upsert_comment(self, number: int, marker: str, body: str) -> str:
        """Edit the one comment carrying `marker`, or create it; returns its URL."""

        def write() -> str:
            issue = self.repo.get_issue(number)
            for comment in issue.get_comments():
                if marker in (comment.body or ""):
                    comment.edit(body)
                    return str(comment.html_url)
            return str(issue.create_comment(body).html_url)

        return self._call(f"write the report comment on #{number}", write)

    def issues(self, label: str) -> list[tuple[int, str]]:
        """The open issues (not pull requests) carrying `label`: (number, body)."""

        def read() -> list[tuple[int, str]]:
            found = self.repo.get_issues(state="open", labels=[label])
            return [(i.number, i.body or "") for i in found if i.pull_request is None]

        return self._call(f"list the open issues labelled {label!r}", read)

    def open_issue(self, title: str, body: str, labels: list[str]) -> int:
        issue = self._call(f"open the issue {title!r}", self.repo.create_issue, title=title,
                           body=body, labels=labels)  # fmt: skip
        return int(issue.number)

    def comment_issue(self, number: int, body: str, close: bool = False) -> None:
        """Comment on issue `number`, then close it when `close`."""

        def write() -> None:
            issue = self.repo.get_issue(number)
            issue.create_comment(body)
            if close:
                issue.edit(state="closed", state_reason="completed")

        self._call(f"{'close' if close else 'comment on'} issue #{number}", write)

    def open_pulls(self) -> list[tuple[int, str, str]]:
        """The open pull requests: (number, head branch, URL)."""

        def read() -> list[tuple[int, str, str]]:
            return [(p.number, p.head.ref, p.html_url) for p in self.repo.get_pulls(state="open")]

        return self._call("list the open pull requests", read)

    def create_pull(self, title: str, body: str, head: str, base: str, labels: list[str]
                    ) -> tuple[int, str]:  # fmt: skip
        """Open a pull request from branch `head` into `base`, labelled; (number, URL)."""

        def write() -> tuple[int, str]:
            pull = self.repo.create_pull(title=title, body=body, head=head, base=base)
            if labels:
                pull.add_to_labels(*labels)
            return int(pull.number), str(pull.html_url)

        return self._call(f"open a pull request from {head} into {base}", write)

    def set_status(self, sha: str, context: str, state: str, description: str) -> None:
        commit = self.repo.get_commit(sha)
        self._call(
            f"set status {context!r}",
            commit.create_status,
            state=state,
            description=_clip(description, 140),
            context=context,
        )

    def put_check_run(
        self, sha: str, name: str, conclusion: str, title: str, summary: str, text: str,
        *, app: str, images: Sequence[tuple[str, str]] = (),
    ) -> None:  # fmt: skip
        """Create the check run `name` on `sha`, or replace the one `app` (this token's app)
        already wrote there; another app's run of that name is left alone. `images` are
        (alt text, public http(s) URL) pairs GitHub shows with the run's output."""
        output: dict[str, str | list[dict[str, str | int]]] = {
            "title": title,
            "summary": _clip(summary, 65000),
            "text": _clip(text, 65000),
        }
        if images:
            output["images"] = [{"alt": alt, "image_url": url} for alt, url in images]

        def write() -> None:
            for run in self.repo.get_commit(sha).get_check_runs(check_name=name):
                if run.app is not None and run.app.slug == app:
                    run.edit(status="completed", conclusion=conclusion, output=output)
                    return
            self.repo.create_check_run(
                name=name, head_sha=sha, status="completed", conclusion=conclusion, output=output
            )

        self._call(f"write check run {name!r}", write)

    def check_runs(self, sha: str) -> list[CheckRun]:
        """Every check run on `sha` named like ours (`mlops: ...`), newest first, with the app
        that wrote it: anyone who may write check runs can use a name, so callers choose whom
        to trust (`core.checks`)."""

        def read() -> list[CheckRun]:
            found = []
            for run in self.repo.get_commit(sha).get_check_runs():
                if run.name.startswith(CHECK_PREFIX):
                    output, app = run.output, run.app
                    found.append(CheckRun(
                        run.name, run.conclusion, output.summary or "", output.text or "",
                        app.slug if app is not None else None, run.head_sha,
                    ))  # fmt: skip
            return found

        return self._call(f"read the check runs of {sha[:12]}", read)

    def record_deployment(
        self, ref: str, environment: str, state: str, description: str,
        url: str, payload: dict[str, Any],
    ) -> int:  # fmt: skip
        """A deployment of `ref` to `environment` with its final status; returns its id."""

        def write() -> int:
            deployment = self.repo.create_deployment(
                ref=ref, task="deploy", auto_merge=False, required_contexts=[],
                payload=payload, environment=environment, description=_clip(description, 140),
                transient_environment=False, production_environment=environment == PRODUCTION,
            )  # fmt: skip
            deployment.create_status(
                state=state, description=_clip(description, 140), environment_url=url,
                auto_inactive=True,
            )  # fmt: skip
            return int(deployment.id)

        return self._call(f"record the deployment to {environment}", write)

    def deployments(self, environment: str) -> list[dict[str, Any]]:
        """The environment's deployments, newest first: id, sha, payload, latest state, and
        the outcome (the latest state other than `inactive`, which GitHub sets on a success
        once a later one succeeds) with its time (the deployment's while it has none)."""

        def read() -> list[dict[str, Any]]:
            found = []
            for deployment in self.repo.get_deployments(environment=environment):
                statuses = list(deployment.get_statuses())
                state = statuses[0].state if statuses else None
                settled = [s for s in statuses if s.state != "inactive"]
                when = settled[0].created_at if settled else deployment.created_at
                found.append({"id": deployment.id, "sha": deployment.sha,
                              "payload": deployment.payload, "state": state,
                              "outcome": settled[0].state if settled else None,
                              "time": when.isoformat() if when else None})  # fmt: skip
            return found

        return self._call(f"read the deployments to {environment}", read)

    def _call(self, doing: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from github import GithubException
        from requests import RequestException

        try:
            return fn(*args, **kwargs)
        except GithubException as exc:
            raise _error(doing, exc) from None
        except RequestException as exc:  # no answer at all: refused, reset, timed out
            raise GitHubError(f"GitHub did not answer while trying to {doing}: {exc}") from None


def _error(doing: str, exc: Any) -> GitHubError:
    data = exc.data if isinstance(exc.data, dict) else {}
    message = data.get("message") or str(exc)
    hint = ""
    if exc.status == 403 and "not accessible" in str(message):
        hint = " (the token is read-only here, as for pull requests from forks)"
    elif exc.status == 401:
        hint = " (check GITHUB_TOKEN)"
    error = GitHubError(f"GitHub refused to {doing}: {exc.status} {message}{hint}")
    error.status = exc.status
    return error


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
