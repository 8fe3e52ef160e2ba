"""registry.yaml as a file: rendered in its canonical form, and checked before it is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops.adapters.repository import model_folders
from mlops.adapters.schemas import load_schemas
from mlops.adapters.yaml_files import parse_yaml_text
from mlops.core import layout
from mlops.core.rules import registry_rules
from mlops.errors import InvalidInput


def render_registry(original: str, data: dict[str, Any]) -> str:
    """registry.yaml in its canonical form, keeping the file's leading comment block."""
    header = []
    for line in original.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return "\n".join(header) + ("\n" if header else "") + body


def check_registry(root: Path, text: str, doing: str) -> None:
    """Refuse to write a registry that `mlops validate` would reject; `doing` names the change."""
    loaded = parse_yaml_text(text, layout.REGISTRY)
    problems = list(loaded.diagnostics)
    schema = load_schemas(root).schemas.get("registry")
    if loaded.document is not None:
        if schema is not None:
            problems += schema.diagnostics(loaded.document)
        problems += registry_rules(loaded.document, set(model_folders(root)))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InvalidInput(
            f"{doing} would make {layout.REGISTRY} invalid: nothing was written",
            diagnostics=errors,
        )
