"""A DVC pipeline (dvc.yaml, as plain data) as a graph of stages joined by their paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _paths(entries: Any) -> list[str]:
    """The paths of a stage's deps or outs: plain strings or single-key mappings."""
    found: list[str] = []
    for entry in entries or []:
        if isinstance(entry, str):
            found.append(entry)
        elif isinstance(entry, Mapping):
            found.extend(str(key) for key in entry)
    return found


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def downstream(pipeline: Mapping[str, Any], first: str) -> list[str]:
    """`first` and every stage that depends, directly or not, on what it writes."""
    stages = pipeline.get("stages") or {}
    if first not in stages:
        raise KeyError(first)
    chosen = [first]
    written = set(_paths(stages[first].get("outs")))
    changed = True
    while changed:
        changed = False
        for name, stage in stages.items():
            deps = _paths(stage.get("deps"))
            if name not in chosen and any(_inside(d, o) for d in deps for o in written):
                chosen.append(name)
                written |= set(_paths(stage.get("outs")))
                changed = True
    return [name for name in stages if name in chosen]


def upstream_of(pipeline: Mapping[str, Any], first: str) -> list[str]:
    """Stages that do not depend on `first`: their outputs can be restored, not rerun."""
    again = set(downstream(pipeline, first))
    return [name for name in pipeline.get("stages") or {} if name not in again]
