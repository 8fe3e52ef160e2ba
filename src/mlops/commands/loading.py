"""Shared by the commands that act on named models: a checked repository and valid manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.commands.validate import RepositoryCheck, check_repository
from mlops.core import layout
from mlops.errors import InvalidInput, UnknownModel


def checked_models(root: Path, names: list[str], doing: str) -> RepositoryCheck:
    """The repository check, refusing unknown models and models whose files have errors
    (printed to stderr, each with its line); `doing` names the work that is refused."""
    check = check_repository(root)
    for name in names:
        if name not in check.manifests:
            known = ", ".join(sorted(check.manifests)) or "none"
            raise UnknownModel(f"no model named {name!r} (known: {known})")
        folder = f"{layout.model_dir(name)}/"
        problems = [
            d for d in check.diagnostics if d.severity == "error" and d.file.startswith(folder)
        ]
        if problems:
            for problem in problems:
                click.echo(problem.render(), err=True)
            raise InvalidInput(f"{name}: the manifest is invalid; nothing was {doing}")
    return check


def manifest_data(check: RepositoryCheck, name: str) -> dict[str, Any]:
    data = check.manifests[name].data
    return data if isinstance(data, dict) else {}


def registry_entry(check: RepositoryCheck, name: str) -> dict[str, Any]:
    """The model's registry.yaml entry ({} when it has none)."""
    entry = check.registry.get(("models", name)) if check.registry else None
    return entry if isinstance(entry, dict) else {}


def promotion_policy(check: RepositoryCheck) -> dict[str, Any]:
    data = check.promotion.data if check.promotion else None
    return data if isinstance(data, dict) else {}
