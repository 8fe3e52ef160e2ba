"""A model's stage history: what registry.yaml asked each environment to serve, commit by
commit on the main line, joined with who changed it, who approved, what the gates said and the
deployments that carried it out; and what served in an environment at a given moment.

The main line's commits that changed registry.yaml are the changes (merge and squash commits
alike: the first-parent history is what reached the protected branch, with the time it got
there). Which version served is answered from the deployment records when an environment has
any: a record with `success` is what the router was switched to, with its canary weight, at
its time. Without records (no GitHub, or a history older than them) the answer is the desired
state registry.yaml held at that moment, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops.core import approval
from mlops.core.stages import CANARY, ENVIRONMENTS, PRODUCTION, STAGING
from mlops.errors import UsageError


@dataclass(frozen=True)
class Serving:
    """What an environment serves: one version, and in production perhaps a canary share."""

    version: str
    canary: str | None = None
    weight: int = 0  # the canary's percent

    def __str__(self) -> str:
        if self.canary is None:
            return f"v{self.version}"
        return f"v{self.version} {100 - self.weight}% + v{self.canary} {self.weight}%"

    def shares(self) -> dict[str, int]:
        """Each version's percent of the environment's traffic."""
        if self.canary is None:
            return {self.version: 100}
        return {self.version: 100 - self.weight, self.canary: self.weight}


@dataclass(frozen=True)
class Snapshot:
    """registry.yaml at one main-line commit: the model's `stages` (None: no such model)."""

    commit: str
    time: datetime
    author: str
    subject: str
    stages: Mapping[str, Any] | None


@dataclass(frozen=True)
class Change:
    """One main-line commit that changed what an environment of the model should serve."""

    commit: str
    time: datetime
    author: str
    subject: str
    environment: str
    before: Serving | None
    after: Serving | None


@dataclass(frozen=True)
class Deployment:
    """A deployment record: what an environment's router was set to, and when."""

    id: int
    environment: str
    commit: str
    time: datetime
    state: str | None
    shares: Mapping[str, int]  # version -> percent; empty when the model was not served


@dataclass(frozen=True)
class Review:
    """Who approved the pull request of a change, and the gates' verdicts on its head."""

    pull: int
    url: str
    author: str
    approvers: tuple[str, ...]
    gates: tuple[tuple[str, str], ...]  # (check, conclusion)


@dataclass
class Entry:
    """A change with what GitHub knows of it (empty where it knows nothing)."""

    change: Change
    reviews: list[Review] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)


@dataclass(frozen=True)
class Served:
    """What served in an environment at a moment, and where the answer comes from."""

    environment: str
    at: datetime
    serving: Serving | None
    since: datetime
    source: str


def serving(stages: Mapping[str, Any] | None, environment: str) -> Serving | None:
    """What `stages` (a model's registry entry) asks `environment` to serve."""
    if not stages:
        return None
    if environment == STAGING:
        version = stages.get(STAGING)
        return None if version is None else Serving(str(version))
    version = stages.get(PRODUCTION)
    if version is None:
        return None
    canary = stages.get(CANARY)
    if isinstance(canary, Mapping) and canary.get("version") is not None:
        return Serving(str(version), str(canary["version"]), int(canary.get("weight") or 0))
    return Serving(str(version))


def changes(snapshots: Sequence[Snapshot], environment: str | None = None) -> list[Change]:
    """Every change of what an environment should serve, oldest first. `snapshots` run
    oldest first along the main line."""
    found: list[Change] = []
    before: Mapping[str, Any] | None = None
    for snap in snapshots:
        for env in ENVIRONMENTS:
            if environment not in (None, env):
                continue
            old, new = serving(before, env), serving(snap.stages, env)
            if old != new:
                found.append(Change(snap.commit, snap.time, snap.author, snap.subject, env,
                                    old, new))  # fmt: skip
        before = snap.stages
    return found


def first_seen(snapshots: Sequence[Snapshot]) -> Snapshot | None:
    return next((s for s in snapshots if s.stages is not None), None)


def served_at(model: str, snapshots: Sequence[Snapshot], deployments: Sequence[Deployment],
              environment: str, at: datetime) -> Served:  # fmt: skip
    """What served `model` in `environment` at `at`: from the last successful deployment
    record at or before it when the environment has records, else from registry.yaml."""
    first = first_seen(snapshots)
    if first is None:
        raise UsageError(f"{model} is not in the history of registry.yaml")
    if at < first.time:
        raise UsageError(
            f"{model} did not exist at {stamp(at)}: it first appears in registry.yaml at"
            f" {first.commit[:12]} ({stamp(first.time)})",
            hint="choose a time after that, or drop --at for the whole history",
        )
    recorded = sorted((d for d in deployments if d.environment == environment
                       and d.state == "success"), key=lambda d: (d.time, d.id))  # fmt: skip
    if recorded:
        before = [d for d in recorded if d.time <= at]
        if before:
            last = before[-1]
            return Served(environment, at, _from_shares(last.shares), last.time,
                          f"deployment {last.id} ({last.commit[:12]})")  # fmt: skip
    desired = [s for s in snapshots if s.time <= at]
    snap = desired[-1]
    since = snap
    for older in reversed(desired):
        if serving(older.stages, environment) != serving(snap.stages, environment):
            break
        since = older
    source = f"registry.yaml at {snap.commit[:12]} (desired state: no deployment recorded then)"
    return Served(environment, at, serving(snap.stages, environment), since.time, source)


def _from_shares(shares: Mapping[str, int]) -> Serving | None:
    live = sorted(((v, w) for v, w in shares.items() if w > 0), key=lambda p: (-p[1], p[0]))
    if not live:
        return None
    if len(live) == 1:
        return Serving(live[0][0])
    (main, _), (canary, weight) = live[0], live[1]
    return Serving(main, canary, weight)


def shares_of(payload: Any, model: str) -> dict[str, int] | None:
    """The versions and percents a deployment record's payload gives `model` (None: the
    record is not about it). Payloads name versions `v<version>`."""
    if not isinstance(payload, Mapping):
        return None
    models = payload.get("models")
    if not isinstance(models, Mapping) or model not in models:
        return None
    weights = models[model]
    if not isinstance(weights, Mapping):
        return None
    out: dict[str, int] = {}
    for name, weight in weights.items():
        if isinstance(weight, int) and not isinstance(weight, bool):
            out[str(name).removeprefix("v")] = weight
    return out


def approvers(reviews: Sequence[approval.Review], head: str, author: str) -> tuple[str, ...]:
    """Who approved what was merged: each reviewer's latest deciding review approves, on the
    merged head, and is not the author's own (the rule `mlops gate` applied)."""
    latest = approval.latest_reviews(reviews).values()
    return tuple(sorted(r.user for r in latest if r.state == "APPROVED" and r.commit_id == head
                        and r.user.lower() != author.lower()))  # fmt: skip


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
