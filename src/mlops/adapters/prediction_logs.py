"""Reading prediction logs back (one model's lines of one environment within a time window),
and the outcomes (labels) attached to them, which live in the same day partitions.

Only the day partitions the window touches are opened. A line that is not a log record (cut
short by a full disk, edited by hand) is counted and skipped with its file and line number;
it never stops the read.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops.adapters.shared_folders import make_dirs
from mlops.core import prediction_log

MAX_LISTED = 20  # skipped lines named one by one; the rest are only counted


@dataclass
class LogWindow:
    """The window's records of one version, and what was left aside."""

    records: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    other_versions: int = 0  # lines of other versions in the window, not used
    skipped: int = 0
    skipped_lines: list[str] = field(default_factory=list)  # "file:line: why"

    def skip(self, where: str, why: str) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < MAX_LISTED:
            self.skipped_lines.append(f"{where}: {why}")


def read_window(folder: Path, environment: str, model: str, version: str | None,
                since: datetime, until: datetime) -> LogWindow:  # fmt: skip
    """The lines `version` (None: any) of `model` wrote in `environment` from `since` up to
    `until`."""
    window = LogWindow()
    for path in _files(folder, environment, model, since, until, prediction_log.LOG_FILES):
        window.files += 1
        _read_file(path, version, since, until, window)
    return window


def read_labels(folder: Path, environment: str, model: str, since: datetime, until: datetime
                ) -> list[dict[str, Any]]:  # fmt: skip
    """The labels attached from `since`'s day to `until`'s, oldest first."""
    found: list[dict[str, Any]] = []
    for path in _files(folder, environment, model, since, until, prediction_log.LABEL_FILES):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                record = _label(line)
                if record is not None:
                    found.append(record)
    return found


def write_labels(folder: Path, environment: str, model: str, records: list[dict[str, Any]],
                 now: datetime) -> Path:  # fmt: skip
    """The labels as one new file in today's partition, appearing whole (written aside)."""
    part = folder / prediction_log.partition_dir(environment, model, now.date())
    make_dirs(part)
    name = prediction_log.labels_name(now.strftime("%Y%m%dT%H%M%SZ"), uuid.uuid4().hex[:8])
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    aside = part / f".{name}.tmp"
    aside.write_text(text, encoding="utf-8")
    aside.replace(part / name)
    return part / name


def _label(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("request_id"), str):
        return None
    return record if isinstance(record.get("row", 0), int) and "label" in record else None


def _files(folder: Path, environment: str, model: str, since: datetime, until: datetime,
           pattern: str) -> list[Path]:  # fmt: skip
    base = folder / environment / model
    found: list[Path] = []
    for day in _days(since.date(), until.date()):
        part = base / f"date={day.isoformat()}"
        if part.is_dir():
            found += sorted(part.glob(pattern))
    return found


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _read_file(path: Path, version: str | None, since: datetime, until: datetime,
               window: LogWindow) -> None:  # fmt: skip
    low = since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    high = until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record, problem = prediction_log.parse_line(line)
            if record is None:
                window.skip(f"{path}:{number}", str(problem))
                continue
            if not low <= record["time"] <= high:
                continue
            if version is not None and record["version"] != version:
                window.other_versions += 1
                continue
            window.records.append(record)
