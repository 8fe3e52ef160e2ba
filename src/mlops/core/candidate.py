"""The candidate record: the registry.yaml entry a trained version gets if it is promoted.

`mlops train` makes it, `mlops evaluate` takes its version as the default candidate and
`mlops promote` adds it to registry.yaml. One format, made and read here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# What every record holds besides the registry entry's fields.
REQUIRED = ("model", "version", "run_id", "model_uri", "git_commit", "artifact_sha256")


def candidate_record(
    model: str,
    version: str,
    lineage: Mapping[str, str],
    *,
    dvc_hashes: Mapping[str, str],
    metrics: Mapping[str, float],
    artifact_sha256: str,
    created: str,
    tracking_uri: str,
) -> dict[str, Any]:
    """The record of `model` `version`; `lineage` holds run_id, git_commit, params_hash and
    (when the model was logged) model_sha256."""
    return {
        "model": model,
        "version": version,
        "run_id": lineage["run_id"],
        "model_uri": f"models:/{model}/{version}",
        "git_commit": lineage["git_commit"],
        "dvc_hashes": dict(dvc_hashes),
        "params_hash": lineage["params_hash"],
        "metrics": dict(metrics),
        "artifact_sha256": artifact_sha256,
        **({"model_sha256": lineage["model_sha256"]} if lineage.get("model_sha256") else {}),
        "created": created,
        "tracking_uri": tracking_uri,
    }


def candidate_from_version(
    model: str, version: str, found: Mapping[str, str], tracking_uri: str
) -> dict[str, Any] | None:
    """The record of a registered version from its tags in the tracking store (`found`: the
    version's tags, `run_id` and `created`); None when it was registered without them."""
    try:
        dvc_hashes = json.loads(found["dvc_hashes"])
        metrics = json.loads(found["metrics"])
        lineage = {k: found[k] for k in ("run_id", "git_commit", "params_hash")}
        artifact = found["artifact_sha256"]
    except (KeyError, ValueError):
        return None
    if not isinstance(dvc_hashes, dict) or not isinstance(metrics, dict):
        return None
    lineage["model_sha256"] = found.get("model_sha256", "")
    return candidate_record(
        model, version, lineage, dvc_hashes=dvc_hashes, metrics=metrics,
        artifact_sha256=artifact, created=found["created"], tracking_uri=tracking_uri,
    )  # fmt: skip


def store_tags(record: Mapping[str, Any]) -> dict[str, str]:
    """What a version's tags hold of its record beyond the lineage tags: enough to make the
    record again on any machine that reaches the store (`candidate_from_version`)."""
    return {
        "dvc_hashes": json.dumps(record["dvc_hashes"], sort_keys=True),
        "metrics": json.dumps(record["metrics"], sort_keys=True),
    }


def candidate_problem(data: Any, model: str) -> str | None:
    """Why `data` is not a candidate record of `model`, or None when it is one."""
    if not isinstance(data, dict):
        return "expected a JSON object"
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        return f"missing {', '.join(missing)}"
    if data["model"] != model:
        return f"it is a record of {data['model']!r}, not {model!r}"
    return None
