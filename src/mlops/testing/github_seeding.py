"""The seeding and inspection API of the local GitHub API server.

Seeding methods take repository names as "owner/name", create the users, organizations,
teams and commits they mention, and return what a test needs next (a number, an id, a sha).
Inspection methods return JSON-ready copies of the records (`github_model`), oldest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlops.testing import github_git
from mlops.testing.github_admin import GitHubAdmin
from mlops.testing.github_model import (
    ChangedFile,
    Comment,
    Commit,
    File,
    Issue,
    Pull,
    Repository,
    Review,
    Team,
    Token,
    User,
    to_json,
)
from mlops.testing.github_state import GitHubError, fake_sha, synchronized


class GitHubSeeding(GitHubAdmin):
    """GitHubAdmin (rules and settings) plus the methods tests call to arrange and inspect
    the state."""

    # seeding --------------------------------------------------------------------------------

    @synchronized
    def add_user(self, login: str, *, name: str | None = None, email: str | None = None) -> User:
        user = self._account(login)
        user.name, user.email = name or user.name, email or user.email
        return user

    @synchronized
    def add_team(
        self,
        org: str,
        slug: str,
        *,
        members: Iterable[str] = (),
        maintainers: Iterable[str] = (),
        name: str | None = None,
    ) -> Team:
        """A team (replacing one with the same org and slug) and the accounts it names."""
        team = Team(org=org, slug=slug, name=name or slug, members=list(members))
        team.maintainers = list(maintainers)
        key = (org.lower(), slug.lower())
        self.data.teams = [t for t in self.data.teams if (t.org.lower(), t.slug.lower()) != key]
        self.data.teams.append(team)
        self.normalize()
        return team

    @synchronized
    def add_token(
        self,
        token: str,
        *,
        login: str,
        can_read_org: bool = True,
        read_only: bool = False,
        app: str | None = None,
    ) -> str:
        """Accept `token` as `login`; a `[bot]` login makes it an installation token."""
        record = Token(token, login, can_read_org=can_read_org, read_only=read_only, app=app)
        self.data.tokens = [t for t in self.data.tokens if t.token != token] + [record]
        self.normalize()
        return token

    @synchronized
    def add_repository(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        head_sha: str | None = None,
        private: bool = False,
        collaborators: dict[str, str] | None = None,
    ) -> Repository:
        """A repository whose default branch points at `head_sha` (default: a made-up sha)."""
        sha = head_sha or fake_sha(full_name, default_branch)
        repo = Repository(full_name=full_name, default_branch=default_branch, private=private)
        repo.branches[default_branch] = sha
        repo.collaborators = dict(collaborators or {})
        self.data.repositories.append(repo)
        self.normalize()
        return repo

    @synchronized
    def back_with_git(self, repo: str, path: str | Path) -> None:
        """Back `repo` with the bare git repository at `path`, as if it were what was pushed
        to GitHub: a branch or commit a request names that the state does not know is read
        from it and kept. Branches the state knows keep their shas (`set_branch` moves them)."""
        if not github_git.is_repository(path):
            raise ValueError(f"{path} is not a git repository")
        self.repository(repo).git_dir = str(Path(path).resolve())

    @synchronized
    def add_commit(
        self, repo: str, sha: str, *, message: str = "", author: str | None = None,
        parents: Iterable[str] = (), branch: str | None = None,
    ) -> str:  # fmt: skip
        """Make `sha` known (statuses, check runs and deployments need a known commit)."""
        record = self.repository(repo)
        record.commits = [c for c in record.commits if c.sha != sha]
        record.commits.append(Commit(sha, message, author, list(parents)))
        if branch:
            record.branches[branch] = sha
        self.normalize()
        return sha

    @synchronized
    def set_branch(self, repo: str, branch: str, sha: str) -> None:
        self.repository(repo).branches[branch] = sha
        self.normalize()

    @synchronized
    def set_file(self, repo: str, *, ref: str, path: str, content: str) -> None:
        """The text of `path` at `ref` (a branch name or a sha) for the contents API."""
        record = self.repository(repo)
        record.files = [f for f in record.files if (f.ref, f.path) != (ref, path)]
        record.files.append(File(ref=ref, path=path, content=content))
        self.normalize()

    @synchronized
    def set_collaborator(self, repo: str, login: str, permission: str) -> None:
        """`permission`: admin, maintain, write, triage or read."""
        self.repository(repo).collaborators[login] = permission
        self.normalize()

    @synchronized
    def set_codeowners_errors(self, repo: str, errors: list[dict[str, Any]]) -> None:
        """What `GET .../codeowners/errors` answers (GitHub's own CODEOWNERS check)."""
        self.repository(repo).codeowners_errors = list(errors)

    @synchronized
    def add_pull_request(
        self,
        repo: str,
        *,
        author: str,
        head_ref: str,
        head_sha: str,
        base_ref: str = "main",
        base_sha: str | None = None,
        files: Iterable[tuple[str, str] | ChangedFile] = (),
        title: str = "",
        body: str | None = None,
        number: int | None = None,
        labels: Iterable[str] = (),
        requested_reviewers: Iterable[str] = (),
        requested_teams: Iterable[str] = (),
        draft: bool = False,
        head_repo: str | None = None,
    ) -> int:
        """An open pull request; `files` are (filename, status) pairs or ChangedFile records.
        `base_sha` defaults to the base branch's sha; `head_repo` names a fork. Returns the
        number (default: the next free number of the repository)."""
        record = self.repository(repo)
        base = base_sha or record.branches.get(base_ref) or fake_sha(repo, base_ref)
        changed = [f if isinstance(f, ChangedFile) else ChangedFile(*f) for f in files]
        pull = Pull(head_ref, head_sha, base_ref, base, head_repo=head_repo, files=changed)
        pull.requested_reviewers = list(requested_reviewers)
        pull.requested_teams = list(requested_teams)
        pull.draft = draft
        number = number or self.next_number(record)
        if any(i.number == number for i in record.issues):
            raise ValueError(f"{repo}#{number} exists already")
        issue = Issue(number, title or f"Pull request {number}", author, body, pull=pull)
        issue.labels = list(labels)
        record.issues.append(issue)
        if head_repo is None:
            record.branches[head_ref] = head_sha
        self.normalize()
        return number

    @synchronized
    def add_review(
        self, repo: str, number: int, *, user: str, state: str, commit_id: str | None = None,
        body: str = "",
    ) -> int:  # fmt: skip
        """A submitted review (default `commit_id`: the current head); returns its id. The
        reviewer leaves the requested reviewers, as on GitHub."""
        _, pull = self.pull(repo, number)
        review = Review(user, state, commit_id or pull.head_sha, body)
        pull.reviews.append(review)
        pull.requested_reviewers = [u for u in pull.requested_reviewers if u != user]
        self.normalize()
        return review.id

    @synchronized
    def push(
        self, repo: str, number: int, *, head_sha: str,
        files: Iterable[tuple[str, str] | ChangedFile] | None = None,
    ) -> None:  # fmt: skip
        """Move the pull request's head to `head_sha` (optionally with new changed files)."""
        issue, pull = self.pull(repo, number)
        pull.head_sha = head_sha
        if files is not None:
            pull.files = [f if isinstance(f, ChangedFile) else ChangedFile(*f) for f in files]
        if pull.head_repo is None:
            self.repository(repo).branches[pull.head_ref] = head_sha
        issue.updated_at = self.now()
        self.normalize()

    @synchronized
    def merge(self, repo: str, number: int, *, by: str, merge_sha: str | None = None) -> str:
        """Merge the pull request: the base branch moves to the merge commit (returned)."""
        issue, pull = self.pull(repo, number)
        sha = merge_sha or fake_sha(repo, str(number), pull.head_sha, "merge")
        self.repository(repo).branches[pull.base_ref] = sha
        pull.merged, pull.merged_by, pull.merge_commit_sha = True, by, sha
        pull.merged_at = issue.closed_at = issue.updated_at = self.now()
        issue.state, issue.closed_by = "closed", by
        self.normalize()
        return sha

    @synchronized
    def add_issue(
        self, repo: str, *, title: str, author: str, body: str | None = None,
        labels: Iterable[str] = (), state: str = "open",
    ) -> int:  # fmt: skip
        record = self.repository(repo)
        issue = Issue(self.next_number(record), title, author, body, state, labels=list(labels))
        record.issues.append(issue)
        self.normalize()
        return issue.number

    @synchronized
    def add_comment(self, repo: str, number: int, *, user: str, body: str) -> int:
        comment = Comment(body=body, user=user)
        self.issue(repo, number).comments.append(comment)
        self.normalize()
        return comment.id

    @synchronized
    def add_status(
        self, repo: str, sha: str, *, state: str, context: str = "default",
        description: str | None = None, target_url: str | None = None, creator: str,
    ) -> int:  # fmt: skip
        """A commit status on a known sha; returns its id."""
        status = self.create_status(repo, sha, state, context, description, target_url, creator)
        return status.id

    # inspection (JSON-ready copies) ---------------------------------------------------------

    @synchronized
    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [to_json(c) for c in self.issue(repo, number).comments]

    @synchronized
    def labels(self, repo: str, number: int) -> list[str]:
        return list(self.issue(repo, number).labels)

    @synchronized
    def issues(self, repo: str, *, state: str = "all") -> list[dict[str, Any]]:
        """Issues (not pull requests) as records, oldest first; `state`: open, closed or all."""
        found = [i for i in self.repository(repo).issues if i.pull is None]
        return [to_json(i) for i in found if state in ("all", i.state)]

    @synchronized
    def pull_request(self, repo: str, number: int) -> dict[str, Any]:
        return dict(to_json(self.issue(repo, number)))

    @synchronized
    def statuses(self, repo: str, sha: str | None = None) -> list[dict[str, Any]]:
        """Commit statuses in creation order, optionally of one sha."""
        found = self.repository(repo).statuses
        return [to_json(s) for s in found if sha in (None, s.sha)]

    @synchronized
    def check_runs(self, repo: str, head_sha: str | None = None) -> list[dict[str, Any]]:
        found = self.repository(repo).check_runs
        return [to_json(c) for c in found if head_sha in (None, c.head_sha)]

    @synchronized
    def deployments(self, repo: str, environment: str | None = None) -> list[dict[str, Any]]:
        """Deployments in creation order (each with its `statuses`)."""
        found = self.repository(repo).deployments
        return [to_json(d) for d in found if environment in (None, d.environment)]

    @synchronized
    def deployment_statuses(self, repo: str, deployment_id: int) -> list[dict[str, Any]]:
        """A deployment's statuses in creation order."""
        for deployment in self.repository(repo).deployments:
            if deployment.id == deployment_id:
                return [to_json(s) for s in deployment.statuses]
        raise GitHubError(404, "Not Found")
