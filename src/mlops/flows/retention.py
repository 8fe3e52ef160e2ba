"""Retention of prediction logs on this deploy host: the day partitions older than each
model's `compliance.retention_days` are purged, and the files of the other closed days are
compacted into Parquet (`mlops.adapters.prediction_logs.compact`). The published batch
outputs of each model (`serving.batch.output`, local ones) and their quarantine files are
purged once the run that wrote them is older than the same period."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from mlops.adapters import batch_files
from mlops.adapters.prediction_logs import Compaction, compact
from mlops.adapters.repository import model_folders
from mlops.adapters.settings import load_settings
from mlops.core import batch, layout, prediction_log
from mlops.core.prediction_log import Expiry, Partition
from mlops.core.retention import BatchExpiry, batch_expiry
from mlops.errors import MlopsError
from mlops.flows.repository import checked_models, manifest_data

__all__ = ["BatchExpiry", "Compaction", "RetentionPlan", "compact_all", "partitions", "plan",
           "purge", "purge_batch"]  # fmt: skip


@dataclass(frozen=True)
class RetentionPlan:
    folder: Path
    today: date
    partitions: int
    expiries: list[Expiry]
    compactable: list[Path]  # JSON-lines logs of closed days that are kept
    batch: list[BatchExpiry] = field(default_factory=list)  # published batch files
    remote: list[str] = field(default_factory=list)  # batch outputs not on this disk

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
    manifests = {n: manifest_data(check, n) for n in names}
    expired_batch, remote = _batch(root, manifests, retention, moment)
    return RetentionPlan(folder, moment.date(), len(found), expiries, compactable, expired_batch,
                         remote)  # fmt: skip


def _batch(root: Path, manifests: dict[str, dict[str, object]], retention: dict[str, int | None],
           now: datetime) -> tuple[list[BatchExpiry], list[str]]:  # fmt: skip
    """The published batch files past retention (or whose age cannot be read), and the
    outputs that are not on this disk (s3://), which retention does not reach."""
    found: list[BatchExpiry] = []
    remote: list[str] = []
    for name, manifest in sorted(manifests.items()):
        output = batch.batch_spec(manifest).output
        if output is None:
            continue
        if "://" in output:
            remote.append(output)
            continue
        path = Path(output)
        path = path if path.is_absolute() else root / layout.model_dir(name) / path
        for done in batch_files.published(path):
            expiry = batch_expiry(name, str(done.path), done.kind, done.scored_at, done.bytes,
                                  retention[name], now.date(), done.why)  # fmt: skip
            if expiry is not None:
                found.append(expiry)
    return found, remote


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


def purge_batch(found: RetentionPlan) -> list[BatchExpiry]:
    """Remove every purgeable batch file (its quarantine file before the output)."""
    done: list[BatchExpiry] = []
    for expiry in sorted(
        (e for e in found.batch if e.purgeable), key=lambda e: e.kind != "quarantine"
    ):
        try:
            Path(expiry.path).unlink(missing_ok=True)
        except OSError as exc:
            raise MlopsError(
                f"cannot purge {expiry.path}: {exc.strerror or exc}",
                hint=f"{len(done)} batch file(s) were purged before it; run again once fixed",
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
