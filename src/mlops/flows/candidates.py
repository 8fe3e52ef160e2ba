"""Where this machine keeps the candidate record of each model it trained last (the state
folder's `candidates/`): written by training, read by evaluation and promotion."""

from __future__ import annotations

import json
from typing import Any

from mlops.adapters import atomic
from mlops.adapters.settings import Settings
from mlops.core.candidate import candidate_problem
from mlops.errors import InvalidInput


def write(settings: Settings, record: dict[str, Any]) -> None:
    path = settings.candidates / f"{record['model']}.json"
    atomic.write_text(path, json.dumps(record, indent=2) + "\n")


def read(settings: Settings, model: str) -> dict[str, Any] | None:
    """The model's candidate record, None when there is none; a broken one is an error."""
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
        record = read(settings, model)
    except InvalidInput:
        return None  # a broken record is written anew by the training that follows
    same = (
        record is not None
        and record.get("artifact_sha256") == artifact_sha256
        and record.get("tracking_uri") == settings.tracking_uri
    )
    return str(record["version"]) if same and record is not None else None
