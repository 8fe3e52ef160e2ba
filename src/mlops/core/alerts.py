"""Alerts from a monitoring run: what is firing, and what each channel should do about it.

An alert is one (model, environment, kind): `drift` (data or prediction drift), `quality`
(rows breaking the feature schema) or `performance` (the labelled metric past its bound).
Each kind is firing, clear, or unknown (too few rows or labels for a verdict, or no rule):
unknown never opens or closes anything, so a quiet weekend does not read as a recovery.

GitHub issues hold the state: one open issue per alert, found again by the marker in its
body. A firing alert opens it once and then adds a comment to it on every later run while it
lasts; a clear one comments the recovery and closes it. E-mail and webhooks are told only of
changes (firing after clear, clear after firing), judged against the previous run's states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops.core import batch

DRIFT, QUALITY, PERFORMANCE = "drift", "quality", "performance"
KINDS = (DRIFT, QUALITY, PERFORMANCE)
FIRING, CLEAR, UNKNOWN = "firing", "clear", "unknown"
LABEL = "mlops-alert"
OPEN, UPDATE, CLOSE = "open", "update", "close"


@dataclass(frozen=True)
class Alert:
    model: str
    environment: str
    kind: str
    state: str
    reasons: tuple[str, ...] = ()
    version: str | None = None
    report: str | None = None  # where the run's report is (a tracking-store link, a path)

    @property
    def key(self) -> str:
        return f"{self.model}/{self.environment}/{self.kind}"

    @property
    def marker(self) -> str:
        return f"<!-- mlops-alert: {self.key} -->"

    @property
    def title(self) -> str:
        return f"{self.model}: {self.kind} alert in {self.environment}"


def from_summary(summary: Mapping[str, Any], report: str | None = None) -> list[Alert]:
    """The three alerts of one `mlops monitor` summary."""
    model, env, version = summary["model"], summary["environment"], summary.get("version")
    enough = summary["status"] != "insufficient data"
    drift_reasons = [r for r in summary["reasons"] if r.startswith(("data drift", "prediction"))]
    quality = summary.get("quality")
    quality_reasons = [r for r in summary["reasons"] if r.startswith("data quality")]
    performance = summary.get("performance")
    states = {
        DRIFT: (FIRING if drift_reasons else CLEAR) if enough else UNKNOWN,
        QUALITY: UNKNOWN if not quality or not enough else FIRING if quality_reasons else CLEAR,
        PERFORMANCE: (UNKNOWN if not performance or performance.get("value") is None
                      else FIRING if performance.get("breached") else CLEAR),
    }  # fmt: skip
    performance_reasons = [r for r in summary["reasons"] if r.startswith("performance")]
    reasons = {DRIFT: drift_reasons, QUALITY: quality_reasons, PERFORMANCE: performance_reasons}
    return [Alert(model, env, kind, states[kind], tuple(reasons[kind]), version, report)
            for kind in KINDS]  # fmt: skip


@dataclass(frozen=True)
class IssueAction:
    action: str  # open, update or close
    alert: Alert
    number: int | None = None  # the open issue, for update and close


def issue_actions(alerts: Iterable[Alert], open_issues: Mapping[str, int]) -> list[IssueAction]:
    """What to do with GitHub issues: `open_issues` maps alert keys to open issue numbers."""
    actions = []
    for alert in alerts:
        number = open_issues.get(alert.key)
        if alert.state == FIRING:
            actions.append(IssueAction(UPDATE if number else OPEN, alert, number))
        elif alert.state == CLEAR and number:
            actions.append(IssueAction(CLOSE, alert, number))
    return actions


def key_of(body: str | None) -> str | None:
    """The alert key an issue body's marker names, or None."""
    text = body or ""
    start = text.find("<!-- mlops-alert: ")
    if start < 0:
        return None
    end = text.find(" -->", start)
    return text[start + len("<!-- mlops-alert: ") : end] if end > start else None


@dataclass(frozen=True)
class Change:
    alert: Alert
    previous: str


def changes(alerts: Iterable[Alert], previous: Mapping[str, str]) -> list[Change]:
    """The alerts whose state changed between firing and clear since the previous run
    (`previous`: kind -> state); the first run's firing alerts count as changes."""
    found = []
    for alert in alerts:
        before = previous.get(alert.kind, CLEAR)
        started = alert.state == FIRING and before != FIRING
        ended = alert.state == CLEAR and before == FIRING
        if started or ended:
            found.append(Change(alert, before))
    return found


def issue_body(alert: Alert) -> str:
    lines = [alert.marker, f"**{alert.title}**", ""]
    lines += [f"- {reason}" for reason in alert.reasons]
    serves = ("scored the batch outputs" if alert.environment == batch.ENVIRONMENT
              else f"serves {alert.environment}")  # fmt: skip
    lines += ["", f"Version {alert.version} {serves}."]
    if alert.report:
        lines.append(f"Report: {alert.report}")
    lines += ["", "This issue stays open while the alert fires; each monitoring run adds a"
              " comment, and the first run that finds it clear closes it."]  # fmt: skip
    return "\n".join(lines) + "\n"


def update_comment(alert: Alert) -> str:
    lines = ["Still firing:"] + [f"- {reason}" for reason in alert.reasons]
    if alert.report:
        lines.append(f"\nReport: {alert.report}")
    return "\n".join(lines) + "\n"


def recovery_comment(alert: Alert) -> str:
    text = f"Recovered: the latest monitoring run of version {alert.version} finds no {alert.kind}"
    return text + (f" breach.\n\nReport: {alert.report}\n" if alert.report else " breach.\n")


def message(change: Change) -> dict[str, Any]:
    """The JSON a webhook receives (and an e-mail shows) for one change."""
    alert = change.alert
    return {"model": alert.model, "environment": alert.environment, "kind": alert.kind,
            "status": "firing" if alert.state == FIRING else "resolved",
            "version": alert.version, "reasons": list(alert.reasons), "report": alert.report,
            "title": alert.title}  # fmt: skip


@dataclass
class Delivery:
    """What the alert channels did, for the run's output."""

    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Sequence[str]]:
        return {"opened": self.opened, "updated": self.updated, "closed": self.closed,
                "notified": self.notified, "failures": self.failures}  # fmt: skip
