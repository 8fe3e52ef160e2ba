"""The prediction log a serving process appends to: its own file in today's partition.

One `os.write` of an O_APPEND descriptor puts whole lines at the end of the file at once; the
file is this process's own (`v<version>-<instance>.jsonl`), so no other worker's lines land
between them. The thread that scored a batch builds its lines before any of its requests is
answered. With `flush_every` (the service's MLOPS_SERVE_LOG_FLUSH_MS, 50 ms) they are held,
and a thread of the log's own writes everything held every `flush_every` seconds in one
write per day: a write per batch cost a system call and a release of the interpreter lock
per batch, 3-4% of a request's CPU at a thousand requests a second. `close` (on shutdown)
writes what is held, so a replaced instance loses no line; a process killed outright loses
at most its last `flush_every`. Without it each batch is written at once, before its answers.
At midnight UTC the next write opens the next day's partition. A write that fails (a full
disk) is logged and the predictions still answered.
"""

from __future__ import annotations

import logging
import os
import threading
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
                 protection: Protection, flush_every: float = 0.0) -> None:  # fmt: skip
        self.folder, self.environment = folder, environment
        self.model, self.version, self.protection = model, version, protection
        self.name = prediction_log.file_name(version, f"{uuid.uuid4().hex[:12]}-{os.getpid()}")
        self.day: date | None = None
        self.fd: int | None = None
        self.flush_every = flush_every
        self.held: list[tuple[date, bytes]] = []  # lines not written yet, with their day
        self.lock = threading.Lock()
        self.writing = threading.Lock()
        self.closed = threading.Event()
        if flush_every > 0:
            threading.Thread(target=self._flusher, name="prediction-log", daemon=True).start()

    def _flusher(self) -> None:
        while not self.closed.wait(self.flush_every):
            self.flush()

    def flush(self) -> None:
        """Write the held lines: each day's in one write to its partition."""
        with self.writing:  # one flush at a time, and none while the file closes
            with self.lock:  # held only to take the list: a scorer never waits for a write
                held, self.held = self.held, []
            by_day: dict[date, list[bytes]] = {}
            for day, text in held:
                by_day.setdefault(day, []).append(text)
            for day, texts in by_day.items():
                try:
                    os.write(self._file(day), b"".join(texts))
                except OSError as exc:  # a full disk must not stop predictions
                    log.error("cannot write the prediction log: %s", exc)

    def write(self, request_id: str, latency_ms: float, rows: Sequence[Mapping[str, Any]],
              predictions: Sequence[Mapping[str, Any]], now: datetime | None = None
              ) -> None:  # fmt: skip
        self.write_many([Answered(request_id, latency_ms, rows, predictions)], now)

    def write_many(self, answered: Iterable[Answered], now: datetime | None = None) -> None:
        """The lines of every request in `answered`, appended in one write."""
        now = now or datetime.now(UTC)
        text = b"".join(self._lines(request, now) for request in answered)
        if not text:
            return
        with self.lock:
            self.held.append((now.date(), text))
        if self.flush_every <= 0:
            self.flush()

    def _lines(self, answered: Answered, now: datetime) -> bytes:
        served = Served(now, self.environment, self.model, self.version, answered.request_id,
                        answered.latency_ms)  # fmt: skip
        return prediction_log.lines(served, answered.rows, answered.predictions, self.protection)

    def _file(self, day: date) -> int:
        if self.fd is None or day != self.day:
            self._close_file()
            folder = self.folder / prediction_log.partition_dir(self.environment, self.model, day)
            make_dirs(folder)
            self.fd = os.open(folder / self.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self.day = day
        return self.fd

    def close(self) -> None:
        """Write what is held and close the file (on shutdown)."""
        self.closed.set()
        self.flush()
        with self.writing:
            self._close_file()

    def _close_file(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
