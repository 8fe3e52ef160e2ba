"""Sections of a model card drawn from data: training data, parameters, lineage,
compliance and the registry's version history.

Each function takes plain parsed data and returns Markdown text (without a trailing newline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops.core.card_format import as_dict as _dict
from mlops.core.card_format import as_list as _list
from mlops.core.card_format import cell, code, code_cell, number, paragraph, scalar, size, table
from mlops.core.lineage import flatten, input_hashes, params_hash
from mlops.core.stages import CANARY, PRODUCTION, STAGING

# The card lists what serves users first.
STAGES = (PRODUCTION, STAGING, CANARY)
COMPLIANCE_FIELDS = (
    ("data_classification", "Data classification"),
    ("pii", "Personal data (PII)"),
    ("pii_fields", "PII fields"),
    ("subject_id_field", "Data subject identified by"),
    ("legal_basis", "Legal basis"),
    ("retention_days", "Retention"),
    ("risk_level", "Risk level (EU AI Act)"),
    ("notes", "Notes"),
)


def lock_entries(lock: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every path dvc.lock records with its md5, size and file count (outputs win)."""
    found: dict[str, dict[str, Any]] = {}
    for stage in _dict(lock.get("stages")).values():
        for kind in ("deps", "outs"):
            for entry in _list(_dict(stage).get(kind)):
                if not isinstance(entry, Mapping) or "path" not in entry:
                    continue
                if kind == "outs" or str(entry["path"]) not in found:
                    found[str(entry["path"])] = dict(entry)
    return found


def _stored(entry: Mapping[str, Any] | None) -> tuple[str, str]:
    """An entry's md5 and size as cells."""
    if not entry:
        return "not in dvc.lock", "-"
    md5 = code_cell(entry["md5"]) if isinstance(entry.get("md5"), str) else "-"
    amount = size(entry.get("size"))
    files = entry.get("nfiles")
    if isinstance(files, int) and not isinstance(files, bool):
        amount += f" in {files} file{'s' if files != 1 else ''}"
    return md5, amount


def training_data(manifest: Mapping[str, Any], lock: Mapping[str, Any]) -> str:
    """Inputs with their dvc.lock md5 and size, the feature table and the target."""
    data = _dict(manifest.get("data"))
    stored = lock_entries(lock)
    rows = []
    for item in _list(data.get("inputs")):
        item = _dict(item)
        md5, amount = _stored(stored.get(str(item.get("path"))))
        rows.append(
            [
                code_cell(item.get("path", "")),
                cell(item.get("role", "")),
                cell(item.get("description", "")),
                cell(item.get("source", "")),
                md5,
                amount,
            ]
        )
    parts = [
        "## Training data",
        "### Inputs",
        table(["Path", "Role", "Description", "Source", "DVC md5", "Size"], rows)
        if rows
        else "The manifest declares no inputs.",
        "Hashes and sizes are the ones `dvc.lock` records: `dvc pull` restores exactly these "
        "files.",
        "### Features",
        _features(_list(data.get("features"))),
        "### Target",
        _target(_dict(data.get("target"))),
    ]
    return "\n\n".join(parts)


def _features(features: Sequence[Any]) -> str:
    if not features:
        return "The manifest declares no features."
    features = [_dict(f) for f in features]
    with_unit = any("unit" in f for f in features)
    headers = ["#", "Name", "Type", *(["Unit"] if with_unit else []), "Range", "Description"]
    rows = []
    for index, feature in enumerate(features, 1):
        unit = [cell(feature.get("unit", ""))] if with_unit else []
        rows.append(
            [
                str(index),
                code_cell(feature.get("name", "")),
                cell(feature.get("type", "")),
                *unit,
                cell(_range(feature)),
                cell(feature.get("description", "")),
            ]
        )
    intro = f"The model expects these {len(features)} features, in this order."
    return intro + "\n\n" + table(headers, rows)


def _range(feature: Mapping[str, Any]) -> str:
    low, high = feature.get("minimum"), feature.get("maximum")
    if low is not None and high is not None:
        bounds = f"{scalar(low)} to {scalar(high)}"
    elif low is not None:
        bounds = f"≥ {scalar(low)}"
    elif high is not None:
        bounds = f"≤ {scalar(high)}"
    else:
        bounds = ""
    categories = _list(feature.get("categories"))
    if categories:
        bounds = "one of " + ", ".join(scalar(c) for c in categories)
    if feature.get("nullable") is True:
        bounds = f"{bounds}; may be missing" if bounds else "may be missing"
    return bounds


def _target(target: Mapping[str, Any]) -> str:
    if not target:
        return "The manifest declares no target."
    unit = f", in {paragraph(target['unit'])}" if target.get("unit") else ""
    kind = paragraph(target.get("type", "?"))
    described = paragraph(target.get("description", ""))
    head = f"{code(target.get('name', '?'))} ({kind}{unit}): {described}"
    classes = _dict(target.get("classes"))
    if not classes:
        return head
    rows = [[code_cell(label), cell(meaning)] for label, meaning in classes.items()]
    return head + "\n\n" + table(["Class", "Meaning"], rows)


def parameters(params: Mapping[str, Any]) -> str:
    """params.yaml flattened to dotted names, exactly as written."""
    flat = flatten(params)
    if not flat:
        return (
            "## Training parameters\n\nThe pipeline takes no parameters (`params.yaml` is empty)."
        )
    rows = [[code_cell(name), code_cell(scalar(value))] for name, value in flat.items()]
    return "\n\n".join(
        [
            "## Training parameters",
            "From `params.yaml`; the pipeline's stages receive them as command-line flags.",
            table(["Parameter", "Value"], rows),
        ]
    )


def lineage(
    lock: Mapping[str, Any],
    params: Mapping[str, Any],
    manifest: Mapping[str, Any],
    versions: Mapping[str, Any],
) -> str:
    """Every dvc.lock stage with its command, hashes and parameters, and the registered
    versions trained on exactly these inputs and parameters."""
    parts = [
        "## Lineage",
        "`dvc.lock` records what the committed outputs were produced from: every stage's "
        "command, dependencies, outputs and parameters. Hash of `params.yaml` as the registry "
        f"records it: {code(params_hash(params))}.",
    ]
    for stage, entry in _dict(lock.get("stages")).items():
        parts.append(_stage(str(stage), _dict(entry)))
    inputs = [str(_dict(i).get("path")) for i in _list(_dict(manifest.get("data")).get("inputs"))]
    hashes, digest = input_hashes(lock, inputs), params_hash(params)
    matching = [
        str(v)
        for v, record in versions.items()
        if _dict(record).get("dvc_hashes") == hashes and _dict(record).get("params_hash") == digest
    ]
    same = ", ".join(code(v) for v in matching) if matching else "none yet"
    parts.append(
        "The exact run behind each registered version (MLflow run, git commit, data hashes, "
        "parameters hash and artifact digest) is recorded per version in `registry.yaml`; see "
        f"the version history. Versions trained on exactly these inputs and parameters: {same}."
    )
    return "\n\n".join(parts)


def _stage(name: str, entry: Mapping[str, Any]) -> str:
    commands = entry.get("cmd")
    commands = commands if isinstance(commands, list) else [commands] if commands else []
    lines = [f"### Stage {code(name)}"]
    if commands:
        lines.append("Command: " + "; then ".join(code(c) for c in commands))
    rows = []
    for kind, label in (("deps", "dependency"), ("outs", "output")):
        for item in _list(entry.get(kind)):
            item = _dict(item)
            md5, amount = _stored(item)
            rows.append([label, code_cell(item.get("path", "")), md5, amount])
    if rows:
        lines.append(table(["Kind", "Path", "md5", "Size"], rows))
    for file, values in _dict(entry.get("params")).items():
        flat = flatten(_dict(values))
        listed = ", ".join(code(f"{k}={scalar(v)}") for k, v in flat.items()) or "none"
        lines.append(f"Parameters from {code(file)}: {listed}.")
    return "\n\n".join(lines)


def compliance(compliance: Mapping[str, Any]) -> str:
    """Every compliance field: the known ones in a fixed order, then any others."""
    known = {key for key, _ in COMPLIANCE_FIELDS}
    labelled = [*COMPLIANCE_FIELDS, *((k, k) for k in compliance if k not in known)]
    rows = [[cell(label), _fact(key, compliance.get(key))] for key, label in labelled]
    return "## Compliance\n\n" + table(["Field", "Value"], rows)


def _fact(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "retention_days":
        return f"{cell(value)} days"
    if isinstance(value, list):
        return ", ".join(code_cell(v) for v in value) or "-"
    return cell(value)


def history(name: str, manifest: Mapping[str, Any], entry: Mapping[str, Any] | None) -> str:
    """Registered versions, newest first, with the stages each holds."""
    versions, stages = _dict(_dict(entry).get("versions")), _dict(_dict(entry).get("stages"))
    if not versions:
        return (
            "## Version history\n\nNo version is registered yet: "
            f"`mlops train {name}` registers the first one."
        )
    primary = str(_dict(manifest.get("metrics")).get("primary", "?"))
    held: dict[str, list[str]] = {}
    for stage in STAGES:
        value = stages.get(stage)
        version = value.get("version") if isinstance(value, Mapping) else value
        if version is not None:
            held.setdefault(str(version), []).append(stage)
    rows = []
    for version in sorted(versions, key=_version_key, reverse=True):
        record = _dict(versions[version])
        commit = record.get("git_commit")
        value = _dict(record.get("metrics")).get(primary)
        rows.append(
            [
                code_cell(version),
                cell(record.get("created", "")),
                code_cell(str(commit)[:12]) if isinstance(commit, str) else "-",
                number(value) if value is not None else "-",
                ", ".join(held.get(version, [])) or "-",
            ]
        )
    headers = ["Version", "Created", "Git commit", f"{cell(primary)} (held-out)", "Stages"]
    intro = "Versions registered in `registry.yaml`, newest first."
    return "## Version history\n\n" + intro + "\n\n" + table(headers, rows)


def _version_key(version: str) -> tuple[int, int | str]:
    """Numeric versions in numeric order, after the others in text order."""
    return (1, int(version)) if version.isdigit() else (0, version)
