"""Retention of prediction logs: the day partitions older than each model's
`compliance.retention_days`, found on this deploy host, and their purge."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from mlops.adapters.repository import model_folders
from mlops.adapters.settings import load_settings
from mlops.core import prediction_log
from mlops.core.prediction_log import Expiry, Partition
from mlops.errors import MlopsError
from mlops.flows.repository import checked_models, manifest_data


@dataclass(frozen=True)
class RetentionPlan:
    folder: Path
    today: date
    partitions: int
    expiries: list[Expiry]

    @property
    def purgeable(self) -> list[Expiry]:
        return [e for e in self.expiries if e.retention_days is not None]


def plan(root: Path, logs: Path | None = None, today: date | None = None) -> RetentionPlan:
    """What retention would purge under `logs` (default: this host's prediction logs); the
    manifests must all be valid, since each one says how long its model's logs are kept."""
    names = model_folders(root)
    check = checked_models(root, names, "purged")
    retention = {n: prediction_log.retention_days(manifest_data(check, n)) for n in names}
    folder = logs or load_settings(root).prediction_logs
    found = partitions(folder)
    day = today or datetime.now(UTC).date()
    return RetentionPlan(folder, day, len(found), prediction_log.expired(found, retention, day))


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
