"""Desired state (registry.yaml) against observed state: the actions that make them match.

Pure planning, like `kubectl diff` or Argo CD's sync plan: given what registry.yaml asks for
and what was observed in the outside systems, list what to do, in order. Applying the actions
is the adapters' work. An empty plan means the world already matches Git.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops.core.stages import ENVIRONMENT_STAGES


@dataclass(frozen=True)
class Action:
    kind: str  # "set-alias" | "remove-alias" | "missing-version"
    model: str
    alias: str
    version: str | None
    detail: str

    @property
    def blocking(self) -> bool:
        """An action the reconciler cannot carry out (the desired state refers to nothing)."""
        return self.kind == "missing-version"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "detail": self.detail,
        }


def desired_aliases(entry: Mapping[str, Any], environment: str | None) -> dict[str, str]:
    """The aliases a model's registry entry asks for in `environment` (None: all)."""
    stages = entry.get("stages") or {}
    wanted: dict[str, str] = {}
    for env, aliases in ENVIRONMENT_STAGES.items():
        if environment not in (None, env):
            continue
        for alias in aliases:
            value = stages.get(alias)
            if isinstance(value, Mapping):  # canary: {version, weight}
                value = value.get("version")
            if value is not None:
                wanted[alias] = str(value)
    return wanted


def alias_actions(
    registry_models: Mapping[str, Any],
    observed: Mapping[str, Mapping[str, str]],
    existing_versions: Mapping[str, set[str]],
    environment: str | None = None,
) -> list[Action]:
    """Set, move or remove MLflow aliases so that they equal registry.yaml's stages.

    `observed` maps model -> alias -> version as the tracking store has them, and
    `existing_versions` the versions the store knows (a stage naming an unknown version is a
    blocking action, never a silent skip).
    """
    managed = {a for env, aliases in ENVIRONMENT_STAGES.items() for a in aliases
               if environment in (None, env)}  # fmt: skip
    actions: list[Action] = []
    for model in sorted(set(registry_models) | set(observed)):
        entry = registry_models.get(model) or {}
        wanted = desired_aliases(entry, environment)
        have = {a: v for a, v in (observed.get(model) or {}).items() if a in managed}
        known = existing_versions.get(model, set())
        for alias, version in sorted(wanted.items()):
            if version not in known:
                actions.append(Action("missing-version", model, alias, version,
                                      f"registry.yaml puts version {version} in {alias}, but "
                                      "the tracking store has no such version"))  # fmt: skip
            elif have.get(alias) != version:
                before = have.get(alias)
                detail = f"{before} -> {version}" if before else f"-> {version}"
                actions.append(Action("set-alias", model, alias, version, detail))
        for alias in sorted(set(have) - set(wanted)):
            actions.append(
                Action("remove-alias", model, alias, have[alias], f"{have[alias]} -> (none)")
            )
    return actions
