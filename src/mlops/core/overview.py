"""The leadership overview of the model catalogue: what is in production, how often production
changed (deploys and rollbacks per month), how long a pull request took to reach production,
and the incidents monitoring caught.

A production change is a main-line commit that moved the version production serves: to a newer
version it is a deploy, to an older one (a `git revert` of a promotion) a rollback. A canary
share alone moves nothing. Every number says where it comes from; what no source can prove
stays unknown (None) instead of becoming a zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

from mlops.core.history import Change
from mlops.core.stages import PRODUCTION

DEPLOY, ROLLBACK = "deploy", "rollback"


@dataclass(frozen=True)
class Move:
    """A production change of one model: a deploy or a rollback."""

    model: str
    kind: str  # deploy | rollback
    time: datetime  # when it reached main
    commit: str
    before: str | None
    after: str | None  # None: production withdrawn (its promotion reverted)
    pull: int | None = None
    pull_created: datetime | None = None  # from GitHub
    deployed: datetime | None = None  # the first successful deployment record of it


@dataclass(frozen=True)
class Incident:
    """An alert issue monitoring opened (GitHub issue labelled for alerts)."""

    model: str
    environment: str
    kind: str
    number: int
    title: str
    opened: datetime
    closed: datetime | None
    url: str

    @property
    def open(self) -> bool:
        return self.closed is None


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM
    deploys: int
    rollbacks: int
    incidents: int | None  # None: incidents are unknown


@dataclass(frozen=True)
class LeadTime:
    """From a pull request's creation to its change reaching production."""

    model: str
    pull: int
    hours: float
    until: str  # "deployment" (a recorded deployment) or "merge" (the main-line commit)


@dataclass
class Overview:
    moves: list[Move]
    months: list[Month]
    lead_times: list[LeadTime]
    incidents: list[Incident] | None  # None: unknown (no GitHub)
    notes: list[str] = field(default_factory=list)

    @property
    def deploys(self) -> int:
        return sum(m.kind == DEPLOY for m in self.moves)

    @property
    def rollbacks(self) -> int:
        return sum(m.kind == ROLLBACK for m in self.moves)

    @property
    def median_lead_hours(self) -> float | None:
        return median(t.hours for t in self.lead_times) if self.lead_times else None

    @property
    def open_incidents(self) -> int | None:
        return None if self.incidents is None else sum(i.open for i in self.incidents)


def version_key(version: str) -> tuple[int, int | str]:
    """Numeric versions in numeric order, then the rest alphabetically."""
    return (0, int(version)) if version.isdigit() else (1, version)


def moves(model: str, changes: Iterable[Change]) -> list[Move]:
    """The deploys and rollbacks among a model's changes (any environment; only production's
    count), oldest first. A rollback moves production to an older version, or withdraws it
    (the reverted promotion of a model's first production version)."""
    found = []
    for change in changes:
        if change.environment != PRODUCTION:
            continue
        before = change.before.version if change.before else None
        after = change.after.version if change.after else None
        if before == after:
            continue  # only the canary share moved
        back = after is None or (before is not None and version_key(after) < version_key(before))
        found.append(Move(model, ROLLBACK if back else DEPLOY, change.time, change.commit,
                          before, after))  # fmt: skip
    return found


def lead_times(found: Sequence[Move]) -> list[LeadTime]:
    """How long each deploy with a known pull request took from its creation to production:
    to its first successful deployment record when there is one, else to the merge."""
    times = []
    for move in found:
        if move.kind != DEPLOY or move.pull is None or move.pull_created is None:
            continue
        end, until = (move.deployed, "deployment") if move.deployed else (move.time, "merge")
        hours = (end - move.pull_created).total_seconds() / 3600
        if hours >= 0:
            times.append(LeadTime(move.model, move.pull, round(hours, 1), until))
    return times


def months(found: Sequence[Move], incidents: Sequence[Incident] | None) -> list[Month]:
    """Deploys, rollbacks and incidents opened per calendar month (UTC), every month from the
    first to the last with any, oldest first."""
    keys = [_month(m.time) for m in found] + [_month(i.opened) for i in incidents or ()]
    if not keys:
        return []
    out = []
    for key in _span(min(keys), max(keys)):
        here = [m for m in found if _month(m.time) == key]
        out.append(Month(
            key,
            sum(m.kind == DEPLOY for m in here),
            sum(m.kind == ROLLBACK for m in here),
            None if incidents is None else sum(_month(i.opened) == key for i in incidents),
        ))  # fmt: skip
    return out


def overview(found: Sequence[Move], incidents: Sequence[Incident] | None,
             notes: Sequence[str] = ()) -> Overview:  # fmt: skip
    ordered = sorted(found, key=lambda m: (m.time, m.model))
    listed = None if incidents is None else sorted(incidents, key=lambda i: i.opened, reverse=True)
    return Overview(ordered, months(ordered, incidents), lead_times(ordered), listed, list(notes))


def incident_of(key: str | None, number: int, title: str, opened: datetime,
                closed: datetime | None, url: str) -> Incident | None:  # fmt: skip
    """An incident from an alert issue whose marker names `model/environment/kind`."""
    if not key or key.count("/") != 2:
        return None
    model, environment, kind = key.split("/")
    return Incident(model, environment, kind, number, title, opened, closed, url)


def metrics_of(entry: Mapping[str, object], version: str | None) -> dict[str, object]:
    """A registry entry's metrics of `version` ({} when unknown)."""
    versions = entry.get("versions")
    record = versions.get(version) if isinstance(versions, Mapping) and version else None
    found = record.get("metrics") if isinstance(record, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def duration(hours: float | None) -> str:
    """Hours as a person reads them: "3.5 h", "2.1 days"; "unknown" for None."""
    if hours is None:
        return "unknown"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _span(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
