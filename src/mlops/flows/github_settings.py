"""`mlops github doctor` and `mlops github setup`: the repository's GitHub settings as code.

The workflows (`.github/workflows/*.yml`) say what the loop reads from the settings
(`core.workflows`); `[tool.mlops.github]` and the platform owners say the rest
(`adapters.settings`); GitHub says what is there (`adapters.github_settings`). The comparison
is `core.github_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlops.adapters.yaml_files import parse_yaml_text
from mlops.core.diagnostics import Diagnostic, sorted_diagnostics
from mlops.core.document import Document
from mlops.core.workflows import WorkflowNeeds, workflow_needs
from mlops.errors import InvalidInput

WORKFLOWS_DIR = ".github/workflows"


def _ignored(diagnostic: Diagnostic) -> bool:
    """GitHub reads a workflow's `on:` as the key "on", not YAML 1.1's boolean true."""
    return diagnostic.path == ("on",) and diagnostic.message.startswith("key on is read as")


def read_workflows(texts: Mapping[str, str]) -> WorkflowNeeds:
    """What the workflows (repository path -> text) need from the settings; InvalidInput
    naming every file, line and column that cannot be understood."""
    documents: list[Document] = []
    problems: list[Diagnostic] = []
    for path, text in sorted(texts.items()):
        loaded = parse_yaml_text(text, path)
        problems += [d for d in loaded.diagnostics if not _ignored(d)]
        if loaded.document is not None:
            documents.append(loaded.document)
    needs = workflow_needs(documents)
    errors = [d for d in sorted_diagnostics([*problems, *needs.diagnostics])
              if d.severity == "error"]  # fmt: skip
    if errors:
        files = ", ".join(dict.fromkeys(d.file for d in errors))
        raise InvalidInput(
            f"cannot tell what the workflows need: {files} cannot be understood",
            hint="fix the lines above",
            diagnostics=errors,
        )
    return needs


def load_workflows(root: Path) -> WorkflowNeeds:
    """`read_workflows` of every `.yml` and `.yaml` file in .github/workflows/."""
    folder = root / WORKFLOWS_DIR
    paths = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []
    texts = {}
    for path in paths:
        display = f"{WORKFLOWS_DIR}/{path.name}"
        try:
            texts[display] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{display}: cannot read the workflow: {exc}") from None
    return read_workflows(texts)
