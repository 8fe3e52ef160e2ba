"""Erasing one data subject's rows: from the model's prediction logs on this deploy host
(JSON lines and compacted Parquet, every environment), the labels attached to those rows, its
published batch outputs and their quarantine files; and what else may hold the subject.

A served prediction log that is still open (its day not closed, `prediction_log.closed`) is
never rewritten: its server appends to it with O_APPEND, and a copy renamed over it would
leave those later lines in the unlinked file, lost. Its rows are reported as pending, with
the time after which the day is closed and the next run of `mlops erase --apply` removes
them. Every other file is replaced whole in one rename, so a reader sees it before or after.
Retention's compaction must not run at the same moment (both replace closed days' files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from mlops.adapters import batch_files, log_erasure
from mlops.adapters.settings import load_settings
from mlops.core import batch, erasure, layout, prediction_log
from mlops.core.erasure import Place, Scan, Subject
from mlops.flows.repository import checked_models, manifest_data

KEY_ENV = "MLOPS_SERVE_PII_KEY"


@dataclass
class Erasure:
    """What erasing one subject finds (and, applied, removed) and where else to look."""

    model: str
    subject_field: str
    subject: str
    applied: bool
    logs: Path
    places: list[Place] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elsewhere: list[erasure.Elsewhere] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "field": self.subject_field, "subject": self.subject,
                "applied": self.applied, "logs": str(self.logs),
                "rows": erasure.summary(self.places),
                "places": [p.as_dict() for p in self.places], "notes": self.notes,
                "elsewhere": [e.as_dict() for e in self.elsewhere]}  # fmt: skip


def erase(root: Path, name: str, subject_id: str, logs: Path | None = None, apply: bool = False,
          now: datetime | None = None) -> Erasure:  # fmt: skip
    """Find (and with `apply` remove) `subject_id`'s rows of model `name`."""
    check = checked_models(root, [name], "erased")
    manifest = manifest_data(check, name)
    key = os.environ.get(KEY_ENV)
    found = erasure.subject(name, manifest, subject_id, key.encode() if key else None)
    folder = logs or load_settings(root).prediction_logs
    result = Erasure(name, found.field, subject_id, apply, folder)
    moment = now or datetime.now(UTC)
    if found.feature:
        _logs(result, found, folder, moment)
    else:
        result.notes.append(f"{found.field} is not a feature: served prediction logs hold no"
                            " value of it (only batch outputs carry it)")  # fmt: skip
    _batch(result, found, root, manifest, folder)
    if any(p.unjudged for p in result.places):
        result.notes.append(erasure.unjudged_reason(found))
    model_folder = layout.model_dir(name)
    result.elsewhere = erasure.elsewhere(name, manifest, model_folder)
    return result


def _logs(result: Erasure, found: Subject, folder: Path, now: datetime) -> None:
    for part in sorted(folder.glob(f"*/{found.model}/date=*")):
        day = prediction_log.partition_day(part.name)
        if day is None or not part.is_dir():
            continue
        open_until = None
        if not prediction_log.closed(day, now):
            closes = datetime.combine(day + timedelta(days=1), time(), UTC)
            open_until = (closes + prediction_log.CLOSE_GRACE).isoformat().replace("+00:00", "Z")
        keys: set[tuple[str, str]] = set()
        for path in sorted(part.glob(prediction_log.COMPACTED_FILES)):
            scan = log_erasure.erase_parquet(path, found, result.applied)
            keys |= scan.keys
            result.places.append(_done(erasure.place(erasure.LOG, str(path), scan), result))
        for path in sorted(part.glob(prediction_log.LOG_FILES)):
            writable = result.applied and open_until is None
            scan = log_erasure.erase_lines(path, found, writable)
            keys |= scan.keys if open_until is None else set()
            place = erasure.place(erasure.LOG, str(path), scan, open_until)
            result.places.append(_done(place, result))
        _labels(result, part, keys)


def _labels(result: Erasure, part: Path, keys: set[tuple[str, str]]) -> None:
    if not keys:
        return
    for path in sorted(part.glob(prediction_log.LABEL_FILES)):
        scan = log_erasure.erase_labels(path, keys, result.applied)
        if scan.rows or scan.broken:
            result.places.append(_done(erasure.place(erasure.LABELS, str(path), scan), result))


def _batch(result: Erasure, found: Subject, root: Path, manifest: dict[str, Any],
           folder: Path) -> None:  # fmt: skip
    spec = batch.batch_spec(manifest)
    if not spec.output:
        return
    if "://" in spec.output:
        result.notes.append(f"{spec.output}: a remote batch output is not searched here; erase"
                            " the subject's rows there by hand")  # fmt: skip
        return
    output = Path(spec.output)
    output = output if output.is_absolute() else root / layout.model_dir(found.model) / output
    keys: set[tuple[str, str]] = set()
    for published in batch_files.published(output):
        if published.kind == "output":
            scan = batch_files.erase_output(published.path, found, spec.id_column,
                                            result.applied)  # fmt: skip
            keys |= scan.keys
            kind = erasure.OUTPUT
        else:
            scan = batch_files.erase_quarantine(published.path, found, result.applied)
            kind = erasure.QUARANTINE
        result.places.append(_done(erasure.place(kind, str(published.path), scan), result))
    rows = sum(p.rows for p in result.places if p.kind == erasure.OUTPUT)
    if rows and not spec.id_column:
        result.notes.append("without serving.batch.id_column, labels attached to batch outputs"
                            " go by row number: those of the erased rows are not found, and"
                            " rows after them move up one number")  # fmt: skip
    for part in sorted((folder / batch.ENVIRONMENT / found.model).glob("date=*")):
        _labels(result, part, keys)


def _done(place: Place, result: Erasure) -> Place:
    if result.applied and place.action == erasure.ERASE:
        place.action = erasure.ERASED
    return place


__all__ = ["Erasure", "Scan", "erase"]
