"""Erasure of one data subject (GDPR Art. 17) on plain data: which field identifies a subject,
which logged values are that subject's, and the plan of what goes where.

A model names the field that identifies a data subject in `compliance.subject_id_field`: a
feature (then served prediction logs carry it) or `serving.batch.id_column` (then batch
outputs do). An ID given on the command line is text; a logged value may be a number, so the
ID matches every value it reads as (`"42"` matches 42 and 42.0). Where the field is a PII
field the prediction logs hold its keyed hash (`prediction_log.pseudonym`), so the rows are
found by hashing each of those values with the serving key; without the key, or where the
server had none and left the field out (`masked`), the rows cannot be told apart, and the
plan says so rather than reporting nothing found.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops.core import batch
from mlops.core.prediction_log import HASH_PREFIX, pii_fields, pseudonym
from mlops.errors import MlopsError

# What a place is, and what erasure does or did there.
LOG, LABELS, OUTPUT, QUARANTINE = "prediction log", "labels", "batch output", "quarantine"
ERASE, ERASED, PENDING, NONE, UNKNOWN = "erase", "erased", "pending", "none", "cannot tell"


class ErasureError(MlopsError):
    """What makes an erasure impossible, said in one line."""


@dataclass(frozen=True)
class Subject:
    """One data subject of one model, as its rows can be recognised."""

    model: str
    field: str
    id: str
    values: tuple[Any, ...]  # the ID as each type a logged value may have
    hashes: frozenset[str]  # the keyed hashes of those values (empty without a key)
    pii: bool  # the field is a PII field: prediction logs hash it, or leave it out
    feature: bool  # the field is a feature: served prediction logs carry it

    def is_value(self, value: Any) -> bool:
        """Whether a value as written in clear (a batch output, a quarantine record) is the
        subject's."""
        if value is None or isinstance(value, bool):
            return False
        if isinstance(value, str):
            return value.strip() == self.id.strip()
        return any(value == v for v in self.values if not isinstance(v, str))

    def is_logged(self, value: Any) -> bool | None:
        """Whether a value as a prediction log wrote it is the subject's; None when it is a
        keyed hash and no key was given to compare with."""
        if isinstance(value, str) and value.startswith(HASH_PREFIX):
            return value in self.hashes if self.hashes else None
        return self.is_value(value)


def subject_field(manifest: Mapping[str, Any]) -> str | None:
    value = (manifest.get("compliance") or {}).get("subject_id_field")
    return value if isinstance(value, str) and value else None


def feature_names(manifest: Mapping[str, Any]) -> list[str]:
    features = (manifest.get("data") or {}).get("features") or []
    return [str(f["name"]) for f in features if isinstance(f, Mapping) and "name" in f]


def subject(model: str, manifest: Mapping[str, Any], subject_id: str, key: bytes | None
            ) -> Subject:  # fmt: skip
    """The subject `subject_id` of `model`; ErasureError when the manifest names no subject
    field or the ID is empty."""
    name = subject_field(manifest)
    if name is None:
        raise ErasureError(
            f"{model} declares no compliance.subject_id_field: its logs cannot tell one data"
            " subject's rows from another's",
            hint="name the feature or serving.batch.id_column that identifies a person in"
            f" models/{model}/model.yaml",
        )
    if not subject_id.strip():
        raise ErasureError("the subject ID is empty")
    values = id_values(subject_id)
    hashes = frozenset(pseudonym(key, v) for v in values) if key is not None else frozenset()
    return Subject(model, name, subject_id, values, hashes, name in pii_fields(manifest),
                   name in feature_names(manifest))  # fmt: skip


def id_values(subject_id: str) -> tuple[Any, ...]:
    """The ID as text, and as the integer and float it reads as."""
    text = subject_id.strip()
    values: list[Any] = [text]
    with contextlib.suppress(ValueError):
        values.append(int(text))
    try:
        number = float(text)
    except ValueError:
        return tuple(values)
    if number == number and number not in (float("inf"), float("-inf")):
        values.append(number)
    return tuple(values)


@dataclass(frozen=True)
class Scan:
    """What one file holds of the subject: rows found, rows that could not be judged (the
    field hashed without a key, or left out), and lines that are not records (kept)."""

    rows: int = 0
    unjudged: int = 0
    broken: int = 0
    broken_lines: tuple[str, ...] = ()  # "file:line: why", the first few
    keys: frozenset[tuple[str, str]] = frozenset()  # (request_id, row) of rows found


@dataclass
class Place:
    """One file the subject's rows may be in, and what erasure does or did with it."""

    kind: str
    path: str
    action: str
    rows: int = 0
    unjudged: int = 0
    broken: int = 0
    note: str = ""
    broken_lines: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "action": self.action, "rows": self.rows,
                "unjudged": self.unjudged, "broken": self.broken, "note": self.note,
                "broken_lines": self.broken_lines}  # fmt: skip


def place(kind: str, path: str, scan: Scan, open_until: str | None = None) -> Place:
    """The place a scanned file is: erased now, pending while a server still appends to it
    (`open_until`: when its day closes), or nothing of the subject's."""
    if scan.rows and open_until is not None:
        action = PENDING
        note = f"a server still appends to it: run erase again after {open_until}"
    elif scan.rows:
        action, note = ERASE, ""
    elif scan.unjudged:
        action, note = UNKNOWN, ""
    else:
        action, note = NONE, ""
    if scan.broken:
        note = (
            f"{note}; " if note else ""
        ) + f"{scan.broken} line(s) are not records: kept as they are"
    return Place(kind, path, action, scan.rows, scan.unjudged, scan.broken, note,
                 list(scan.broken_lines))  # fmt: skip


def unjudged_reason(found: Subject) -> str:
    """Why rows could not be judged, and what would let them be."""
    if not found.pii:
        return ""
    if not found.hashes:
        return (f"{found.field} is logged as a keyed hash: set MLOPS_SERVE_PII_KEY to the key"
                " the servers use to find the subject's rows")  # fmt: skip
    return (f"rows whose {found.field} was left out (the server had no MLOPS_SERVE_PII_KEY)"
            " cannot be told apart; they hold no value of it")  # fmt: skip


@dataclass(frozen=True)
class Elsewhere:
    """A place beyond the logs that may still hold the subject's data, and what to do."""

    what: str
    where: str
    action: str

    def as_dict(self) -> dict[str, str]:
        return {"what": self.what, "where": self.where, "action": self.action}


def elsewhere(model: str, manifest: Mapping[str, Any], folder: str) -> list[Elsewhere]:
    """Where else the subject's data may live: the DVC-tracked inputs (and every model
    version trained on them), MLflow artifacts of training runs, batch inputs, backups."""
    found = []
    inputs = (manifest.get("data") or {}).get("inputs") or []
    paths = [f"{folder}/{i['path']}" for i in inputs
             if isinstance(i, Mapping) and isinstance(i.get("path"), str)]  # fmt: skip
    if paths:
        found.append(Elsewhere(
            "training data (DVC)", ", ".join(paths),
            "remove the subject at the source, then on a branch run `dvc repro"
            f" {folder}/dvc.yaml` and `mlops train {model}` and open a pull request that"
            f" review and the gates decide on (`mlops retrain {model} --apply` opens one"
            " itself only when monitoring says retraining is due); older data versions stay"
            " in the DVC cache and remote until `dvc gc` removes them",
        ))  # fmt: skip
    found.append(Elsewhere(
        "registered model versions", f"MLflow runs of {model}",
        "every version trained on data that held the subject keeps what it learnt from it,"
        " and its run artifacts (an input example, evaluation files) may hold rows: retire"
        " those versions once the retrained one is promoted, and delete their artifacts",
    ))  # fmt: skip
    spec = batch.batch_spec(manifest)
    if spec.input:
        found.append(Elsewhere(
            "batch input", spec.input if "://" in spec.input else f"{folder}/{spec.input}",
            "owned by the system that delivers it: erase the subject there",
        ))  # fmt: skip
    found.append(Elsewhere(
        "backups", "`mlops backup` archives (docs/backup.md)",
        "archives made before this erasure keep the subject's rows until they are deleted"
        " (`mlops backup` expires none: the destination's lifecycle rules or a person do);"
        " a restore brings them back, so erase again after any restore",
    ))  # fmt: skip
    return found


def summary(places: Iterable[Place]) -> dict[str, int]:
    """Rows per action over every place."""
    totals: dict[str, int] = {}
    for p in places:
        if p.rows:
            totals[p.action] = totals.get(p.action, 0) + p.rows
    return totals
