"""The prediction log a serving process appends to: its own file in today's partition.

One `os.write` of an O_APPEND descriptor per request puts all of its lines at the end of the
file at once; the file is this process's own (`v<version>-<instance>.jsonl`), so no other
worker's lines land between them. At midnight UTC the next request opens the next day's
partition. A write that fails (a full disk) is logged and the prediction still answered.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mlops.adapters.shared_folders import make_dirs
from mlops.core import prediction_log
from mlops.core.prediction_log import Protection, Served

log = logging.getLogger("bentoml.mlops")


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
        now = now or datetime.now(UTC)
        served = Served(now, self.environment, self.model, self.version, request_id, latency_ms)
        text = prediction_log.lines(served, rows, predictions, self.protection)
        try:
            os.write(self._file(now.date()), text.encode())
        except OSError as exc:  # a full disk must not stop predictions
            log.error("cannot write the prediction log: %s", exc)

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
