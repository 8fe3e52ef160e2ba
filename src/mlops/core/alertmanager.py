"""Alertmanager's webhook messages as the platform's own alerts.

Alertmanager posts a group of alerts (webhook format version 4): each has a `status`
(firing or resolved), `labels` and `annotations`. The rules `mlops alerts render` writes
label every SLO alert with `model`, `environment` (from the target) and `kind: slo`; the
alerts of one model, environment and kind become one `Alert`, firing while any of them
fires (a slow version 2 and a failing version 3 are one `slo` issue), clear when all are
resolved. Alerts without a `model` label are someone else's and are left aside, named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops.core.alerts import CLEAR, FIRING, KINDS, Alert

SLO = "slo"
RECEIVED_KINDS = (*KINDS, SLO)
STATES = {"firing": FIRING, "resolved": CLEAR}


class PayloadError(ValueError):
    """A message that is not an Alertmanager webhook message: `where` is its JSON path."""

    def __init__(self, where: str, expected: str) -> None:
        super().__init__(f"{where}: expected {expected}")
        self.where, self.expected = where, expected


@dataclass(frozen=True)
class Received:
    alerts: list[Alert]
    ignored: list[str]  # alerts that name no model, by alert name


def received(payload: Any) -> Received:
    """The platform's alerts in one webhook message; PayloadError names the first field
    that is not as Alertmanager sends it."""
    if not isinstance(payload, Mapping):
        raise PayloadError("$", "a JSON object (Alertmanager's webhook message)")
    items = payload.get("alerts")
    if not isinstance(items, list):
        raise PayloadError("$.alerts", "a list of alerts")
    grouped: dict[tuple[str, str, str], list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]]
    grouped = {}
    ignored: list[str] = []
    for index, item in enumerate(items):
        where = f"$.alerts[{index}]"
        status, labels, annotations = _alert(item, where)
        if "model" not in labels:
            ignored.append(str(labels.get("alertname", f"alert {index}")))
            continue
        key = _key(labels, where)
        grouped.setdefault(key, []).append((status, labels, annotations))
    found = []
    for (model, environment, kind), members in grouped.items():
        firing = [m for m in members if m[0] == FIRING]
        shown = firing or members
        versions = sorted({str(m[1]["version"]) for m in shown if "version" in m[1]})
        found.append(Alert(
            model, environment, kind, FIRING if firing else CLEAR,
            tuple(_reason(status, labels, notes) for status, labels, notes in shown),
            ", ".join(versions) or None, _source(payload),
        ))  # fmt: skip
    return Received(found, ignored)


def _alert(item: Any, where: str) -> tuple[str, Mapping[str, Any], Mapping[str, Any]]:
    if not isinstance(item, Mapping):
        raise PayloadError(where, "an object with status, labels and annotations")
    status = item.get("status")
    if status not in STATES:
        raise PayloadError(f"{where}.status", f"firing or resolved, got {status!r}")
    labels, annotations = item.get("labels"), item.get("annotations", {})
    if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
        raise PayloadError(f"{where}.labels", "an object of text labels")
    if not isinstance(annotations, Mapping):
        raise PayloadError(f"{where}.annotations", "an object of text annotations")
    return STATES[status], labels, annotations


def _key(labels: Mapping[str, Any], where: str) -> tuple[str, str, str]:
    environment = labels.get("environment")
    if not environment:
        raise PayloadError(
            f"{where}.labels.environment",
            "the environment (every target `mlops reconcile` writes has it)",
        )
    kind = labels.get("kind", SLO)
    if kind not in RECEIVED_KINDS:
        raise PayloadError(f"{where}.labels.kind", f"one of {', '.join(RECEIVED_KINDS)},"
                           f" got {kind!r}")  # fmt: skip
    return str(labels["model"]), str(environment), str(kind)


def _reason(status: str, labels: Mapping[str, Any], notes: Mapping[str, Any]) -> str:
    what = str(notes.get("summary") or labels.get("alertname") or "alert")
    value = f" (now {notes['value']})" if notes.get("value") else ""
    version = f" on version {labels['version']}" if labels.get("version") else ""
    ended = "" if status == FIRING else ": resolved"
    return f"{labels.get('alertname', 'alert')}: {what}{value}{version}{ended}"


def _source(payload: Mapping[str, Any]) -> str | None:
    url = payload.get("externalURL")
    return str(url) if isinstance(url, str) and url else None
