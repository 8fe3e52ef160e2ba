"""Batch scoring: one model's rows scored with the version registry.yaml names, streamed in
record batches, checked against the manifest's features, written beside the destination and
published only when the run succeeds, and recorded as an MLflow run (experiment
`batch/<model>`)."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters import tables, tracking
from mlops.adapters.batch_model import BatchModel
from mlops.adapters.row_checks import check_batch, missing_columns
from mlops.adapters.settings import load_settings
from mlops.core import batch, layout
from mlops.core.features import ManifestError, features_from_manifest, model_schema
from mlops.core.stages import PRODUCTION
from mlops.errors import InvalidInput, MlopsError
from mlops.flows.repository import (
    checked_models,
    manifest_data,
    registry_entry,
    require_shared_files,
)

BATCH_ROWS = 100_000
Progress = Callable[[int, int | None], None]  # rows read so far, total when known


@dataclass
class BatchResult:
    """What one run did; `status` is scored, skipped or failed."""

    model: str
    status: str
    version: str | None = None
    input: str | None = None
    output: str | None = None
    quarantine: str | None = None
    rows_in: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    batch_run_id: str | None = None
    model_run_id: str | None = None
    input_sha256: str | None = None
    output_sha256: str | None = None
    note: str | None = None
    rejected_examples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Request:
    stage: str | None = None
    version: str | None = None
    input: str | None = None
    output: str | None = None
    batch_rows: int = BATCH_ROWS


def score_model(
    root: Path, name: str, request: Request, progress: Progress | None = None
) -> BatchResult:
    """Score `name`'s input with its pinned version and publish the output; MlopsError (and
    nothing published) when the input, the model or the share of rejected rows says no."""
    check = checked_models(root, [name], "scored")
    require_shared_files(check, "scored")
    manifest = manifest_data(check, name)
    spec = batch.batch_spec(manifest)
    try:
        features = features_from_manifest(manifest)
    except ManifestError as exc:
        raise InvalidInput(f"{layout.manifest_path(name)}: {exc}") from None
    pinned = batch.pinned_version(name, registry_entry(check, name), request.stage, request.version)
    folder = root / layout.model_dir(name)
    source = _where(request.input or spec.input, folder, name, "input")
    target = _where(request.output or spec.output, folder, name, "output")
    batch.table_format(target)
    settings = load_settings(root)
    with contextlib.redirect_stdout(sys.stderr):  # MLflow prints download progress
        tracking.connect(settings)
        experiment = tracking.experiment_id(settings, f"{batch.EXPERIMENT_PREFIX}{name}")
        classifier = manifest.get("task") == "classification"
        tags = {"mlops.model": name, "mlops.version": pinned.version,
                "mlops.model_run_id": pinned.run_id, "mlops.input": source,
                "mlops.output": target}  # fmt: skip
        with tracking.run(experiment, f"{name}-v{pinned.version}", tags) as run:
            result = BatchResult(
                name, "scored", pinned.version, source, target, batch.quarantine_location(target),
                batch_run_id=run.info.run_id, model_run_id=pinned.run_id,
            )  # fmt: skip
            try:
                _score(pinned, spec, features, classifier, request, result, progress)
            except MlopsError as exc:
                result.status, result.note = "failed", str(exc)
                _record(result)
                raise
            _record(result)
    return result


def _where(uri: str | None, folder: Path, name: str, what: str) -> str:
    if not uri:
        raise MlopsError(
            f"{name}: no {what} given",
            hint=f"pass --{what} or set serving.batch.{what} in {layout.manifest_path(name)}",
        )
    if "://" in uri or Path(uri).is_absolute():
        return uri
    return str(folder / uri)


def _score(
    pinned: batch.Pinned,
    spec: batch.BatchSpec,
    features: list[Any],
    classifier: bool,
    request: Request,
    result: BatchResult,
    progress: Progress | None,
) -> None:
    started = time.perf_counter()
    source = tables.locate(str(result.input))
    target = tables.locate(str(result.output))
    quarantine = tables.locate(str(result.quarantine))
    names = [f.name for f in features]
    reader = tables.open_reader(source, names, request.batch_rows)
    hashing = _Hash(source)
    model = BatchModel(pinned.model_uri, classifier)
    try:  # the model's own signature may be stricter: a number it takes as an integer
        features, dtypes = model_schema(features, model.input_schema)
    except ManifestError as exc:
        model.close()
        raise batch.BatchError(f"{pinned.model} version {pinned.version}: {exc}") from None
    lineage = {
        batch.MODEL_COLUMN: pinned.model, batch.VERSION_COLUMN: pinned.version,
        batch.RUN_COLUMN: pinned.run_id, batch.BATCH_COLUMN: result.batch_run_id,
    }  # fmt: skip
    scored_at = datetime.now(UTC)
    try:
        with tables.Writer(target, batch.table_format(target.uri)) as out, \
                tables.Writer(quarantine, "jsonl") as rejected:  # fmt: skip
            for chunk, bad_lines in reader.batches:
                _check_columns(reader.columns or chunk.schema.names, features, spec)
                rejected.write_records([{"row": b.row, "reason": b.reason, "line": b.text}
                                for b in bad_lines])  # fmt: skip
                numbering = _numbering(result.rows_in, [b.row for b in bad_lines])
                result.rows_in += chunk.num_rows + len(bad_lines)
                result.rows_rejected += len(bad_lines)
                if chunk.num_rows == 0:
                    continue
                checked = check_batch(chunk, features, numbering, reader.text)
                rejected.write_records(checked.rejected)
                result.rows_rejected += len(checked.rejected)
                if len(result.rejected_examples) < 5:
                    result.rejected_examples += checked.rejected[
                        : 5 - len(result.rejected_examples)
                    ]
                if checked.good.num_rows:
                    out.write(_scored(model, checked.good, dtypes, spec, classifier, lineage,
                                      scored_at, result))  # fmt: skip
                    result.rows_scored += checked.good.num_rows
                if progress is not None:
                    progress(result.rows_in, reader.total_rows)
            problem = batch.rejection_problem(
                result.rows_in, result.rows_rejected, spec.max_rejected
            )
            if problem:
                example = result.rejected_examples[:1]
                shown = f" (row {example[0]['row']}: {example[0]['reason']})" if example else ""
                raise batch.BatchError(f"{source.uri}: {problem}{shown}; nothing was published")
            out.close()
            rejected.close()
            result.output_sha256 = out.digest()
            result.input_sha256 = hashing.result()
            rejected.publish()
            out.publish()
    finally:
        hashing.stop()
        model.close()
    result.seconds = time.perf_counter() - started
    result.rows_per_second = result.rows_in / result.seconds if result.seconds else 0.0


def _numbering(before: int, skipped: list[int]) -> Callable[[int], int]:
    """The 1-based input row number of a chunk's row `index`, counting the lines the reader
    skipped (a ragged CSV row) among them."""
    skipped = sorted(skipped)

    def number(index: int) -> int:
        row = before + index + 1
        for line in skipped:
            if line <= row:
                row += 1
        return row

    return number


def _check_columns(columns: list[str], features: list[Any], spec: batch.BatchSpec) -> None:
    problem = missing_columns(columns, features)
    if problem:
        raise batch.BatchError(problem)
    if spec.id_column and spec.id_column not in columns:
        raise batch.BatchError(
            f"the input lacks the id column {spec.id_column!r} (serving.batch.id_column)"
        )


def _scored(
    model: BatchModel,
    good: Any,
    dtypes: dict[str, str],
    spec: batch.BatchSpec,
    classifier: bool,
    lineage: dict[str, Any],
    scored_at: datetime,
    result: BatchResult,
) -> Any:
    """The output rows of `good`: kept input columns, prediction(s), lineage."""
    import pyarrow as pa

    columns = batch.output_columns(good.schema.names, spec.id_column, classifier)
    try:
        frame = good.select(list(dtypes)).to_pandas()
        changed = {k: v for k, v in dtypes.items() if str(frame[k].dtype) != v}
        predictions, probability = model.predict(frame.astype(changed) if changed else frame)
    except Exception as exc:  # the model's own failure, or its worker process dying
        first = result.rows_in - good.num_rows + 1
        why = str(exc) if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
        raise batch.BatchError(
            f"{lineage[batch.MODEL_COLUMN]} version {lineage[batch.VERSION_COLUMN]} failed"
            f" while scoring rows from {first}: {why}; nothing was published"
        ) from None
    size = good.num_rows
    values: dict[str, Any] = {
        name: good.column(name) for name in columns if name in good.schema.names
    }
    values[batch.PREDICTION] = pa.array(predictions)
    if classifier:
        values[batch.PROBABILITY] = (pa.array(probability, pa.float64()) if probability is not None
                                     else pa.nulls(size, pa.float64()))  # fmt: skip
    for name, value in lineage.items():
        values[name] = pa.repeat(pa.scalar(value, pa.string()), size)
    values[batch.TIME_COLUMN] = pa.repeat(pa.scalar(scored_at, pa.timestamp("us", "UTC")), size)
    return pa.RecordBatch.from_pydict({name: values[name] for name in columns})


class _Hash:
    """The input's SHA-256, computed in a thread while the rows are scored (hashing releases
    the interpreter lock, so it costs the run little wall time on a second core)."""

    def __init__(self, location: tables.Location) -> None:
        self.value: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(location,), daemon=True)
        self.thread.start()

    def _run(self, location: tables.Location) -> None:
        try:
            self.value = tables.sha256(location)
        except BaseException as exc:  # reported by result()
            self.error = exc

    def result(self) -> str:
        self.thread.join()
        if self.value is None:
            raise batch.BatchError(f"cannot hash the input: {self.error}")
        return self.value

    def stop(self) -> None:
        self.thread.join(timeout=0)


def _record(result: BatchResult) -> None:
    """The run's counts and hashes in the tracking store."""
    metrics = {"rows_in": result.rows_in, "rows_scored": result.rows_scored,
               "rows_rejected": result.rows_rejected, "duration_seconds": result.seconds,
               "rows_per_second": result.rows_per_second}  # fmt: skip
    tags = {"mlops.status": result.status, "mlops.quarantine": str(result.quarantine),
            "mlops.input_sha256": result.input_sha256 or "",
            "mlops.output_sha256": result.output_sha256 or ""}  # fmt: skip
    if result.note:
        tags["mlops.error"] = result.note[:5000]
    tracking.set_tags(tags)
    tracking.log_run_data({"version": result.version, "input": result.input,
                           "output": result.output}, metrics, {})  # fmt: skip


def score_due(root: Path, schedule: str, request: Request, progress: Progress | None = None
              ) -> list[BatchResult]:  # fmt: skip
    """Score every model whose batch schedule is `schedule` with its production version; a
    model without one is skipped with a note, and one model's failure does not stop the rest."""
    from mlops.flows.repository import check_repository

    check = check_repository(root)
    specs = {name: batch.batch_spec(manifest_data(check, name)) for name in check.manifests}
    results: list[BatchResult] = []
    for name in batch.due_models(specs, schedule):
        if (registry_entry(check, name).get("stages") or {}).get(PRODUCTION) is None:
            note = "no production version in registry.yaml: nothing to score with"
            results.append(BatchResult(name, "skipped", note=note))
            continue
        try:
            results.append(score_model(root, name, request, progress))
        except MlopsError as exc:
            results.append(BatchResult(name, "failed", note=str(exc)))
    return results
