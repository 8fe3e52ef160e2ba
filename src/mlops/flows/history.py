"""`mlops history`: a model's stage changes from the main line's registry.yaml, joined with
GitHub's record of them (pull request, approvals, gate check runs, deployments).

Git is enough for the changes themselves; GitHub adds who approved and what was deployed
when a token and repository are at hand (a workflow's, or a person's `GITHUB_TOKEN`), and
the history says so when they are not.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.adapters import git
from mlops.adapters.yaml_files import parse_yaml_bytes
from mlops.core import history
from mlops.core.moments import parse_moment
from mlops.core.stages import ENVIRONMENTS
from mlops.errors import UsageError

if TYPE_CHECKING:
    from mlops.adapters.github import GitHub

REGISTRY = "registry.yaml"


@dataclass
class History:
    """What `mlops history` shows."""

    model: str
    entries: list[history.Entry]
    deployments: list[history.Deployment]
    snapshots: list[history.Snapshot]
    notes: list[str] = field(default_factory=list)


def read(root: Path, model: str, environment: str | None = None, ref: str = "HEAD",
         repository: str | None = None, *, with_github: bool = True) -> History:  # fmt: skip
    """The model's stage changes along `ref`, with GitHub's record of each when it can (and
    `with_github`: without it, git's record alone)."""
    notes: list[str] = []
    snapshots = _snapshots(root, model, ref, notes)
    if history.first_seen(snapshots) is None:
        raise UsageError(f"{model} is not in the history of {REGISTRY} at {ref}",
                         hint="`mlops list` shows the models registry.yaml names")  # fmt: skip
    entries = [history.Entry(c) for c in history.changes(snapshots, environment)]
    found = History(model, entries, [], snapshots, notes)
    github = _github(repository, notes) if with_github else None
    if github is not None:
        _join(github, found, [e for e in ENVIRONMENTS if environment in (None, e)])
    return found


def served_at(found: History, environment: str, at: datetime) -> history.Served:
    return history.served_at(found.model, found.snapshots, found.deployments, environment, at)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise) or a date (its midnight UTC)."""
    try:
        return parse_moment(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a time: expected ISO 8601, like 2026-03-01T12:00Z"
                         " or 2026-03-01") from None  # fmt: skip


def _snapshots(root: Path, model: str, ref: str, notes: list[str]) -> list[history.Snapshot]:
    found = []
    for revision in git.file_history(root, REGISTRY, ref):
        stages: Any = None
        if revision.content is not None:
            loaded = parse_yaml_bytes(revision.content, f"{REGISTRY}@{revision.commit[:12]}",
                                      positions=False)  # fmt: skip
            data = loaded.document.data if loaded.document is not None else None
            if not isinstance(data, dict) or loaded.diagnostics:
                notes.append(f"{REGISTRY} at {revision.commit[:12]} does not parse: skipped")
                continue
            entry = (data.get("models") or {}).get(model)
            stages = (entry.get("stages") or {}) if isinstance(entry, dict) else None
        found.append(history.Snapshot(revision.commit, revision.time.astimezone(UTC),
                                      revision.author, revision.subject, stages))  # fmt: skip
    return found


def _github(repository: str | None, notes: list[str]) -> GitHub | None:
    name = repository or os.environ.get("GITHUB_REPOSITORY")
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not name or not token:
        notes.append("pull requests, approvals, gates and deployments not read:"
                     " set GITHUB_TOKEN and GITHUB_REPOSITORY (or --repository)")  # fmt: skip
        return None
    from mlops.adapters.github import GitHub

    return GitHub(name, token)


def _join(github: GitHub, found: History, environments: Sequence[str]) -> None:
    from mlops.adapters.github import CHECK_PREFIX

    for environment in environments:
        for record in github.deployments(environment):
            shares = history.shares_of(record["payload"], found.model)
            if shares is None or not record.get("time"):
                continue
            found.deployments.append(history.Deployment(
                int(record["id"]), environment, str(record["sha"]),
                parse_time(str(record["time"])), record["outcome"], shares,
            ))  # fmt: skip
    gate = f"{CHECK_PREFIX}{found.model}"
    reviews: dict[int, history.Review] = {}
    for entry in found.entries:
        commit = entry.change.commit
        for number in github.pulls_of_commit(commit):
            if number not in reviews:
                pull = github.pull_request(number)
                runs = [r for r in github.check_runs(pull.head_sha) if r.name == gate]
                gates = ((runs[0].name, runs[0].conclusion or "pending"),) if runs else ()
                approvers = history.approvers(github.reviews(number), pull.head_sha, pull.author)
                reviews[number] = history.Review(number, pull.url, pull.author, approvers, gates)
            entry.reviews.append(reviews[number])
        entry.deployments = sorted(
            (d for d in found.deployments
             if d.commit == commit and d.environment == entry.change.environment),
            key=lambda d: (d.time, d.id),
        )  # fmt: skip


def to_json(found: History) -> dict[str, Any]:
    return {
        "model": found.model,
        "changes": [_entry(e) for e in found.entries],
        "notes": found.notes,
    }


def _entry(entry: history.Entry) -> dict[str, Any]:
    change = entry.change
    return {
        "time": history.stamp(change.time), "commit": change.commit, "author": change.author,
        "subject": change.subject, "environment": change.environment,
        "before": _serving(change.before), "after": _serving(change.after),
        "pull_requests": [{"number": r.pull, "url": r.url, "author": r.author,
                           "approved_by": list(r.approvers),
                           "gates": [{"check": c, "conclusion": v} for c, v in r.gates]}
                          for r in entry.reviews],
        "deployments": [{"id": d.id, "time": history.stamp(d.time), "state": d.state,
                         "serving": {f"v{v}": w for v, w in d.shares.items()}}
                        for d in entry.deployments],
    }  # fmt: skip


def _serving(serving: history.Serving | None) -> dict[str, int] | None:
    return None if serving is None else {f"v{v}": w for v, w in serving.shares().items()}


def served_json(served: history.Served, model: str) -> dict[str, Any]:
    return {"model": model, "environment": served.environment,
            "at": history.stamp(served.at), "serving": _serving(served.serving),
            "since": history.stamp(served.since), "source": served.source}  # fmt: skip
