"""Batch scoring on plain data: which version scores, where input, output and rejected rows
live, which lineage columns every output row carries, and whether a run may publish.

The version always comes from registry.yaml (the desired state), never from `latest`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops.core.stages import PRODUCTION
from mlops.errors import MlopsError

# Columns added to every output row, so any row leads back to its model version, input and run.
MODEL_COLUMN = "mlops_model"
VERSION_COLUMN = "mlops_version"
RUN_COLUMN = "mlops_model_run_id"
BATCH_COLUMN = "mlops_batch_run_id"
TIME_COLUMN = "mlops_scored_at"
LINEAGE_COLUMNS = (MODEL_COLUMN, VERSION_COLUMN, RUN_COLUMN, BATCH_COLUMN, TIME_COLUMN)
PREDICTION, PROBABILITY = "prediction", "probability"
# The name batch outputs go by where a served environment's would: monitoring summaries and
# alerts, and the partition of the prediction-log folder their labels are stored in.
ENVIRONMENT = "batch"
FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
QUARANTINE_SUFFIX = ".rejected.jsonl"
DEFAULT_MAX_REJECTED = 0.01
EXPERIMENT_PREFIX = "batch/"


class BatchError(MlopsError):
    """What makes a batch run impossible, said in one line."""


@dataclass(frozen=True)
class BatchSpec:
    """A model's `serving.batch`, with the defaults filled in."""

    enabled: bool
    schedule: str | None
    input: str | None
    output: str | None
    max_rejected: float = DEFAULT_MAX_REJECTED
    id_column: str | None = None


@dataclass(frozen=True)
class Pinned:
    """The registered version a run scores with, as registry.yaml records it."""

    model: str
    version: str
    model_uri: str
    run_id: str


def batch_spec(manifest: Mapping[str, Any]) -> BatchSpec:
    serving = manifest.get("serving")
    batch = serving.get("batch") if isinstance(serving, Mapping) else None
    batch = batch if isinstance(batch, Mapping) else {}
    share = batch.get("max_rejected_share", DEFAULT_MAX_REJECTED)
    return BatchSpec(
        enabled=batch.get("enabled") is True,
        schedule=_text(batch.get("schedule")),
        input=_text(batch.get("input")),
        output=_text(batch.get("output")),
        max_rejected=float(share),
        id_column=_text(batch.get("id_column")),
    )


def pinned_version(
    model: str, entry: Mapping[str, Any], stage: str | None, version: str | None
) -> Pinned:
    """The version registry.yaml names for `stage` (default production), or `version` when it
    is registered there; BatchError when there is none."""
    versions = entry.get("versions") or {}
    if version is None:
        stage = stage or PRODUCTION
        version = (entry.get("stages") or {}).get(stage)
        if version is None:
            raise BatchError(f"{model} has no {stage} version in registry.yaml")
    record = versions.get(str(version))
    if not isinstance(record, Mapping):
        known = ", ".join(sorted(map(str, versions))) or "none"
        raise BatchError(
            f"{model} version {version} is not registered in registry.yaml (registered: {known})"
        )
    uri = str(record.get("model_uri") or f"models:/{model}/{version}")
    return Pinned(model, str(version), uri, str(record.get("run_id") or ""))


def table_format(uri: str) -> str:
    """parquet, csv or jsonl, from the location's suffix; BatchError for anything else."""
    name = uri.rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix, kind in FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise BatchError(f"{uri}: unsupported format (use {', '.join(FORMATS)})")


def quarantine_location(output: str) -> str:
    """Where a run's rejected rows go: beside the output, one JSON line per row and reason."""
    return output + QUARANTINE_SUFFIX


def rejection_problem(rows_in: int, rejected: int, max_share: float) -> str | None:
    """Why a run with `rejected` of `rows_in` rows refused must not publish, or None."""
    if rows_in == 0:
        return "the input has no rows"
    share = rejected / rows_in
    if share > max_share:
        return (
            f"{rejected} of {rows_in} rows ({share:.2%}) failed the feature schema;"
            f" serving.batch.max_rejected_share allows {max_share:.2%}"
        )
    return None


def due_models(specs: Mapping[str, BatchSpec], schedule: str) -> list[str]:
    """The models whose enabled batch schedule is exactly `schedule` (as the cron entry
    that fired), sorted."""
    wanted = " ".join(schedule.split())
    return sorted(
        name
        for name, spec in specs.items()
        if spec.enabled and spec.schedule is not None and " ".join(spec.schedule.split()) == wanted
    )


def not_an_output(columns: list[str]) -> list[str]:
    """The columns every output of batch scoring has that `columns` lacks (none: it reads as
    one)."""
    return [c for c in (PREDICTION, *LINEAGE_COLUMNS) if c not in columns]


def output_columns(input_columns: list[str], id_column: str | None, classifier: bool) -> list[str]:
    """The output's columns: the input's own (or only its id column), the prediction (and the
    positive-class probability for a classifier), then the lineage columns."""
    kept = [id_column] if id_column else list(input_columns)
    scored = [PREDICTION, PROBABILITY] if classifier else [PREDICTION]
    clash = sorted(set(kept) & {*scored, *LINEAGE_COLUMNS})
    if clash:
        raise BatchError(
            f"the input has column(s) {', '.join(clash)}, which scoring adds;"
            " rename them or set serving.batch.id_column"
        )
    return [*kept, *scored, *LINEAGE_COLUMNS]


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and str(value) else None
