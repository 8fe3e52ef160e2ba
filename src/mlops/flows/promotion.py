"""A promotion as files: registry.yaml with the version in its new stage, and the model's card
regenerated beside it (it shows stages and history). Both are validated and rendered before
anything is written, and written together, each atomically, only when asked to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters import atomic
from mlops.adapters.schemas import load_schemas
from mlops.adapters.settings import load_settings
from mlops.core import layout
from mlops.core.card import card_path, render
from mlops.core.promotion import Promotion, Refused, promote
from mlops.core.text_diff import file_diff
from mlops.errors import MlopsError
from mlops.flows import candidates
from mlops.flows.cards import gather
from mlops.flows.registry_file import check_registry, render_registry
from mlops.flows.repository import (
    checked_models,
    manifest_data,
    promotion_policy,
    registry_entry,
    require_shared_files,
)


@dataclass(frozen=True)
class PromotionFiles:
    """The promotion decided, the files it rewrites (path -> new text) and registry.yaml's diff."""

    promotion: Promotion
    files: dict[Path, str]
    diff: str
    applied: bool


def promotion_files(
    root: Path, name: str, version: str, stage: str, weight: int | None, *, apply: bool
) -> PromotionFiles:
    """Decide the promotion (a version not yet in the registry comes from this machine's
    candidate record) and, with `apply`, write its files."""
    check = checked_models(root, [name], "promoted")
    require_shared_files(check, "promoted")
    registry_path = root / layout.REGISTRY
    before = registry_path.read_text(encoding="utf-8")
    current = check.registry.data if check.registry else {}
    policy = promotion_policy(check)
    listed = (registry_entry(check, name).get("versions") or {}).get(version) is not None
    # A version not yet listed comes in with its candidate record (this machine's, or the
    # tracking store's: whoever promotes need not be who trained).
    record = None if listed else candidates.of_version(load_settings(root), name, version)
    try:
        promotion = promote(
            current, name, version, stage, manifest=manifest_data(check, name), policy=policy,
            candidate=record, canary_weight=weight,
        )  # fmt: skip
    except Refused as refused:
        lines = "\n".join(f"  - {reason}" for reason in refused.reasons)
        raise MlopsError(f"{name} version {version} may not enter {stage}:\n{lines}") from None
    after = render_registry(before, promotion.registry)
    check_registry(root, after, f"promoting {name} version {version}")
    files = {registry_path: after}
    if promotion.changed:
        card = _card(root, name, promotion.registry, policy)
        if card is not None:
            files[root / card_path(name)] = card
    diff = file_diff(layout.REGISTRY, before, after)
    applied = apply and promotion.changed
    if applied:
        atomic.write_all(files)
    return PromotionFiles(promotion, files, diff, applied)


def _card(root: Path, name: str, registry: dict[str, Any], policy: dict[str, Any]) -> str | None:
    """The model's card under the new registry, or None when it has no card yet."""
    if not (root / card_path(name)).exists():
        return None
    models = registry.get("models") or {}
    return render(gather(root, name, load_schemas(root), policy, models))
