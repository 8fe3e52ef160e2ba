"""Candidate records: the registry entry a trained version gets if it is promoted.

The tracking store holds each version's record in its tags (set when the version is
registered), so any machine that reaches the store can evaluate or promote it. This machine
keeps the record of each model it trained last in the state folder's `candidates/`: a cache
that saves a store round trip and lets an unchanged model skip importing MLflow.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlops.adapters import atomic, git
from mlops.adapters.settings import Settings
from mlops.adapters.tracking import public_uri
from mlops.core import layout
from mlops.core.candidate import candidate_from_version, candidate_problem
from mlops.errors import InvalidInput, MlopsError


def write(settings: Settings, record: dict[str, Any]) -> None:
    path = settings.candidates / f"{record['model']}.json"
    atomic.write_text(path, json.dumps(record, indent=2) + "\n")


def read(settings: Settings, model: str) -> dict[str, Any] | None:
    """The record this machine keeps for `model`, None when there is none; a broken one is
    an error naming the file."""
    path = settings.candidates / f"{model}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not a candidate record: {exc}") from None
    problem = candidate_problem(data, model)
    if problem is not None:
        raise InvalidInput(f"{path}: not a candidate record of {model}: {problem}")
    return dict(data)


def registered_here(settings: Settings, model: str, artifact_sha256: str) -> str | None:
    """The version this machine last registered for `model`, if its artifact is this one and
    it went to the same tracking store: lets an unchanged model skip importing MLflow."""
    try:
        record = _local(settings, model)
    except InvalidInput:
        return None  # a broken record is written anew by the training that follows
    same = record is not None and record.get("artifact_sha256") == artifact_sha256
    return str(record["version"]) if same and record is not None else None


def of_version(settings: Settings, model: str, version: str) -> dict[str, Any]:
    """The record of `model` `version`: this machine's when it has that version's, else the
    tracking store's."""
    record = _local(settings, model)
    if record is not None and str(record["version"]) == version:
        return record
    from mlops.adapters import tracking

    found = None
    if not tracking.store_missing(settings):
        tracking.connect(settings)
        found = tracking.registered_version(model, version)
    if found is None:
        raise MlopsError(
            f"{model} has no registered version {version} in the tracking store "
            f"{public_uri(settings.tracking_uri)}",
            hint=f"train it (`mlops train {model}`) against the store the team shares",
        )
    record = candidate_from_version(model, version, found, public_uri(settings.tracking_uri))
    if record is None:
        raise MlopsError(
            f"{model} version {version} was registered without its candidate record "
            "(by an older mlops): retrain it to promote it"
        )
    return record


def latest(settings: Settings, root: Path, model: str) -> str | None:
    """The version to evaluate by default: the one this machine trained last; on a machine
    that trained nothing (a fresh runner), the newest version in the tracking store whose
    `dvc.lock` is the one checked out (the exact outputs it was trained to), else the newest
    trained at the checked-out commit."""
    record = _local(settings, model)
    if record is not None:
        return str(record["version"])
    from mlops.adapters import tracking

    if tracking.store_missing(settings):
        return None
    tracking.connect(settings)
    lock = root / layout.model_dir(model) / "dvc.lock"
    if lock.is_file():
        digest = hashlib.sha256(lock.read_bytes()).hexdigest()
        found = tracking.versions_with_tag(model, "dvc_lock_sha256", digest)
        if found:
            return found[-1]
    found = tracking.versions_with_tag(model, "git_commit", git.head_commit(root))
    return found[-1] if found else None


def _local(settings: Settings, model: str) -> dict[str, Any] | None:
    """This machine's record, if it was registered in the store configured now."""
    record = read(settings, model)
    if record is None or record.get("tracking_uri") != public_uri(settings.tracking_uri):
        return None
    return record
