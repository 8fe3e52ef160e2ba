"""Retention of published batch files on plain data: an output (and its quarantine file) is
purged once the run that wrote it is older than the model's `compliance.retention_days`.
Prediction logs go by day partitions instead (`mlops.core.prediction_log.expired`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class BatchExpiry:
    """A published batch file past its model's retention, or one retention cannot judge."""

    model: str
    path: str
    kind: str  # "output" or "quarantine"
    scored_at: datetime | None
    bytes: int
    retention_days: int | None  # None: kept (its time cannot be read, or no period)
    reason: str

    @property
    def purgeable(self) -> bool:
        return self.retention_days is not None


def batch_expiry(model: str, path: str, kind: str, scored_at: datetime | None, size: int,
                 days: int | None, today: date, why: str = "") -> BatchExpiry | None:  # fmt: skip
    """The expiry of one batch file, None while it is within its period. A file whose
    scoring time cannot be read is reported and kept: nothing says how old it is."""
    if scored_at is None:
        return BatchExpiry(model, path, kind, None, size, None,
                           f"kept: {why or 'its scoring time cannot be read'}")  # fmt: skip
    if days is None:
        return None
    scored = scored_at.date()
    if scored >= today - timedelta(days=days):
        return None
    age = (today - scored).days
    return BatchExpiry(
        model, path, kind, scored_at, size, days, f"scored {age} days ago, kept for {days}"
    )
