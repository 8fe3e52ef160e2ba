"""What a model's pipeline reads and writes in its folder: parameters, metrics, the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import layout
from mlops.core.lineage import tree_sha256
from mlops.errors import InvalidInput, MlopsError


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object the pipeline wrote (metrics.json, evaluation.json)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MlopsError(f"{path.name} was not written by the pipeline ({path})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MlopsError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MlopsError(f"{path}: expected a JSON object of metrics")
    return data


def read_params(root: Path, model: str) -> dict[str, Any]:
    """The model's params.yaml as a mapping; its diagnostics (file, line, column) on stderr."""
    display = f"{layout.model_dir(model)}/params.yaml"
    loaded = load_yaml_file(root / display, display)
    if loaded.document is None or loaded.diagnostics:
        for diagnostic in loaded.diagnostics:
            click.echo(diagnostic.render(), err=True)
        raise InvalidInput(f"{display} cannot be read")
    if not isinstance(loaded.document.data, dict):
        raise InvalidInput(f"{display}: expected a mapping of parameters")
    return loaded.document.data


def folder_digest(folder: Path, leave_out: frozenset[str] = frozenset()) -> str:
    """SHA-256 over a directory's files (relative paths and bytes), but those named."""
    files = [
        (name, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and (name := p.relative_to(folder).as_posix()) not in leave_out
    ]
    return tree_sha256(files)


def artifact_digest(folder: Path) -> str:
    """The digest of the model directory the pipeline wrote."""
    if not any(p.is_file() for p in folder.rglob("*")):
        raise MlopsError(f"the pipeline wrote no model files into {folder}")
    return folder_digest(folder)
