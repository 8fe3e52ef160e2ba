"""Lineage of a training run, computed from plain data: what exactly produced a version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any


def canonical_json(data: Any) -> str:
    """One text per value: sorted keys, no whitespace variation."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def params_hash(params: Mapping[str, Any]) -> str:
    """`sha256:<hex>` of the canonical parameters, the same on every machine."""
    return "sha256:" + hashlib.sha256(canonical_json(params).encode()).hexdigest()


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as MLflow params: `train.c` -> 1.0."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def lock_hashes(lock: Mapping[str, Any]) -> dict[str, str]:
    """Every path dvc.lock records, with its md5 (outs win over deps of the same path)."""
    hashes: dict[str, str] = {}
    stages = lock.get("stages", {})
    if not isinstance(stages, Mapping):
        return hashes
    for stage in stages.values():
        if not isinstance(stage, Mapping):
            continue
        for kind in ("deps", "outs"):
            for entry in stage.get(kind) or []:
                if isinstance(entry, Mapping) and isinstance(entry.get("md5"), str):
                    hashes[str(entry["path"])] = entry["md5"]
    return hashes


def input_hashes(lock: Mapping[str, Any], inputs: Iterable[str]) -> dict[str, str]:
    """The md5 of each declared data input, as dvc.lock records it."""
    recorded = lock_hashes(lock)
    return {path: recorded[path] for path in inputs if path in recorded}


def tree_sha256(files: Iterable[tuple[str, bytes]]) -> str:
    """A digest of a directory: each relative path with its content digest, in path order."""
    outer = hashlib.sha256()
    for path, content in sorted(files):
        outer.update(f"{path}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    return outer.hexdigest()


def metric_table(holdout: Mapping[str, Any], training: Mapping[str, Any]) -> dict[str, float]:
    """Held-out metrics under their own names, training metrics as `train_<name>`."""
    table = {k: float(v) for k, v in holdout.items() if _number(v) and k != "n_rows"}
    table.update({f"train_{k}": float(v) for k, v in training.items() if _number(v)})
    return table


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
