"""The CODEOWNERS file the model owners and the platform owners call for, and the one committed."""

from __future__ import annotations

from pathlib import Path

from mlops.adapters.repository import model_folders
from mlops.adapters.schemas import SchemaSet, load_schemas
from mlops.core import layout
from mlops.core.codeowners import CODEOWNERS_PATH, CodeownersError, parse_rules, render
from mlops.core.diagnostics import Diagnostic, has_errors, sorted_diagnostics
from mlops.core.document import Document
from mlops.errors import InvalidInput, MlopsError
from mlops.flows.repository import check_manifests, load_checked

# GitHub reads the first of these that exists; ours shadows the other two.
SHADOWED = ("CODEOWNERS", "docs/CODEOWNERS")


def generate(root: Path) -> str:
    """The CODEOWNERS text for the repository; InvalidInput names every file that is in the way."""
    schemas = load_schemas(root)
    problems = list(schemas.diagnostics)
    owners: dict[str, list[str]] = {}
    for model, document, found in check_manifests(root, model_folders(root), schemas):
        problems += found
        if document is not None:
            owners[model] = list(document.get(("owners",), []))
    platform, found = _platform(root, schemas)
    problems += found
    errors = [d for d in sorted_diagnostics(problems) if d.severity == "error"]
    if errors or platform is None:
        files = ", ".join(dict.fromkeys(d.file for d in errors)) or layout.PLATFORM_POLICY
        raise InvalidInput(
            f"cannot generate {CODEOWNERS_PATH}: {files} failed to load or validate",
            hint="fix the errors above (`mlops validate` shows them all)",
            diagnostics=errors,
        )
    try:
        return render(
            owners,
            platform.get(("platform_owners",), []),
            platform.get(("shared_paths",), []),
        )
    except CodeownersError as exc:
        raise MlopsError(f"cannot generate {CODEOWNERS_PATH}: {exc}") from None


def _platform(root: Path, schemas: SchemaSet) -> tuple[Document | None, list[Diagnostic]]:
    compiled = schemas.schemas.get("platform")

    def check(document: Document) -> list[Diagnostic]:
        return compiled.diagnostics(document) if compiled is not None else []

    path = layout.PLATFORM_POLICY
    document, problems = load_checked(root / path, path, check)
    if document is None and not has_errors(problems):
        problems.append(Diagnostic(path, (), "cannot be read"))
    return document, problems


def syntax_problems(current: str | None) -> list[str]:
    if not current:
        return []
    try:
        parse_rules(current)
    except CodeownersError as exc:
        return exc.problems
    return []
