"""Model cards: each model's committed files read, checked and rendered, beside the card
committed now. The same files give the same bytes on every machine."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters import dvc
from mlops.adapters.repository import model_folders
from mlops.adapters.schemas import SchemaSet, load_schemas
from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import layout
from mlops.core.card import CardInputs, card_path, render
from mlops.core.diagnostics import Diagnostic, has_errors
from mlops.core.document import Document
from mlops.core.rules import promotion_rules, registry_rules
from mlops.core.text_diff import file_diff
from mlops.errors import InvalidInput, MlopsError, UnknownModel, UsageError
from mlops.flows.repository import check_manifest, load_checked

METRICS_FILES = {
    "evaluation.json": "the held-out metrics the pipeline's evaluate stage writes",
    "metrics.json": "the training metrics the pipeline's train stage writes",
}


@dataclass(frozen=True)
class Card:
    """One model's card as rendered now, and the text committed (None when missing)."""

    model: str
    path: str
    text: str
    committed: str | None

    @property
    def current(self) -> bool:
        return self.committed == self.text

    def diff(self) -> str:
        return file_diff(self.path, self.committed, self.text)


def render_cards(root: Path, names: list[str]) -> list[Card]:
    """Render the cards of `names`; raise on the first model whose inputs are broken."""
    schemas = load_schemas(root)
    _stop_on(schemas.diagnostics, "the schemas in policies/schemas/")
    known = set(model_folders(root))
    policy = _checked(root, schemas, "promotion", layout.PROMOTION_POLICY, known)
    registry = _checked(root, schemas, "registry", layout.REGISTRY, known)
    entries = registry.get("models") if isinstance(registry, dict) else None
    cards = []
    for name in names:
        inputs = gather(root, name, schemas, policy, entries if isinstance(entries, dict) else {})
        path = card_path(name)
        cards.append(Card(name, path, render(inputs), _read_text(root / path)))
    return cards


def gather(
    root: Path,
    name: str,
    schemas: SchemaSet,
    policy: dict[str, Any],
    registry_models: dict[str, Any],
) -> CardInputs:
    """Read and check one model's files into the renderer's plain inputs."""
    _, document, problems = check_manifest(root, name, schemas)
    _stop_on(problems, layout.manifest_path(name), hint=f"run `mlops validate {_folder(name)}`")
    if document is None:  # not reached: a manifest that cannot be read is an error above
        raise MlopsError(f"{layout.manifest_path(name)} cannot be read")
    entry = registry_models.get(name)
    return CardInputs(
        name=name,
        manifest=document.data,
        policy=policy,
        evaluation=read_metrics(root, name, "evaluation.json"),
        training=read_metrics(root, name, "metrics.json"),
        params=_params(root, name),
        lock=_lock(root, name),
        registry_entry=entry if isinstance(entry, dict) else None,
    )


def read_metrics(root: Path, model: str, file: str) -> dict[str, Any]:
    """A pipeline metrics file: a JSON object of metric names and finite numbers."""
    display, what = f"{_folder(model)}/{file}", METRICS_FILES[file]
    expected = f'expected {what}, a JSON object such as {{"rmse": 2.84}}'
    try:
        raw = (root / display).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MlopsError(
            f"{display} not found: {expected}",
            hint=f"run `mlops train {model}` and commit {file}",
        ) from None
    except (UnicodeDecodeError, OSError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise MlopsError(f"{display} cannot be read ({reason}): {expected}") from None
    try:
        data = json.loads(raw, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise MlopsError(
            f"{display}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}): {expected}"
        ) from None
    except ValueError as exc:
        raise MlopsError(f"{display}: {exc}: {expected}") from None
    if not isinstance(data, dict):
        raise MlopsError(f"{display} holds {_kind(data)}, not an object: {expected}")
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MlopsError(f"{display}: {key!r} is {_kind(value)}, not a number: {expected}")
    if not any(key != "n_rows" for key in data):
        raise MlopsError(f"{display} holds no metrics: {expected}")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key!r}")
        data[key] = value
    return data


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _lock(root: Path, model: str) -> dict[str, Any]:
    display = f"{_folder(model)}/dvc.lock"
    if not (root / display).is_file():
        raise MlopsError(
            f"{display} not found: expected the lock file `dvc repro` writes for the pipeline",
            hint=f"run `mlops train {model}` and commit dvc.lock",
        )
    return dvc.read_lock(root, model)


def _params(root: Path, model: str) -> dict[str, Any]:
    display = f"{_folder(model)}/params.yaml"
    loaded = load_yaml_file(root / display, display)
    _stop_on(loaded.diagnostics, display, hint=None, problem="cannot be read")
    data = loaded.document.data if loaded.document is not None else None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MlopsError(f"{display}: expected a mapping of parameters, got {_kind(data)}")
    return data


def _checked(
    root: Path, schemas: SchemaSet, kind: str, display: str, known: set[str]
) -> dict[str, Any]:
    compiled = schemas.schemas.get(kind)
    rules: Callable[[Document, set[str]], list[Diagnostic]] = (
        registry_rules if kind == "registry" else promotion_rules
    )

    def check(document: Document) -> list[Diagnostic]:
        problems = compiled.diagnostics(document) if compiled is not None else []
        return problems + rules(document, known)

    document, problems = load_checked(root / display, display, check)
    _stop_on(problems, display)
    if document is None or not isinstance(document.data, dict):
        raise MlopsError(f"{display} cannot be read: expected a YAML mapping")
    return document.data


def _stop_on(
    problems: list[Diagnostic],
    what: str,
    hint: str | None = "run `mlops validate`",
    problem: str = "failed validation",
) -> None:
    """Report the errors among `problems` and stop, naming what failed."""
    if not has_errors(problems):
        return
    errors = [d for d in problems if d.severity == "error"]
    raise InvalidInput(
        f"{what} {problem} ({len(errors)} error(s)): no card written",
        hint=hint,
        diagnostics=errors,
    )


def _folder(model: str) -> str:
    return layout.model_dir(model)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return ""


def select_models(root: Path, names: tuple[str, ...], every: bool) -> list[str]:
    if every and names:
        raise UsageError("name models or pass --all, not both")
    known = model_folders(root)
    if every:
        return known
    if not names:
        raise UsageError("name the models whose cards to write, or pass --all")
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = ", ".join(known) or "none"
        raise UnknownModel(f"no model named {unknown[0]!r} (known: {listed})")
    return list(dict.fromkeys(names))
