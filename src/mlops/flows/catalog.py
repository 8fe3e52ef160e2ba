"""The model catalog: every model's summary (owners, language, versions, stages) from the
checked repository, for `mlops list` and `mlops show`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core import layout
from mlops.core.catalog import ModelSummary, summarize
from mlops.core.diagnostics import Diagnostic
from mlops.errors import UnknownModel
from mlops.flows.repository import RepositoryCheck, check_repository, registry_models


@dataclass(frozen=True)
class ModelDetail:
    """One model as `mlops show` presents it."""

    summary: ModelSummary
    manifest: Any
    registry: Any
    problems: list[Diagnostic]


def model_summaries(root: Path) -> list[ModelSummary]:
    """Every model folder, valid or not (an invalid one counts its errors)."""
    return summaries_of(check_repository(root))


def summaries_of(check: RepositoryCheck) -> list[ModelSummary]:
    """Every model folder of a repository check (an invalid one counts its errors)."""
    registry = registry_models(check)
    folders = {n for d in check.diagnostics if (n := layout.model_of_path(d.file)) is not None}
    return [
        summarize(name, _data(check, name), registry.get(name), len(_problems(check, name, True)))
        for name in sorted(set(check.manifests) | folders)
    ]


def model_detail(root: Path, name: str) -> ModelDetail:
    check = check_repository(root)
    if name not in check.manifests and not (root / layout.model_dir(name)).is_dir():
        known = ", ".join(sorted(check.manifests)) or "none"
        raise UnknownModel(f"no model named {name!r} (known: {known})")
    problems = _problems(check, name, False)
    registry = registry_models(check).get(name)
    manifest = _data(check, name)
    errors = sum(d.severity == "error" for d in problems)
    return ModelDetail(summarize(name, manifest, registry, errors), manifest, registry, problems)


def _data(check: RepositoryCheck, name: str) -> Any:
    document = check.manifests.get(name)
    return document.data if document else None


def _problems(check: RepositoryCheck, name: str, errors_only: bool) -> list[Diagnostic]:
    found = check.errors() if errors_only else check.diagnostics
    return [d for d in found if d.file.startswith(f"{layout.model_dir(name)}/")]
