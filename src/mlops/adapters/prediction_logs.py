"""Reading prediction logs back: one model's lines of one environment within a time window.

Only the day partitions the window touches are opened. A line that is not a log record (cut
short by a full disk, edited by hand) is counted and skipped with its file and line number;
it never stops the read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

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


def read_window(folder: Path, environment: str, model: str, version: str, since: datetime,
                until: datetime) -> LogWindow:  # fmt: skip
    """The lines `version` of `model` wrote in `environment` from `since` up to `until`."""
    window = LogWindow()
    base = folder / environment / model
    first, last = since.date(), until.date()
    for day in _days(first, last):
        part = base / f"date={day.isoformat()}"
        if not part.is_dir():
            continue
        for path in sorted(part.glob("*.jsonl")):
            window.files += 1
            _read_file(path, version, since, until, window)
    return window


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _read_file(path: Path, version: str, since: datetime, until: datetime,
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
            if record["version"] != version:
                window.other_versions += 1
                continue
            window.records.append(record)
