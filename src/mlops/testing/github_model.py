"""The records the local GitHub API server keeps, and their JSON form (seed and dump files).

Every record is a plain dataclass; a whole `State` round-trips through JSON with `to_json` and
`from_json`. The same format serves as a seed file: every field except the identifying ones
has a default, ids left at 0 and timestamps left empty are filled in when the state is loaded,
and the accounts, teams and commits a record mentions are created. A minimal seed::

    {"users": [{"login": "mchen"}],
     "teams": [{"org": "acme", "slug": "clinical-ml", "members": ["mchen"]}],
     "tokens": [{"token": "t", "login": "github-actions[bot]", "can_read_org": false}],
     "repositories": [{
       "full_name": "acme/models", "branches": {"main": "<sha>"},
       "collaborators": {"mchen": "write"},
       "files": [{"ref": "main", "path": ".github/CODEOWNERS", "content": "* @mchen"}],
       "issues": [{"number": 1, "title": "t", "user": "alice", "labels": ["x"],
                   "pull": {"head_ref": "feat", "head_sha": "<sha>", "base_ref": "main",
                            "base_sha": "<sha>", "files": [{"filename": "a.py"}],
                            "reviews": [{"user": "mchen", "state": "APPROVED"}]}}]}]}

A repository's settings seed the same way: `"protections": [{"branch": "main",
"contexts": ["mlops gate"]}]`, `"environments": [{"name": "production", "teams":
["ml-platform"]}]`, `"variables": [{"name": "X", "value": "1"}]`, `"secrets": [{"name": "S"}]`,
`"runners": [{"name": "r1", "labels": ["self-hosted", "Linux", "X64", "deploy"]}]`, and its
bare git repository, whose pushed branches the server learns on use: `"git_dir": "/srv/a.git"`.

A dump adds ids, timestamps, comments, statuses, check runs, deployments, the request `log`
and the contract `violations`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class User:
    """A user, bot or organization account. `type` is User, Bot or Organization."""

    login: str
    id: int = 0
    name: str | None = None
    email: str | None = None
    type: str = "User"
    created_at: str = ""


@dataclass
class Team:
    """An organization team; `maintainers` are members with the maintainer role."""

    org: str
    slug: str
    name: str = ""
    description: str | None = None
    members: list[str] = field(default_factory=list)
    maintainers: list[str] = field(default_factory=list)
    id: int = 0
    created_at: str = ""


@dataclass
class Token:
    """An access token. `app` names the GitHub App of an installation token (GITHUB_TOKEN is
    one, for the app `github-actions`); check runs need one. `can_read_org=False` hides team
    endpoints (404) and `read_only=True` refuses every write (403), like a fork's token."""

    token: str
    login: str
    can_read_org: bool = True
    read_only: bool = False
    app: str | None = None


@dataclass
class Label:
    name: str
    color: str = "ededed"
    description: str | None = None
    id: int = 0


@dataclass
class Comment:
    body: str
    user: str
    id: int = 0
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Review:
    """A submitted pull request review; `state` is APPROVED, CHANGES_REQUESTED or COMMENTED."""

    user: str
    state: str
    commit_id: str | None = None
    body: str = ""
    id: int = 0
    submitted_at: str = ""


@dataclass
class ChangedFile:
    filename: str
    status: str = "modified"
    additions: int = 1
    deletions: int = 0
    previous_filename: str | None = None


@dataclass
class Pull:
    """The pull request side of an issue. `head_repo` names a fork (None: same repository)."""

    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    head_repo: str | None = None
    files: list[ChangedFile] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    draft: bool = False
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None


@dataclass
class Issue:
    """An issue or, with `pull` set, a pull request (they share numbers, labels, comments)."""

    number: int
    title: str
    user: str
    body: str | None = None
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    pull: Pull | None = None
    id: int = 0
    created_at: str = ""
    updated_at: str = ""
    closed_at: str | None = None
    closed_by: str | None = None


@dataclass
class Commit:
    sha: str
    message: str = ""
    author: str | None = None
    parents: list[str] = field(default_factory=list)
    created_at: str = ""


@dataclass
class File:
    """A file's text at a ref (a branch name or a commit sha)."""

    ref: str
    path: str
    content: str


@dataclass
class Status:
    sha: str
    state: str
    context: str = "default"
    description: str | None = None
    target_url: str | None = None
    creator: str = ""
    id: int = 0
    created_at: str = ""
    updated_at: str = ""


@dataclass
class CheckRun:
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    app: str = ""
    details_url: str | None = None
    external_id: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)  # shown on the PR, not returned
    id: int = 0
    started_at: str | None = None
    completed_at: str | None = None


@dataclass
class DeploymentStatus:
    state: str
    creator: str = ""
    description: str = ""
    environment: str = ""
    environment_url: str = ""
    log_url: str = ""
    id: int = 0
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Deployment:
    ref: str
    sha: str
    environment: str = "production"
    task: str = "deploy"
    payload: dict[str, Any] | str = field(default_factory=dict)
    description: str | None = None
    creator: str = ""
    production_environment: bool = True
    transient_environment: bool = False
    original_environment: str = ""
    statuses: list[DeploymentStatus] = field(default_factory=list)
    id: int = 0
    created_at: str = ""
    updated_at: str = ""


@dataclass
class ReviewRule:
    """A protected branch's required pull request reviews. `dismissal_users`/`teams` (None:
    unrestricted) may dismiss reviews; `bypass_users`/`teams` may merge without them."""

    dismiss_stale_reviews: bool = False
    require_code_owner_reviews: bool = False
    required_approving_review_count: int = 1
    require_last_push_approval: bool = False
    dismissal_users: list[str] | None = None
    dismissal_teams: list[str] = field(default_factory=list)
    bypass_users: list[str] = field(default_factory=list)
    bypass_teams: list[str] = field(default_factory=list)


@dataclass
class BranchProtection:
    """A branch's protection. `contexts` None: no required status checks; `reviews` None: no
    required reviews; `push_users` None: no push restrictions (else who may push, with
    `push_teams`); `flags` holds the on/off settings (required_linear_history, ...)."""

    branch: str
    strict: bool = False
    contexts: list[str] | None = None
    enforce_admins: bool = False
    reviews: ReviewRule | None = None
    push_users: list[str] | None = None
    push_teams: list[str] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)


@dataclass
class Environment:
    """A deployment environment; `users` (logins) and `teams` (slugs of the repository's
    organization) are its required reviewers; `branch_policy` is (protected_branches,
    custom_branch_policies) or None (every branch may deploy)."""

    name: str
    users: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    wait_timer: int = 0
    prevent_self_review: bool = False
    branch_policy: list[bool] | None = None
    id: int = 0
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Variable:
    """A repository's Actions variable."""

    name: str
    value: str
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Secret:
    """A repository's Actions secret: GitHub never answers its value, so none is kept."""

    name: str
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Runner:
    """A self-hosted runner of the repository; `status` is online or offline."""

    name: str
    labels: list[str] = field(default_factory=lambda: ["self-hosted", "Linux", "X64"])
    status: str = "online"
    busy: bool = False
    os: str = "Linux"
    id: int = 0


@dataclass
class Repository:
    """A repository: `collaborators` maps login to admin, maintain, write, triage or read;
    `git_dir` names the bare git repository backing it (`github_git`), if any."""

    full_name: str
    default_branch: str = "main"
    private: bool = False
    description: str | None = None
    branches: dict[str, str] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)
    files: list[File] = field(default_factory=list)
    collaborators: dict[str, str] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    check_runs: list[CheckRun] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    codeowners_errors: list[dict[str, Any]] = field(default_factory=list)
    protections: list[BranchProtection] = field(default_factory=list)
    environments: list[Environment] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    runners: list[Runner] = field(default_factory=list)
    git_dir: str | None = None
    id: int = 0
    created_at: str = ""

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[1]


@dataclass
class LogEntry:
    """One request the server answered (`path` without the API prefix)."""

    method: str
    path: str
    status: int


@dataclass
class State:
    """Everything the server knows. `last_id` and `clock` are the last id and time issued;
    `log` and `violations` record the requests answered and the contract violations seen."""

    users: list[User] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    repositories: list[Repository] = field(default_factory=list)
    last_id: int = 0
    clock: str = ""
    log: list[LogEntry] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def to_json(record: Any) -> Any:
    """A record as JSON-ready data."""
    return dataclasses.asdict(record)


def _record_type(hint: Any) -> type | None:
    """The dataclass in a field type (`X`, `X | None`), if any."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    if isinstance(hint, types.UnionType):
        found = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
        return found[0] if found and isinstance(found[0], type) else None
    return None


def from_json(cls: type[T], data: Any) -> T:
    """A record of type `cls` from JSON data; unknown keys are an error (typos in seeds)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected an object, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown}")
    required = {
        f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - set(data))
    if missing:
        raise ValueError(f"{cls.__name__}: missing keys {missing} in {data!r}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        hint = hints[key]
        record = _record_type(hint)
        if typing.get_origin(hint) is list and value is not None:
            (item,) = typing.get_args(hint)
            inner = _record_type(item)
            kwargs[key] = [from_json(inner, v) for v in value] if inner else list(value)
        elif record is not None and value is not None:
            kwargs[key] = from_json(record, value)
        else:
            kwargs[key] = value
    return cls(**kwargs)


def walk(record: Any) -> Iterator[Any]:
    """Every record inside `record` (itself included), parents before children."""
    yield record
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        children = value if isinstance(value, list) else [value]
        for child in children:
            if dataclasses.is_dataclass(child):
                yield from walk(child)
