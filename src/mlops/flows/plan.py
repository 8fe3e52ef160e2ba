"""Which models a change touches: the git side of a pull request, read at both commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.adapters import git
from mlops.adapters.yaml_files import parse_yaml_bytes
from mlops.core import layout
from mlops.core.plan import Plan, make_plan, registry_changes
from mlops.errors import InvalidInput

DEFAULT_SHARED_PATHS = ("policies/", "src/", "pyproject.toml")


def compute_plan(root: Path, base: str, head: str) -> Plan:
    """Compare `head` with its merge base with `base`, as a pull request does."""
    head_commit = git.resolve(root, head)
    base_commit = git.merge_base(root, git.resolve(root, base), head_commit)
    changed = git.changed_files(root, base_commit, head_commit)
    before = set(git.subfolders(root, base_commit, layout.MODELS_DIR))
    after = set(git.subfolders(root, head_commit, layout.MODELS_DIR))
    registry_changed: dict[str, str] = {}
    if layout.REGISTRY in changed:
        old = _registry_models(root, base_commit, strict=False)
        new = _registry_models(root, head_commit, strict=True)
        registry_changed = registry_changes(old, new)
    plan = make_plan(
        base=base_commit,
        head=head_commit,
        changed=changed,
        models_before=before,
        models_after=after,
        registry_changed=registry_changed,
        shared_paths=_shared_paths(root, head_commit),
    )
    manifests = [layout.manifest_path(m.name) for m in plan.to_train]
    for model, raw in zip(
        plan.to_train, git.read_files(root, head_commit, manifests).values(), strict=True
    ):
        model.language = _language(raw, layout.manifest_path(model.name))
    return plan


def yaml_at(root: Path, rev: str, path: str) -> Any:
    """The YAML file `path` as committed at `rev` (None when absent); unreadable: an error."""
    raw = git.read_files(root, rev, [path])[path]
    if raw is None:
        return None
    loaded = parse_yaml_bytes(raw, f"{path}@{rev[:12]}")
    if loaded.document is None or any(d.severity == "error" for d in loaded.diagnostics):
        raise InvalidInput(
            f"{path} at {rev[:12]} cannot be read",
            hint="run `mlops validate`",
            diagnostics=loaded.diagnostics,
        )
    return loaded.document.data


def _registry_models(root: Path, rev: str, *, strict: bool) -> dict[str, Any]:
    try:
        data = yaml_at(root, rev, layout.REGISTRY)
    except InvalidInput:
        if strict:
            raise
        data = None  # an unreadable old registry: every current entry counts as changed
    models = data.get("models") if isinstance(data, dict) else None
    return models if isinstance(models, dict) else {}


def _shared_paths(root: Path, rev: str) -> list[str]:
    data = yaml_at(root, rev, layout.PLATFORM_POLICY)
    shared = data.get("shared_paths") if isinstance(data, dict) else None
    if isinstance(shared, list) and all(isinstance(p, str) for p in shared):
        return shared
    return list(DEFAULT_SHARED_PATHS)


def _language(raw: bytes | None, display: str) -> str | None:
    if raw is None:
        return None
    loaded = parse_yaml_bytes(raw, display)
    data = loaded.document.data if loaded.document else None
    language = data.get("language") if isinstance(data, dict) else None
    return language if isinstance(language, str) else None
