"""The prediction log a serving process appends to: its own file in today's partition.

One `os.write` of an O_APPEND descriptor puts all the lines of a request, or of the requests
the model scored together, at the end of the file at once; the file is this process's own
(`v<version>-<instance>.jsonl`), so no other worker's lines land between them. The service
writes a batch's lines before it answers any of its requests, in the thread that scored
them: a write releases the interpreter lock, and on the event loop every request would wait
for the lock to come back. At midnight UTC the next write opens the next day's partition. A
write that fails (a full disk) is logged and the predictions still answered.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from mlops.adapters.shared_folders import make_dirs
from mlops.core import prediction_log
from mlops.core.prediction_log import Protection, Served

log = logging.getLogger("bentoml.mlops")


class Answered(NamedTuple):
    """One answered request, as the service hands it to the log."""

    request_id: str
    latency_ms: float
    rows: Sequence[Mapping[str, Any]]
    predictions: Sequence[Mapping[str, Any]]


class PredictionLog:
    """The lines of one model version's answered requests, under `folder`."""

    def __init__(self, folder: Path, environment: str, model: str, version: str,
                 protection: Protection) -> None:  # fmt: skip
        self.folder, self.environment = folder, environment
        self.model, self.version, self.protection = model, version, protection
        self.name = prediction_log.file_name(version, f"{uuid.uuid4().hex[:12]}-{os.getpid()}")
        self.day: date | None = None
        self.fd: int | None = None

    def write(self, request_id: str, latency_ms: float, rows: Sequence[Mapping[str, Any]],
              predictions: Sequence[Mapping[str, Any]], now: datetime | None = None
              ) -> None:  # fmt: skip
        self.write_many([Answered(request_id, latency_ms, rows, predictions)], now)

    def write_many(self, answered: Iterable[Answered], now: datetime | None = None) -> None:
        """The lines of every request in `answered`, appended in one write."""
        now = now or datetime.now(UTC)
        text = "".join(self._lines(request, now) for request in answered)
        if not text:
            return
        try:
            os.write(self._file(now.date()), text.encode())
        except OSError as exc:  # a full disk must not stop predictions
            log.error("cannot write the prediction log: %s", exc)

    def _lines(self, answered: Answered, now: datetime) -> str:
        served = Served(now, self.environment, self.model, self.version, answered.request_id,
                        answered.latency_ms)  # fmt: skip
        return prediction_log.lines(served, answered.rows, answered.predictions, self.protection)

    def _file(self, day: date) -> int:
        if self.fd is None or day != self.day:
            self.close()
            folder = self.folder / prediction_log.partition_dir(self.environment, self.model, day)
            make_dirs(folder)
            self.fd = os.open(folder / self.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self.day = day
        return self.fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
