"""Who must approve a pull request, and whether they have: GitHub's code-owner rule on plain data.

Two checks, each reported per unit: every touched model needs an approval from one of its owners
(its manifest's `owners`), and every changed file with owners in the base branch's CODEOWNERS
(a rename's previous path too) needs an approval from one of the owners on its winning line.
Only each reviewer's latest approving or blocking review counts, only when it was given on the
head commit, and never the author's own. Teams count through their members when the token can
read them. Logins compare case-insensitively, as GitHub's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops.core.codeowners import owner_kind, parse

DECIDING = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}  # COMMENTED and PENDING never decide
TeamMembers = Callable[[str, str], Sequence[str] | None]


@dataclass(frozen=True)
class Review:
    """One pull-request review as GitHub lists it."""

    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str
    submitted_at: str  # ISO-8601


@dataclass(frozen=True)
class ChangedFile:
    """A changed path; a rename also names the path it had before."""

    path: str
    previous_path: str | None = None


@dataclass(frozen=True)
class UnitApproval:
    """One unit of approval: a model, or the changed files that share one set of owners."""

    kind: str  # "model" | "files"
    name: str  # the model, or the owners of the group
    required: tuple[str, ...]  # an approval from any one of them suffices
    approved: bool
    approved_by: tuple[str, ...]
    reasons: tuple[str, ...]
    files: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()  # the CODEOWNERS lines that gave the files their owners

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


@dataclass(frozen=True)
class ApprovalReport:
    """Every model and file group with its verdict, plus notes on reviews that did not count."""

    head_sha: str
    models: tuple[UnitApproval, ...]
    files: tuple[UnitApproval, ...]
    unowned: tuple[str, ...]  # changed paths no CODEOWNERS line gives an owner
    approvers: tuple[str, ...]  # approvals that count: latest review, on the head, not the author
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(unit.approved for unit in (*self.models, *self.files))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "head_sha": self.head_sha,
            "models": [unit.to_dict() for unit in self.models],
            "files": [unit.to_dict() for unit in self.files],
            "unowned": list(self.unowned),
            "approvers": list(self.approvers),
            "notes": list(self.notes),
        }


# The unit of changed files that no CODEOWNERS line owns: platform owners approve them.
UNOWNED = "unowned paths (platform owners)"


def _login(user: str) -> str:
    return user.removeprefix("@").casefold()


def _when(review: Review) -> datetime:
    try:
        moment = datetime.fromisoformat(review.submitted_at)
    except ValueError:
        raise ValueError(
            f"review by {review.user}: submitted_at {review.submitted_at!r} is not ISO-8601"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def latest_reviews(reviews: Sequence[Review]) -> dict[str, Review]:
    """Each reviewer's latest deciding review (by login, case-insensitive); comments never count."""
    deciding = [r for r in reviews if r.state.upper() in DECIDING]
    latest: dict[str, Review] = {}
    for review in sorted(deciding, key=_when):  # stable: equal times keep GitHub's order
        latest[_login(review.user)] = review
    return latest


class _Approvals:
    """The reviews that count and the ones that do not, and owners resolved against them."""

    def __init__(
        self, reviews: Sequence[Review], author: str, head_sha: str, members: TeamMembers
    ) -> None:
        self.valid: dict[str, str] = {}  # login -> the name as the reviewer wrote it
        self.ignored: dict[str, str] = {}  # login -> why that approval does not count
        self.blocking: dict[str, str] = {}  # login -> a latest review that is no approval
        for login, review in latest_reviews(reviews).items():
            state, who = review.state.upper(), f"@{review.user.removeprefix('@')}"
            if state == "APPROVED" and login == _login(author):
                self.ignored[login] = f"{who} is the author: an author's own approval never counts"
            elif state == "APPROVED" and review.commit_id != head_sha:
                self.ignored[login] = (
                    f"{who} approved {review.commit_id[:12]}, not the head {head_sha[:12]}: "
                    "an approval given before the last push does not count"
                )
            elif state == "APPROVED":
                self.valid[login] = who
            else:
                verb = "requested changes" if state == "CHANGES_REQUESTED" else "was dismissed"
                self.blocking[login] = f"{who}'s latest review {verb}"
        self._members = members
        self._teams: dict[str, set[str] | None] = {}

    def team(self, owner: str) -> set[str] | None:
        """The team's member logins, or None when membership cannot be read (asked once)."""
        key = owner.casefold()
        if key not in self._teams:
            org, _, slug = owner.removeprefix("@").partition("/")
            found = self._members(org, slug)
            self._teams[key] = None if found is None else {_login(m) for m in found}
        return self._teams[key]

    def unreadable_teams(self) -> list[str]:
        return sorted(team for team, members in self._teams.items() if members is None)

    def evaluate(self, kind: str, name: str, owners: Sequence[str], **extra: Any) -> UnitApproval:
        approved_by: list[str] = []
        reasons: list[str] = []
        mentioned: set[str] = set()
        reviewed = set(self.valid) | set(self.ignored) | set(self.blocking)
        for owner in owners:
            kind_of = owner_kind(owner)
            if kind_of == "user":
                logins = {_login(owner)} & reviewed
            elif kind_of == "team" and reviewed:
                members = self.team(owner)
                if members is None:
                    reasons.append(
                        f"team {owner} could not be expanded: the token cannot read team "
                        "membership (set MLOPS_TEAMS_TOKEN to a token that may), so an "
                        "approval by its members is not seen"
                    )
                    continue
                logins = members & reviewed
            elif kind_of == "email":
                reasons.append(f"email owner {owner} cannot be matched to a GitHub login")
                continue
            elif kind_of is None:
                reasons.append(f"{owner!r} is not a GitHub user, team or email: it cannot approve")
                continue
            else:
                continue
            via = "" if kind_of == "user" else f" (member of {owner})"
            for login in sorted(logins):
                if login in self.valid:
                    approved_by.append(self.valid[login])
                    reasons.append(f"approved by {self.valid[login]}{via}")
                elif login not in mentioned:
                    reasons.append(self.ignored.get(login) or self.blocking[login])
                mentioned.add(login)
        approved_by = list(dict.fromkeys(approved_by))
        if not owners:
            reasons.append("it has no owners to approve it")
        elif not approved_by:
            reasons.insert(0, f"needs an approval from one of {', '.join(owners)}")
        return UnitApproval(
            kind,
            name,
            tuple(owners),
            bool(approved_by),
            tuple(approved_by),
            tuple(dict.fromkeys(reasons)),
            **extra,
        )


def evaluate_approvals(
    *,
    codeowners_text: str,
    changed: Sequence[ChangedFile],
    touched_models: Mapping[str, Sequence[str]],
    author: str,
    head_sha: str,
    reviews: Sequence[Review],
    team_members: TeamMembers,
    platform_owners: Sequence[str],
) -> ApprovalReport:
    """Whether every touched model and every changed file has a counting approval.

    `codeowners_text` is the base branch's CODEOWNERS (CodeownersError when GitHub would refuse
    it); `touched_models` maps each model to its owners; `team_members(org, team)` returns the
    team's logins, or None when the token cannot read team membership. Changed files that no
    CODEOWNERS line gives an owner need a platform owner's approval: a change nobody owns is
    never merged unreviewed.
    """
    rules = parse(codeowners_text)
    approvals = _Approvals(reviews, author, head_sha, team_members)
    models = tuple(
        approvals.evaluate("model", name, list(touched_models[name]))
        for name in sorted(touched_models)
    )
    groups: dict[tuple[str, ...], tuple[list[str], list[str], set[int]]] = {}
    unowned: list[str] = []
    paths = [p for f in changed for p in (f.path, f.previous_path) if p]
    for path in dict.fromkeys(paths):
        rule = rules.rule_for(path)
        if rule is None or not rule.owners:
            unowned.append(path)
            continue
        key = tuple(sorted({o.casefold() for o in rule.owners}))
        _, group_paths, lines = groups.setdefault(key, (list(rule.owners), [], set()))
        group_paths.append(path)
        lines.add(rule.line)
    files = tuple(
        approvals.evaluate(
            "files", " ".join(owners), owners, files=tuple(found), lines=tuple(sorted(lines))
        )
        for owners, found, lines in (groups[key] for key in sorted(groups))
    )
    if unowned:
        files += (
            approvals.evaluate(
                "files", UNOWNED, list(platform_owners), files=tuple(unowned), lines=()
            ),
        )
    notes = [*approvals.ignored.values(), *approvals.blocking.values()]
    notes += [
        f"team {team} could not be expanded: the token cannot read team membership "
        "(set MLOPS_TEAMS_TOKEN to a token that may)"
        for team in approvals.unreadable_teams()
    ]
    return ApprovalReport(
        head_sha,
        models,
        files,
        tuple(unowned),
        tuple(sorted(approvals.valid.values(), key=str.casefold)),
        tuple(notes),
    )
