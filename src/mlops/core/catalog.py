"""A summary of each model for people: manifest facts joined with its registry entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelSummary:
    name: str
    language: str | None = None
    task: str | None = None
    owners: list[str] = field(default_factory=list)
    description: str | None = None
    versions: list[str] = field(default_factory=list)
    stages: dict[str, Any] = field(default_factory=dict)
    problems: int = 0

    def stage(self, name: str) -> str:
        value = self.stages.get(name)
        if isinstance(value, dict):  # canary: {version, weight}
            return f"{value.get('version')} ({value.get('weight')}%)"
        return str(value) if value is not None else "-"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "task": self.task,
            "owners": self.owners,
            "description": self.description,
            "versions": self.versions,
            "stages": self.stages,
            "problems": self.problems,
        }


def summarize(name: str, manifest: Any, registry_entry: Any, problems: int) -> ModelSummary:
    """Join what can be read; missing or malformed fields stay empty rather than failing."""
    data = manifest if isinstance(manifest, dict) else {}
    entry = registry_entry if isinstance(registry_entry, dict) else {}
    owners = data.get("owners")
    versions = entry.get("versions")
    stages = entry.get("stages")
    return ModelSummary(
        name=name,
        language=_text(data.get("language")),
        task=_text(data.get("task")),
        owners=[o for o in owners if isinstance(o, str)] if isinstance(owners, list) else [],
        description=_text(data.get("description")),
        versions=sorted(versions, key=_version_key) if isinstance(versions, dict) else [],
        stages=dict(stages) if isinstance(stages, dict) else {},
        problems=problems,
    )


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _version_key(version: str) -> tuple[int, int | str]:
    """Numeric versions in numeric order, then the rest alphabetically."""
    return (0, int(version)) if version.isdigit() else (1, version)
