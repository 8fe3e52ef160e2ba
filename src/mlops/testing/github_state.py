"""The state of the local GitHub API server: seeding, inspection, lookups and persistence.

`GitHubState` wraps a `github_model.State` with a lock, an id counter and a monotonic clock
(wall time in whole seconds, never repeating: each event is at least one second after the
previous one). Subclasses add the rules GitHub applies to writes (`github_rules`), the seeding
and inspection API (`github_seeding`) and the HTTP server (`github_server`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from mlops.testing import github_git
from mlops.testing.github_model import (
    Commit,
    File,
    Issue,
    Label,
    Pull,
    Repository,
    State,
    Team,
    Token,
    User,
    from_json,
    to_json,
    walk,
)

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="GitHubState")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SHA = re.compile(r"^[0-9a-f]{40}$")
TIMESTAMPS = ("created_at", "updated_at", "submitted_at")


class GitHubError(Exception):
    """A request GitHub refuses, with the HTTP status, message and `errors` it answers."""

    def __init__(self, status: int, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors


def synchronized(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Run a state method under the state's lock (the server thread reads concurrently)."""

    @functools.wraps(method)
    def locked(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    return locked


def fake_sha(*parts: str) -> str:
    """A deterministic 40-hex commit sha made from `parts`."""
    return hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


class GitHubState:
    """The records behind the server, with the seeding and inspection API."""

    def __init__(self, data: State | None = None) -> None:
        self.data = data if data is not None else State()
        self.lock = threading.RLock()
        self.normalize()

    # ids, time, persistence ---------------------------------------------------------------

    def new_id(self) -> int:
        self.data.last_id += 1
        return self.data.last_id

    def now(self) -> str:
        """The next event time: now, but at least one second after the previous event."""
        current = datetime.now(UTC).replace(microsecond=0)
        if self.data.clock:
            previous = datetime.strptime(self.data.clock, TIME_FORMAT).replace(tzinfo=UTC)
            current = max(current, previous + timedelta(seconds=1))
        self.data.clock = current.strftime(TIME_FORMAT)
        return self.data.clock

    @synchronized
    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self.data)
        return data

    def save(self, path: str | Path) -> None:
        """Write the state as JSON atomically (temporary file in the same folder, rename)."""
        target = Path(path)
        text = json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def read_state(path: str | Path) -> State:
        """A state from a seed or dump file (the same format)."""
        return from_json(State, json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls(cls.read_state(path))

    @synchronized
    def normalize(self) -> None:
        """Fill ids and timestamps left empty; create the accounts and commits referenced."""
        records = list(walk(self.data))
        ids = [getattr(r, "id", 0) for r in records]
        self.data.last_id = max([self.data.last_id, *ids])
        for record in records:
            if getattr(record, "id", None) == 0:
                record.id = self.new_id()
            for name in TIMESTAMPS:
                if getattr(record, name, None) == "":
                    setattr(record, name, self.now())
        for team in self.data.teams:
            team.name = team.name or team.slug
            self._account(team.org, "Organization")
            for login in [*team.members, *team.maintainers]:
                self._account(login)
        for token in self.data.tokens:
            self._account(token.login)
            if token.app is None and token.login.endswith("[bot]"):
                token.app = token.login.removesuffix("[bot]")
        for repo in self.data.repositories:
            self._normalize_repository(repo)

    def _normalize_repository(self, repo: Repository) -> None:
        self._account(repo.owner, "Organization")
        if not repo.branches:
            repo.branches[repo.default_branch] = fake_sha(repo.full_name, repo.default_branch)
        shas = [*repo.branches.values(), *(f.ref for f in repo.files if SHA.match(f.ref))]
        shas += [s.sha for s in repo.statuses] + [c.head_sha for c in repo.check_runs]
        shas += [d.sha for d in repo.deployments]
        logins = [*repo.collaborators, *(s.creator for s in repo.statuses)]
        logins += [d.creator for d in repo.deployments]
        logins += [s.creator for d in repo.deployments for s in d.statuses]
        for deployment in repo.deployments:
            deployment.original_environment = (
                deployment.original_environment or deployment.environment
            )
        for issue in repo.issues:
            logins += [issue.user, *issue.assignees, *(c.user for c in issue.comments)]
            for name in issue.labels:
                self._label(repo, name)
            if issue.pull:
                pull = issue.pull
                shas += [pull.head_sha, pull.base_sha, *filter(None, [pull.merge_commit_sha])]
                logins += [*pull.requested_reviewers, *(r.user for r in pull.reviews)]
                for review in pull.reviews:
                    review.commit_id = review.commit_id or pull.head_sha
                logins += [pull.head_repo.split("/")[0]] if pull.head_repo else []
                for slug in pull.requested_teams:
                    if not any((t.org, t.slug) == (repo.owner, slug) for t in self.data.teams):
                        team = Team(repo.owner, slug, slug, id=self.new_id())
                        team.created_at = self.now()
                        self.data.teams.append(team)
        for commit in repo.commits:
            logins += filter(None, [commit.author])
        known = {c.sha for c in repo.commits}
        for sha in shas:
            if sha and sha not in known:
                known.add(sha)
                repo.commits.append(Commit(sha=sha, created_at=self.now()))
        for login in logins:
            if login:
                self._account(login)

    def _account(self, login: str, kind: str = "User") -> User:
        for user in self.data.users:
            if user.login.lower() == login.lower():
                return user
        kind = "Bot" if login.endswith("[bot]") else kind
        user = User(login=login, id=self.new_id(), type=kind, created_at=self.now())
        self.data.users.append(user)
        return user

    def _label(self, repo: Repository, name: str) -> Label:
        for label in repo.labels:
            if label.name.lower() == name.lower():
                return label
        label = Label(name=name, id=self.new_id())
        repo.labels.append(label)
        return label

    # lookups (raise GitHubError 404 for what is missing) ------------------------------------

    def user(self, login: str) -> User:
        for user in self.data.users:
            if user.login.lower() == login.lower():
                return user
        raise GitHubError(404, "Not Found")

    def repository(self, full_name: str) -> Repository:
        for repo in self.data.repositories:
            if repo.full_name.lower() == full_name.lower():
                return repo
        raise GitHubError(404, "Not Found")

    def issue(self, full_name: str, number: int) -> Issue:
        for issue in self.repository(full_name).issues:
            if issue.number == number:
                return issue
        raise GitHubError(404, "Not Found")

    def pull(self, full_name: str, number: int) -> tuple[Issue, Pull]:
        issue = self.issue(full_name, number)
        if issue.pull is None:
            raise GitHubError(404, "Not Found")
        return issue, issue.pull

    def team(self, org: str, slug: str) -> Team:
        for team in self.data.teams:
            if (team.org.lower(), team.slug.lower()) == (org.lower(), slug.lower()):
                return team
        raise GitHubError(404, "Not Found")

    def token(self, secret: str) -> Token | None:
        return next((t for t in self.data.tokens if t.token == secret), None)

    def branch_sha(self, repo: Repository, name: str) -> str | None:
        """The commit sha branch `name` points at, or None if the repository has no such branch
        (a backed repository's branch is learnt from git first)."""
        return repo.branches.get(name) or self.learn(repo, name, commits=False)

    def resolve(self, repo: Repository, ref: str) -> str | None:
        """The commit sha a branch name, `refs/heads/` name or (abbreviated) sha points at;
        one the state does not know is looked for in a backing git repository (`learn`)."""
        ref = ref.removeprefix("refs/heads/")
        if ref in repo.branches:
            return repo.branches[ref]
        found = [c.sha for c in repo.commits if len(ref) >= 7 and c.sha.startswith(ref)]
        if found:
            return found[0] if len(found) == 1 else None
        return self.learn(repo, ref)

    def learn(self, repo: Repository, name: str, *, commits: bool = True) -> str | None:
        """The sha of branch `name` (or, with `commits`, of commit `name`) read from the bare
        git repository backing `repo`, kept as if just pushed: the branch, and the commit with
        git's message, author time and parents (named, not read). None if `repo` is not
        backed or git has no such branch or commit."""
        if repo.git_dir is None:
            return None
        head = github_git.branch_head(repo.git_dir, name)
        if head is None and not commits:
            return None
        found = github_git.read_commit(repo.git_dir, head or name)
        if found is None:
            return None
        if head is not None:
            repo.branches[name] = found.sha
        if all(c.sha != found.sha for c in repo.commits):
            when = datetime.fromtimestamp(found.author_time, UTC).strftime(TIME_FORMAT)
            repo.commits.append(Commit(found.sha, found.message, None, found.parents, when))
        return found.sha

    def file_at(self, repo: Repository, ref: str, path: str) -> File | None:
        """The file at `path` on `ref`, also found through the sha a branch points at."""
        sha = self.resolve(repo, ref)
        aliases = [ref] + ([sha, *(b for b, s in repo.branches.items() if s == sha)] if sha else [])
        for alias in aliases:
            for file in reversed(repo.files):
                if file.ref == alias and file.path == path:
                    return file
        return None

    def history(self, repo: Repository, head: str) -> set[str]:
        """`head` and its ancestors through the known commits' parents."""
        parents = {c.sha: c.parents for c in repo.commits}
        seen: set[str] = set()
        pending = [head]
        while pending:
            sha = pending.pop()
            if sha in seen:
                continue
            seen.add(sha)
            pending.extend(parents.get(sha, []))
        return seen

    def pulls_of_commit(self, repo: Repository, sha: str) -> list[Issue]:
        """The pull requests GitHub associates with commit `sha`, oldest first: those whose
        merge commit it is and those whose commits (`base..head`) include it. Once the
        commit is on the default branch (an ancestor of its tip, or brought there by a merged
        pull request) only merged pull requests are listed; before that, open ones too."""
        found = []
        for issue in repo.issues:
            pull = issue.pull
            if pull is None:
                continue
            commits = self.history(repo, pull.head_sha) - self.history(repo, pull.base_sha)
            if sha == pull.merge_commit_sha or sha in commits:
                found.append(issue)
        merged = [i for i in found if i.pull is not None and i.pull.merged]
        tip = repo.branches.get(repo.default_branch)
        landed = any(i.pull is not None and i.pull.base_ref == repo.default_branch for i in merged)
        if landed or (tip is not None and sha in self.history(repo, tip)):
            return merged
        return found

    def next_number(self, repo: Repository) -> int:
        return max((i.number for i in repo.issues), default=0) + 1
