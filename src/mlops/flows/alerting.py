"""Alerts of a monitoring run delivered through the model's channels (`monitoring.alerts`):
GitHub issues opened, updated and closed (one per model, environment and kind), e-mail and
webhooks told of changes.

Every channel is tried even when another fails; the failures are reported together after.
A GitHub call that fails for want of an answer or with a server error is tried again, and
before an issue is opened a second time the open issues are read again: a request that
created the issue but lost its answer never leaves two issues behind.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mlops.adapters.github import GitHub, GitHubError, repository_name
from mlops.adapters.notify import DeliveryFailed, post_webhook, send_email
from mlops.core import alerts
from mlops.core.alerts import Alert, Change, Delivery
from mlops.errors import MlopsError

T = TypeVar("T")
ISSUE_CHANNEL = "github-issue"
ATTEMPTS, PAUSE = 3, 1.0


def deliver(manifest: dict[str, Any], found: list[Alert], previous: dict[str, str]) -> Delivery:
    """Deliver `found` through the manifest's channels; `previous`: the last run's states."""
    channels = ((manifest.get("monitoring") or {}).get("alerts") or {}).get("channels") or []
    delivery = Delivery()
    issue_channels = [c for c in channels if c.get("type") == ISSUE_CHANNEL]
    if issue_channels:
        labels = list(dict.fromkeys([alerts.LABEL, *(
            label for c in issue_channels for label in c.get("labels") or ()
        )]))  # fmt: skip
        try:
            _issues(GitHub(repository_name()), found, labels, delivery)
        except MlopsError as exc:  # GitHub failed, or no repository or token is configured
            delivery.failures.append(f"{ISSUE_CHANNEL}: {exc.message}")
    for change in alerts.changes(found, previous):
        for channel in channels:
            _notify(channel, change, delivery)
    return delivery


def _issues(gh: GitHub, found: list[Alert], labels: list[str], delivery: Delivery) -> None:
    def open_issues() -> dict[str, int]:
        listed = _retried(lambda: gh.issues(alerts.LABEL))
        return {key: number for number, body in listed if (key := alerts.key_of(body))}

    current = open_issues()
    for action in alerts.issue_actions(found, current):
        alert = action.alert
        try:
            if action.action == alerts.OPEN:
                number = _open_once(gh, alert, labels, open_issues)
                delivery.opened.append(f"#{number} {alert.title}")
            elif action.action == alerts.UPDATE and action.number is not None:
                comment = alerts.update_comment(alert)
                _retried(functools.partial(gh.comment_issue, action.number, comment))
                delivery.updated.append(f"#{action.number} {alert.title}")
            elif action.number is not None:
                comment = alerts.recovery_comment(alert)
                _retried(functools.partial(gh.comment_issue, action.number, comment, close=True))
                delivery.closed.append(f"#{action.number} {alert.title}")
        except GitHubError as exc:
            delivery.failures.append(f"{ISSUE_CHANNEL} {alert.key}: {exc.message}")


def _open_once(gh: GitHub, alert: Alert, labels: list[str],
               open_issues: Callable[[], dict[str, int]]) -> int:  # fmt: skip
    """Open the alert's issue; after a failed attempt, look again before trying again."""
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(PAUSE)
            existing = open_issues().get(alert.key)
            if existing is not None:  # the failed attempt did create it
                return existing
        try:
            return gh.open_issue(alert.title, alerts.issue_body(alert), labels)
        except GitHubError as exc:
            if not _transient(exc) or attempt + 1 == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _retried(call: Callable[[], T]) -> T:
    for attempt in range(ATTEMPTS):
        try:
            return call()
        except GitHubError as exc:
            if not _transient(exc) or attempt + 1 == ATTEMPTS:
                raise
            time.sleep(PAUSE)
    raise AssertionError("unreachable")


def _transient(exc: GitHubError) -> bool:
    return exc.status is None or exc.status >= 500


def _notify(channel: dict[str, Any], change: Change, delivery: Delivery) -> None:
    alert = change.alert
    message = alerts.message(change)
    try:
        if channel.get("type") == "email":
            subject = f"[{message['status']}] {alert.title}"
            lines = [f"{alert.title}: {message['status']}", "", *(f"- {r}" for r in alert.reasons)]
            if alert.report:
                lines += ["", f"Report: {alert.report}"]
            send_email(str(channel["to"]), subject, "\n".join(lines) + "\n")
            delivery.notified.append(f"e-mail {channel['to']}: {alert.key} {message['status']}")
        elif channel.get("type") == "webhook":
            post_webhook(str(channel["url_secret"]), message)
            delivery.notified.append(
                f"webhook {channel['url_secret']}: {alert.key} {message['status']}"
            )
    except DeliveryFailed as exc:
        delivery.failures.append(exc.message)
