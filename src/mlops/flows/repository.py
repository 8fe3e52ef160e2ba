"""The checked repository: every manifest, the registry and the policies, loaded once and
checked against their schemas and rules, for every verb that acts on models."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

from mlops.adapters.repository import model_folders
from mlops.adapters.schemas import SchemaSet, load_schemas
from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import layout
from mlops.core.api_keys import keys_rules
from mlops.core.bounds import truncate
from mlops.core.costs import costs_rules
from mlops.core.diagnostics import Diagnostic, has_errors, sorted_diagnostics
from mlops.core.document import Document
from mlops.core.rules import manifest_rules, promotion_rules, registry_rules
from mlops.errors import InvalidInput, UnknownModel


@dataclass
class RepositoryCheck:
    """What was checked, what was found, and the documents that could be read."""

    root: Path
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    manifests: dict[str, Document] = field(default_factory=dict)
    registry: Document | None = None
    promotion: Document | None = None
    platform: Document | None = None
    costs: Document | None = None
    keys: Document | None = None

    @property
    def valid(self) -> bool:
        return not has_errors(self.diagnostics)

    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def within(self, scopes: list[str]) -> RepositoryCheck:
        """The files and diagnostics under `scopes` (paths relative to the root; none: all)."""
        if not scopes:
            return self
        return RepositoryCheck(
            self.root,
            [f for f in self.files if _in_scope(f, scopes)],
            [d for d in self.diagnostics if _in_scope(d.file, scopes)],
            self.manifests, self.registry, self.promotion, self.platform, self.costs, self.keys,
        )  # fmt: skip


def check_repository(root: Path) -> RepositoryCheck:
    """Load and check the whole repository, collecting every problem."""
    check = RepositoryCheck(root)
    schemas = load_schemas(root)
    check.files.extend(schemas.files)
    check.diagnostics.extend(schemas.diagnostics)
    models = model_folders(root)
    for model, document, problems in check_manifests(root, models, schemas):
        check.files.append(layout.manifest_path(model))
        check.diagnostics.extend(problems)
        if document is not None:
            check.manifests[model] = document
    known = set(models)
    check.registry = _load(
        check, schemas, "registry", layout.REGISTRY, lambda doc: registry_rules(doc, known)
    )
    check.promotion = _load(
        check,
        schemas,
        "promotion",
        layout.PROMOTION_POLICY,
        lambda doc: promotion_rules(doc, known),
    )
    check.platform = _load(check, schemas, "platform", layout.PLATFORM_POLICY)
    check.costs = _load(check, schemas, "costs", layout.COSTS_POLICY, costs_rules)
    check.keys = _load(check, schemas, "keys", layout.KEYS_POLICY,
                       lambda doc: keys_rules(doc, known))  # fmt: skip
    check.diagnostics = truncate(sorted_diagnostics(check.diagnostics))
    return check


ManifestResult = tuple[str, Document | None, list[Diagnostic]]


def check_manifest(
    root: Path, model: str, schemas: SchemaSet, folder: Path | None = None
) -> ManifestResult:
    """One model's manifest: parsed, against the schema, and through the manifest rules.

    `folder` overrides where the model's files are (a folder being prepared for `models/`).
    """
    display = layout.manifest_path(model)
    folder = folder or root / layout.model_dir(model)
    if not (folder / layout.MANIFEST).exists():
        return model, None, [_missing_manifest(model)]
    compiled = schemas.schemas.get("model")

    def check(document: Document) -> list[Diagnostic]:
        problems = compiled.diagnostics(document) if compiled is not None else []
        return problems + manifest_rules(model, document, _file_in(folder))

    document, problems = load_checked(folder / layout.MANIFEST, display, check)
    if document is not None:  # positions served the diagnostics; keep results small
        document = Document(document.file, document.data)
    return model, document, problems


def load_checked(
    path: Path, display: str, check: Callable[[Document], list[Diagnostic]]
) -> tuple[Document | None, list[Diagnostic]]:
    """Parse without positions and check; only when something is wrong, parse again with
    positions so that every diagnostic points at its line. Most files are valid.

    The file is refused unread when over the size limit for its kind, and its problems are
    listed up to the per-file cap, in file order, then counted (`core.bounds`)."""
    loaded = load_yaml_file(path, display, positions=False)
    if loaded.document is not None and not loaded.diagnostics:
        problems = check(loaded.document)
        if not problems:
            return loaded.document, []
    loaded = load_yaml_file(path, display)
    problems = list(loaded.diagnostics)
    if loaded.document is not None:
        # A value the loader already refused (a tag, a huge number) has no follow-on errors.
        problems += [d for d in check(loaded.document) if d.path not in loaded.refused]
    return loaded.document, truncate(sorted_diagnostics(problems))


# Parallel checking pays for its process start-up only on larger repositories.
PARALLEL_FROM = 64
_SHARED: dict[str, Any] = {}


def check_manifests(root: Path, models: list[str], schemas: SchemaSet) -> list[ManifestResult]:
    """Every manifest, split over the machine's cores when there are many (fork only)."""
    workers = min(os.cpu_count() or 1, 8)
    if len(models) < PARALLEL_FROM or workers < 2 or "fork" not in get_all_start_methods():
        return [check_manifest(root, model, schemas) for model in models]
    _SHARED.update(root=root, schemas=schemas)  # inherited by the forked workers
    chunks = [models[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        results = [r for chunk in pool.map(_check_chunk, chunks) for r in chunk]
    _SHARED.clear()
    return sorted(results, key=lambda r: r[0])


def _check_chunk(models: list[str]) -> list[ManifestResult]:
    return [check_manifest(_SHARED["root"], model, _SHARED["schemas"]) for model in models]


def _file_in(folder: Path) -> Callable[[str], bool]:
    return lambda relative_path: (folder / relative_path).is_file()


def _missing_manifest(model: str) -> Diagnostic:
    return Diagnostic(
        layout.manifest_path(model),
        (),
        f"file not found: every folder under {layout.MODELS_DIR}/ is a model and needs a "
        f"{layout.MANIFEST} (create one with `mlops new {model}`, or remove the folder)",
    )


def _load(
    check: RepositoryCheck,
    schemas: SchemaSet,
    kind: str,
    display: str,
    rules: Callable[[Document], list[Diagnostic]] | None = None,
) -> Document | None:
    check.files.append(display)
    compiled = schemas.schemas.get(kind)

    def checks(document: Document) -> list[Diagnostic]:
        problems = compiled.diagnostics(document) if compiled is not None else []
        return problems + (rules(document) if rules is not None else [])

    document, problems = load_checked(check.root / display, display, checks)
    check.diagnostics.extend(problems)
    return document


def _in_scope(file: str, scopes: list[str]) -> bool:
    return any(s in ("", ".") or file == s or file.startswith(s.rstrip("/") + "/") for s in scopes)


def checked_models(root: Path, names: list[str], doing: str) -> RepositoryCheck:
    """The repository check, refusing unknown models and models whose files have errors
    (carried by the error, each with its line); `doing` names the work that is refused."""
    check = check_repository(root)
    for name in names:
        if name not in check.manifests:
            known = ", ".join(sorted(check.manifests)) or "none"
            raise UnknownModel(f"no model named {name!r} (known: {known})")
        folder = f"{layout.model_dir(name)}/"
        problems = [d for d in check.errors() if d.file.startswith(folder)]
        if problems:
            raise InvalidInput(
                f"{name}: the manifest is invalid; nothing was {doing}", diagnostics=problems
            )
    return check


def require_shared_files(check: RepositoryCheck, doing: str) -> None:
    """Refuse when registry.yaml or a policy (anything outside models/) has errors."""
    problems = [d for d in check.errors() if not d.file.startswith(f"{layout.MODELS_DIR}/")]
    if problems:
        raise InvalidInput(
            f"{problems[0].file} is invalid: nothing was {doing}",
            hint="fix it first: `mlops validate`",
            diagnostics=problems,
        )


def manifest_data(check: RepositoryCheck, name: str) -> dict[str, Any]:
    data = check.manifests[name].data
    return data if isinstance(data, dict) else {}


def registry_entry(check: RepositoryCheck, name: str) -> dict[str, Any]:
    """The model's registry.yaml entry ({} when it has none)."""
    entry = check.registry.get(("models", name)) if check.registry else None
    return entry if isinstance(entry, dict) else {}


def registry_models(check: RepositoryCheck) -> dict[str, Any]:
    """registry.yaml's `models` mapping ({} when there is none)."""
    data = check.registry.data if check.registry else None
    models = data.get("models") if isinstance(data, dict) else None
    return models if isinstance(models, dict) else {}


def promotion_policy(check: RepositoryCheck) -> dict[str, Any]:
    data = check.promotion.data if check.promotion else None
    return data if isinstance(data, dict) else {}
