"""Rules a JSON Schema cannot express: across fields, files and the repository's folders.

Every rule reads defensively (the document may also have schema errors) and reports through
the document, so each problem points at the line it concerns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from mlops.core.cron import cron_problem
from mlops.core.diagnostics import Diagnostic
from mlops.core.document import Document
from mlops.core.image_reference import DIGEST, parse_reference
from mlops.core.stages import CANARY, PRODUCTION, PROMOTION_STAGES

EXTENSIONS = {"python": (".py",), "r": (".R", ".r"), "julia": (".jl",)}


def manifest_rules(
    folder: str, doc: Document, file_exists: Callable[[str], bool]
) -> list[Diagnostic]:
    """Rules for `models/<folder>/model.yaml`; `file_exists` answers for model-relative paths."""
    if not isinstance(doc.data, dict):
        return []
    return [
        *_name_matches_folder(folder, doc),
        *_entrypoints(doc, file_exists),
        *_features(doc),
        *_inputs(doc),
        *_metrics(doc),
        *_schedules(doc),
        *_monitoring(doc),
        *placeholder_warnings(doc),
    ]


def _name_matches_folder(folder: str, doc: Document) -> Iterator[Diagnostic]:
    name = doc.get(("name",))
    if isinstance(name, str) and name != folder:
        yield doc.error(
            ("name",),
            f"name {name!r} must equal the model's folder name {folder!r} "
            f"(rename the folder or set name: {folder})",
        )


def _entrypoints(doc: Document, file_exists: Callable[[str], bool]) -> Iterator[Diagnostic]:
    language = doc.get(("language",))
    entrypoints = doc.get(("entrypoints",))
    if not isinstance(entrypoints, dict):
        return
    for role in ("train", "predict"):
        path = entrypoints.get(role)
        if not isinstance(path, str) or not path or path.startswith("/") or ".." in path:
            continue
        if not file_exists(path):
            yield doc.error(("entrypoints", role), f"{role} entrypoint {path!r} does not exist")
        elif (
            isinstance(language, str)
            and language in EXTENSIONS
            and not path.endswith(EXTENSIONS[language])
        ):
            wanted = " or ".join(EXTENSIONS[language])
            yield doc.error(
                ("entrypoints", role),
                f"language is {language} but {path!r} is not a {wanted} file",
            )


def _names(items: Any) -> list[tuple[int, str]]:
    if not isinstance(items, list):
        return []
    return [
        (i, item["name"])
        for i, item in enumerate(items)
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    ]


def _features(doc: Document) -> Iterator[Diagnostic]:
    features = doc.get(("data", "features"))
    seen: dict[str, int] = {}
    for index, name in _names(features):
        if name in seen:
            yield doc.error(
                ("data", "features", index, "name"),
                f"feature {name!r} is declared twice (first at data.features[{seen[name]}])",
            )
        seen.setdefault(name, index)
        feature = features[index]
        low, high = feature.get("minimum"), feature.get("maximum")
        if _inverted(low, high):
            yield doc.error(
                ("data", "features", index), f"minimum {low} is greater than maximum {high}"
            )
    target = doc.get(("data", "target", "name"))
    if isinstance(target, str) and target in seen:
        yield doc.error(
            ("data", "target", "name"), f"target {target!r} is also declared as a feature"
        )
    task = doc.get(("task",))
    target_spec = doc.get(("data", "target"))
    if (
        task == "classification"
        and isinstance(target_spec, dict)
        and not isinstance(target_spec.get("classes"), dict)
    ):
        yield doc.error(("data", "target"), "a classification target must list its classes")
    for index, field in enumerate(_strings(doc.get(("compliance", "pii_fields")))):
        if seen and field not in seen and field != target:
            yield doc.error(
                ("compliance", "pii_fields", index),
                f"PII field {field!r} is neither a feature nor the target",
            )
    subject = doc.get(("compliance", "subject_id_field"))
    id_column = doc.get(("serving", "batch", "id_column"))
    if isinstance(subject, str) and seen and subject not in seen and subject != id_column:
        yield doc.error(
            ("compliance", "subject_id_field"),
            f"subject field {subject!r} is neither a feature nor serving.batch.id_column",
        )


def _inputs(doc: Document) -> Iterator[Diagnostic]:
    inputs = doc.get(("data", "inputs"))
    if not isinstance(inputs, list):
        return
    holdouts = [
        i
        for i, item in enumerate(inputs)
        if isinstance(item, dict) and item.get("role") == "holdout"
    ]
    for index in holdouts[1:]:
        yield doc.error(
            ("data", "inputs", index, "role"),
            f"only one input may be the holdout (data.inputs[{holdouts[0]}] already is)",
        )


def _metrics(doc: Document) -> Iterator[Diagnostic]:
    primary = doc.get(("metrics", "primary"))
    tracked = _strings(doc.get(("metrics", "tracked")))
    known = {primary, *tracked} if isinstance(primary, str) else set(tracked)
    if isinstance(primary, str) and primary in tracked:
        yield doc.warning(
            ("metrics", "tracked"), f"primary metric {primary!r} need not be listed in tracked"
        )
    absolute = doc.get(("metrics", "gates", "absolute"))
    if isinstance(absolute, dict):
        for metric, bounds in absolute.items():
            path = ("metrics", "gates", "absolute", metric)
            if known and metric not in known:
                yield doc.error(
                    path,
                    f"gate on {metric!r}, which is neither the primary metric nor tracked",
                    key=True,
                )
            if isinstance(bounds, dict):
                low, high = bounds.get("min"), bounds.get("max")
                if _inverted(low, high):
                    yield doc.error(path, f"min {low} is greater than max {high}: no value passes")
    live = doc.get(("monitoring", "performance"))
    if isinstance(live, dict) and _inverted(live.get("min"), live.get("max")):
        yield doc.error(
            ("monitoring", "performance"),
            f"min {live['min']} is greater than max {live['max']}: every value alerts",
        )
    performance = doc.get(("monitoring", "performance", "metric"))
    if isinstance(performance, str) and known and performance not in known:
        yield doc.error(
            ("monitoring", "performance", "metric"),
            f"performance metric {performance!r} is neither the primary metric nor tracked",
        )


def _schedules(doc: Document) -> Iterator[Diagnostic]:
    for path in (("serving", "batch", "schedule"), ("monitoring", "drift", "schedule")):
        value = doc.get(path)
        if isinstance(value, str) and len(value.split()) == 5:  # else the schema reports it
            problem = cron_problem(value)
            if problem:
                yield doc.error(path, problem)


def _monitoring(doc: Document) -> Iterator[Diagnostic]:
    declared = {name for _, name in _names(doc.get(("data", "features")))}
    watched = _strings(doc.get(("monitoring", "drift", "features")))
    for index, feature in enumerate(watched):
        if declared and feature not in declared:
            yield doc.error(
                ("monitoring", "drift", "features", index),
                f"drift is watched on {feature!r}, which is not a declared feature",
            )


def registry_rules(doc: Document, models: set[str]) -> list[Diagnostic]:
    """Registry entries name existing models; stage pointers name existing versions; a pushed
    image is a valid reference that comes with its image ID."""
    entries = doc.get(("models",))
    if not isinstance(entries, dict):
        return []
    found: list[Diagnostic] = []
    for model, entry in entries.items():
        if model not in models:
            found.append(
                doc.error(
                    ("models", model),
                    f"registry entry {model!r} names no model (no folder models/{model}/)",
                    key=True,
                )
            )
        if not isinstance(entry, dict):
            continue
        versions = entry.get("versions")
        versions = versions if isinstance(versions, dict) else {}
        found += _pushed_images(doc, model, versions)
        stages = entry.get("stages")
        if not isinstance(stages, dict):
            continue
        pointers = [(stage, stages.get(stage)) for stage in PROMOTION_STAGES]
        canary = stages.get(CANARY)
        if isinstance(canary, dict):
            pointers.append((f"{CANARY}.version", canary.get("version")))
        for stage, version in pointers:
            if isinstance(version, str) and version not in versions:
                known = ", ".join(sorted(versions)) or "none"
                found.append(
                    doc.error(
                        ("models", model, "stages", *stage.split(".")),
                        f"{stage} points to version {version!r}, which is not in "
                        f"models.{model}.versions (known: {known})",
                    )
                )
        if isinstance(canary, dict) and isinstance(canary.get("version"), str):
            if PRODUCTION not in stages:
                found.append(
                    doc.error(
                        ("models", model, "stages", CANARY),
                        "a canary splits production traffic, but no version holds production",
                    )
                )
            elif canary["version"] == stages.get(PRODUCTION):
                found.append(
                    doc.error(
                        ("models", model, "stages", CANARY, "version"),
                        "canary version is already the production version",
                    )
                )
    return found


def _pushed_images(doc: Document, model: str, versions: dict[Any, Any]) -> Iterator[Diagnostic]:
    for version, entry in versions.items():
        image = entry.get("image") if isinstance(entry, dict) else None
        if not isinstance(image, str) or not DIGEST.fullmatch(image.rpartition("@")[2]):
            continue  # absent, or not pinned: the schema says so
        path = ("models", model, "versions", version, "image")
        try:
            parse_reference(image)
        except ValueError as exc:
            yield doc.error(path, str(exc))
            continue
        if "image_digest" not in entry:
            why = "a pushed image needs the image_digest (image ID) it was built as"
            yield doc.error(path, why)


def promotion_rules(doc: Document, models: set[str]) -> list[Diagnostic]:
    """Per-model overrides must name existing models."""
    overrides = doc.get(("overrides",))
    if not isinstance(overrides, dict):
        return []
    return [
        doc.error(("overrides", model), f"override for {model!r}, which is not a model", key=True)
        for model in overrides
        if model not in models
    ]


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _inverted(low: Any, high: Any) -> bool:
    """Both bounds are numbers and the lower one is above the upper one."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    return numbers and bool(low > high)  # exact for huge ints, where float() would overflow


def placeholder_warnings(doc: Document) -> list[Diagnostic]:
    """Text still holding a template's TODO: fine while drafting, flagged so it is not shipped."""
    found: list[Diagnostic] = []
    if "TODO" not in json.dumps(doc.data, default=str):  # the common case, checked in C
        return found
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), doc.data)]
    seen: set[int] = set()
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict | list):
            if id(value) in seen:  # a YAML alias: its TODOs are reported where it is defined
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
        elif isinstance(value, str) and "TODO" in value:
            found.append(doc.warning(path, "still holds a TODO placeholder from the template"))
    return found
