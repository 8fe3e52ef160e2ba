"""The deploy host's ledger of serving instances that ran and stopped: one JSON line each, in
`<deploy folder>/usage/instances.jsonl`, appended by the target that stopped the instance.

Running instances are read from the targets themselves (`adapters.instance_uptime`); once
stopped, an instance's record is gone, so its hours would be lost to `mlops costs` without
this ledger. One `os.write` of an O_APPEND descriptor appends a whole line; a line that is
not a record (a full disk mid-write) is counted and skipped by the reader.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
LEDGER = "usage/instances.jsonl"  # under the deploy folder


@dataclass(frozen=True)
class Ran:
    """One serving instance from its start to its stop."""

    environment: str
    model: str
    version: str
    replica: int
    started: datetime
    stopped: datetime
    labels: dict[str, str]


def record(deploy_folder: Path, ran: Ran) -> None:
    """Append `ran` to the ledger; a failure is logged, never raised (stopping an instance
    must not fail for its bookkeeping)."""
    path = deploy_folder / LEDGER
    line = json.dumps({"environment": ran.environment, "model": ran.model,
                       "version": ran.version, "replica": ran.replica,
                       "started": ran.started.isoformat(), "stopped": ran.stopped.isoformat(),
                       "labels": ran.labels}) + "\n"  # fmt: skip
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        log.error("cannot record the stopped instance in %s: %s", path, exc)


def stopped(deploy_folder: Path) -> tuple[list[Ran], int]:
    """Every instance the ledger records, and how many of its lines are not records."""
    path = deploy_folder / LEDGER
    if not path.is_file():
        return [], 0
    found, broken = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        ran = _parse(line)
        if ran is None:
            broken += 1
        else:
            found.append(ran)
    return found, broken


def _parse(line: str) -> Ran | None:
    try:
        data: Any = json.loads(line)
        return Ran(str(data["environment"]), str(data["model"]), str(data["version"]),
                   int(data["replica"]), _time(data["started"]), _time(data["stopped"]),
                   {str(k): str(v) for k, v in (data.get("labels") or {}).items()})  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _time(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
