"""`mlops audit`: the routers' access logs of this deploy host, read and summed per key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mlops.adapters.settings import load_settings
from mlops.core import audit
from mlops.core.routing import ACCESS_LOG
from mlops.core.stages import ENVIRONMENTS


@dataclass
class Audit:
    model: str
    since: datetime | None
    callers: list[audit.Caller]
    files: list[Path]
    skipped: list[str] = field(default_factory=list)  # lines that are not records: file:line


def read(root: Path, model: str, since: datetime | None, environment: str | None) -> Audit:
    settings = load_settings(root)
    calls: list[audit.Call] = []
    files, skipped = [], []
    for env in ENVIRONMENTS:
        if environment not in (None, env):
            continue
        path = settings.router_dir(env) / ACCESS_LOG
        if not path.is_file():
            continue
        files.append(path)
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                call = audit.parse(line, env)
                if call is None:
                    if line.strip():
                        skipped.append(f"{path}:{number}")
                    continue
                calls.append(call)
    return Audit(model, since, audit.callers(calls, model, since), files, skipped)
