"""Alertmanager's alerts delivered through the same channels as monitoring's: the webhook
receiver behind `mlops alerts receive`.

Each message's alerts (see `mlops.core.alertmanager`) are delivered per model and
environment through that model's `monitoring.alerts` channels by `alerting.deliver`: one
GitHub issue per model, environment and kind (opened once, commented while Alertmanager
repeats it, closed when it resolves), e-mail and webhooks told of changes. The states the
receiver last delivered are the `previous` of the next message, kept in memory (after a
restart the first firing message notifies again; the issue, found by its marker, is never
opened twice).

Answers: 200 with what was delivered (a channel that failed after its own retries is named
in `failures` and logged); 502 when the GitHub issue could not be written, so Alertmanager
sends the message again, which is safe because issues are found by their marker; 400 for
a message that is not Alertmanager's or names an unknown model (not retried).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops.adapters import webhook_server
from mlops.core.alertmanager import PayloadError, received
from mlops.core.alerts import Alert
from mlops.errors import MlopsError
from mlops.flows import alerting
from mlops.flows.repository import checked_models, manifest_data

PATH = "/alertmanager"
log = logging.getLogger("mlops.alerts")


class Receiver:
    """Turns messages into deliveries; `previous[(model, environment)][kind]` is the state
    last delivered."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.previous: dict[tuple[str, str], dict[str, str]] = {}

    def handle(self, payload: Any) -> tuple[int, dict[str, Any]]:
        try:
            message = received(payload)
        except PayloadError as exc:
            return 400, {"error": str(exc)}
        groups: dict[tuple[str, str], list[Alert]] = {}
        for alert in message.alerts:
            groups.setdefault((alert.model, alert.environment), []).append(alert)
        try:
            check = checked_models(self.root, sorted({m for m, _ in groups}), "alerted")
        except MlopsError as exc:
            return 400, {"error": f"$.alerts[].labels.model: {exc.message}"}
        answer: dict[str, Any] = {"ignored": message.ignored, "delivered": []}
        failed = False
        for (model, environment), found in groups.items():
            before = self.previous.setdefault((model, environment), {})
            delivery = alerting.deliver(manifest_data(check, model), found, dict(before))
            before.update({alert.kind: alert.state for alert in found})
            log.info("%s in %s: %s", model, environment, ", ".join(
                f"{a.kind} {a.state}" for a in found))  # fmt: skip
            for failure in delivery.failures:
                log.warning("%s in %s: %s", model, environment, failure)
                failed = failed or failure.startswith(alerting.ISSUE_CHANNEL)
            answer["delivered"].append({"model": model, "environment": environment,
                                        **delivery.as_dict()})  # fmt: skip
        return (502 if failed else 200), answer


def receive(root: Path, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve Alertmanager's webhook at http://host:port/alertmanager until stopped."""
    receiver = Receiver(root)
    webhook_server.serve(host, port, PATH, receiver.handle, ready)
