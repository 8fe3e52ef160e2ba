"""Which models a change touches, from the list of changed paths: pure planning logic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops.core import layout

Change = Literal["added", "modified", "removed"]


@dataclass
class TouchedModel:
    name: str
    change: Change
    reasons: list[str] = field(default_factory=list)
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "change": self.change,
            "language": self.language,
            "reasons": self.reasons,
        }


@dataclass
class Plan:
    base: str
    head: str
    changed_files: list[str]
    models: list[TouchedModel]
    all_models: bool = False

    @property
    def to_train(self) -> list[TouchedModel]:
        """Models that still exist after the change (removed ones are not trained)."""
        return [m for m in self.models if m.change != "removed"]

    def matrix(self) -> dict[str, list[dict[str, str | None]]]:
        """A GitHub Actions `strategy.matrix` with one entry per model to train."""
        return {"include": [{"model": m.name, "language": m.language} for m in self.to_train]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "all_models": self.all_models,
            "changed_files": len(self.changed_files),
            "models": [m.to_dict() for m in self.models],
            "matrix": self.matrix(),
        }


def is_shared(path: str, shared_paths: Iterable[str]) -> bool:
    """Whether `path` is one of the shared paths (a trailing '/' means a whole folder)."""
    for shared in shared_paths:
        if shared.endswith("/") and path.startswith(shared):
            return True
        if path == shared:
            return True
    return False


def registry_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, str]:
    """Models whose registry entry differs between two parsed registries, with what changed."""
    changes: dict[str, str] = {}
    for name in sorted(set(base) | set(head)):
        before, after = base.get(name), head.get(name)
        if before == after:
            continue
        if before is None:
            changes[name] = "registry entry added"
        elif after is None:
            changes[name] = "registry entry removed"
        else:
            parts = [
                part
                for part in ("versions", "stages")
                if _field(before, part) != _field(after, part)
            ]
            changes[name] = f"registry {' and '.join(parts) or 'entry'} changed"
    return changes


def _field(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, dict) else None


def make_plan(
    *,
    base: str,
    head: str,
    changed: list[str],
    models_before: set[str],
    models_after: set[str],
    registry_changed: Mapping[str, str],
    shared_paths: Iterable[str],
) -> Plan:
    """Every model the change touches, why, and whether it was added, modified or removed."""
    shared_paths = list(shared_paths)
    reasons: dict[str, list[str]] = {}
    files_per_model: dict[str, int] = {}
    shared_hits: list[str] = []
    for path in changed:
        model = layout.model_of_path(path)
        if model is not None:
            files_per_model[model] = files_per_model.get(model, 0) + 1
        elif is_shared(path, shared_paths):
            shared_hits.append(path)
    for model, count in files_per_model.items():
        reasons.setdefault(model, []).append(f"{count} file(s) changed in models/{model}/")
    for model, why in registry_changed.items():
        if model in models_before | models_after:
            reasons.setdefault(model, []).append(why)
    if shared_hits:
        shown = ", ".join(shared_hits[:3]) + (" ..." if len(shared_hits) > 3 else "")
        for model in models_after:
            reasons.setdefault(model, []).append(f"shared path changed: {shown}")
    touched = []
    for model in sorted(reasons):
        if model not in models_after:
            change: Change = "removed"
        elif model not in models_before:
            change = "added"
        else:
            change = "modified"
        touched.append(TouchedModel(model, change, reasons[model]))
    return Plan(base, head, changed, touched, all_models=bool(shared_hits))
