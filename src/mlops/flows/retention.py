"""Retention of prediction logs on this deploy host: the day partitions older than each
model's `compliance.retention_days` are purged, and the files of the other closed days are
compacted into Parquet (`mlops.adapters.prediction_logs.compact`)."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from mlops.adapters.prediction_logs import Compaction, compact
from mlops.adapters.repository import model_folders
from mlops.adapters.settings import load_settings
from mlops.core import prediction_log
from mlops.core.prediction_log import Expiry, Partition
from mlops.errors import MlopsError
from mlops.flows.repository import checked_models, manifest_data

__all__ = ["Compaction", "RetentionPlan", "compact_all", "partitions", "plan", "purge"]


@dataclass(frozen=True)
class RetentionPlan:
    folder: Path
    today: date
    partitions: int
    expiries: list[Expiry]
    compactable: list[Path]  # JSON-lines logs of closed days that are kept

    @property
    def compactable_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.compactable if path.exists())

    @property
    def purgeable(self) -> list[Expiry]:
        return [e for e in self.expiries if e.retention_days is not None]


def plan(root: Path, logs: Path | None = None, now: datetime | None = None) -> RetentionPlan:
    """What retention would purge and compact under `logs` (default: this host's prediction
    logs); the manifests must all be valid, since each one says how long its model's logs
    are kept."""
    names = model_folders(root)
    check = checked_models(root, names, "purged")
    retention = {n: prediction_log.retention_days(manifest_data(check, n)) for n in names}
    folder = logs or load_settings(root).prediction_logs
    found = partitions(folder)
    moment = now or datetime.now(UTC)
    expiries = prediction_log.expired(found, retention, moment.date())
    purged = {e.partition for e in expiries if e.retention_days is not None}
    compactable = [
        path
        for part in found
        if part not in purged and prediction_log.closed(part.day, moment)
        for path in sorted((folder / prediction_log.partition_dir(
            part.environment, part.model, part.day)).glob(prediction_log.LOG_FILES))
    ]  # fmt: skip
    return RetentionPlan(folder, moment.date(), len(found), expiries, compactable)


def partitions(folder: Path) -> list[Partition]:
    """Every `<environment>/<model>/date=<day>` folder under `folder` with its size."""
    found = []
    for path in sorted(folder.glob("*/*/date=*")):
        day = prediction_log.partition_day(path.name)
        if day is None or not path.is_dir():
            continue
        files = [f for f in path.rglob("*") if f.is_file()]
        size = sum(f.stat().st_size for f in files)
        found.append(Partition(path.parent.parent.name, path.parent.name, day, len(files), size))
    return found


def purge(found: RetentionPlan) -> list[Expiry]:
    """Remove every purgeable partition: each is first renamed aside in one step, so a
    reader sees a whole day or none of it, then deleted."""
    done: list[Expiry] = []
    for expiry in found.purgeable:
        part = expiry.partition
        path = found.folder / prediction_log.partition_dir(part.environment, part.model, part.day)
        aside = path.with_name(f".purging-{path.name}-{uuid.uuid4().hex[:8]}")
        try:
            path.rename(aside)
            shutil.rmtree(aside)
        except OSError as exc:
            raise MlopsError(
                f"cannot purge {path}: {exc.strerror or exc}",
                hint=f"{len(done)} partition(s) were purged before it; run again once fixed",
            ) from None
        done.append(expiry)
    return done


def compact_all(found: RetentionPlan) -> list[Compaction]:
    """Compact every planned file, each on its own: one that cannot be compacted stays as
    it is and is reported; a failure to write (a full disk) stops the run, naming the file."""
    done: list[Compaction] = []
    for path in found.compactable:
        try:
            done.append(compact(path))
        except OSError as exc:
            raise MlopsError(
                f"cannot compact {path}: {exc.strerror or exc}",
                hint=f"{len(done)} file(s) were compacted before it; run again once fixed",
            ) from None
    return done
