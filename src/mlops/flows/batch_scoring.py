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

from mlops.adapters import table_readers, table_writers, tables, tracking
from mlops.adapters.batch_model import BatchModel, describe
from mlops.adapters.row_checks import check_batch, missing_columns
from mlops.adapters.settings import load_settings
from mlops.core import batch, layout
from mlops.core.costs import cost_labels
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
LOCAL, SPARK = "local", "spark"
ENGINES = (LOCAL, SPARK)
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
    engine: str = LOCAL  # local (streaming Arrow) or spark (on the settings' spark_master)


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
    source = location_of(request.input or spec.input, folder, name, "input")
    target = location_of(request.output or spec.output, folder, name, "output")
    batch.table_format(target)
    settings = load_settings(root)
    engine = {"mlops.engine": request.engine}
    if request.engine == SPARK:
        _local_only(source, target)
        engine["mlops.spark_master"] = settings.spark_master
    with contextlib.redirect_stdout(sys.stderr):  # MLflow prints download progress
        tracking.connect(settings)
        experiment = tracking.experiment_id(settings, f"{batch.EXPERIMENT_PREFIX}{name}")
        classifier = manifest.get("task") == "classification"
        tags = {"mlops.model": name, "mlops.version": pinned.version,
                "mlops.model_run_id": pinned.run_id, "mlops.input": source,
                "mlops.output": target, **engine, **cost_labels(manifest)}  # fmt: skip
        with tracking.run(experiment, f"{name}-v{pinned.version}", tags) as run:
            result = BatchResult(
                name, "scored", pinned.version, source, target, batch.quarantine_location(target),
                batch_run_id=run.info.run_id, model_run_id=pinned.run_id,
            )  # fmt: skip
            try:
                _score(pinned, spec, features, classifier, request.engine, request.batch_rows,
                       settings.spark_master, result, progress)  # fmt: skip
            except MlopsError as exc:
                result.status, result.note = "failed", str(exc)
                _record(result)
                raise
            _record(result)
    return result


def _local_only(*uris: str) -> None:
    remote = [u for u in uris if "://" in u]
    if remote:
        raise batch.BatchError(
            f"{remote[0]}: --engine spark reads and writes local paths only here (s3a:// needs"
            " the hadoop-aws jars a Spark cluster provides); use --engine local for S3"
        )


def location_of(uri: str | None, folder: Path, name: str, what: str) -> str:
    """`uri` as given when it is s3:// or absolute, else relative to the model folder."""
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
    engine: str,
    batch_rows: int,
    spark_master: str,
    result: BatchResult,
    progress: Progress | None,
) -> None:
    """Score with the request's engine; both check the same rules, write aside, and leave the
    decision to publish (and the publishing) to `_refuse` and `_publish`."""
    started = time.perf_counter()
    run = _Run(
        pinned, spec, classifier, result, tables.locate(str(result.input)),
        tables.locate(str(result.output)), tables.locate(str(result.quarantine)),
        {batch.MODEL_COLUMN: pinned.model, batch.VERSION_COLUMN: pinned.version,
         batch.RUN_COLUMN: pinned.run_id, batch.BATCH_COLUMN: str(result.batch_run_id)},
        datetime.now(UTC),
    )  # fmt: skip
    hashing = _Hash(run.source)
    try:
        if engine == SPARK:
            _score_spark(run, features, spark_master, hashing, progress)
        else:
            _score_local(run, features, batch_rows, hashing, progress)
    finally:
        hashing.stop()
    result.seconds = time.perf_counter() - started
    result.rows_per_second = result.rows_in / result.seconds if result.seconds else 0.0


@dataclass(frozen=True)
class _Run:
    """What both engines share about one run: the version, the locations and the lineage."""

    pinned: batch.Pinned
    spec: batch.BatchSpec
    classifier: bool
    result: BatchResult
    source: tables.Location
    target: tables.Location
    quarantine: tables.Location
    lineage: dict[str, str]
    scored_at: datetime


def _score_local(run: _Run, features: list[Any], batch_rows: int, hashing: _Hash,
                 progress: Progress | None) -> None:  # fmt: skip
    """The local engine: Arrow record batches streamed through the checks and the model."""
    result, spec = run.result, run.spec
    names = [f.name for f in features]
    reader = table_readers.open_reader(run.source, names, batch_rows)
    model = BatchModel(run.pinned.model_uri, run.classifier)
    try:
        features, dtypes = _model_schema(run.pinned, features, model.input_schema)
        with table_writers.Writer(run.target, batch.table_format(run.target.uri)) as out, \
                table_writers.Writer(run.quarantine, "jsonl") as rejected:  # fmt: skip
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
                    out.write(_scored(model, checked.good, dtypes, run))
                    result.rows_scored += checked.good.num_rows
                if progress is not None:
                    progress(result.rows_in, reader.total_rows)
            _refuse(run)
            out.close()
            rejected.close()
            _publish(run, out, rejected, hashing)
    finally:
        model.close()


def _score_spark(run: _Run, features: list[Any], master: str, hashing: _Hash,
                 progress: Progress | None) -> None:  # fmt: skip
    """The Spark engine: the same checks in mapInArrow, predictions with spark_udf."""
    from mlops.adapters import spark_scoring

    result = run.result
    logged = describe(run.pinned.model_uri)
    features, dtypes = _model_schema(run.pinned, features, logged.input_schema)
    with spark_scoring.session(master, f"mlops-score-{run.pinned.model}") as spark:
        job = spark_scoring.Job(spark, run.source)
        _check_columns(job.columns, features, run.spec)
        columns = batch.output_columns(job.columns, run.spec.id_column, run.classifier)
        checked = job.check(features)
        result.rows_in, result.rows_rejected = checked.rows_in, checked.rejected
        result.rows_scored = checked.rows_in - checked.rejected
        result.rejected_examples = checked.examples
        if progress is not None:
            progress(result.rows_in, result.rows_in)
        _refuse(run)
        model = spark_scoring.Scoring(spark, run.pinned.model_uri, logged, dtypes, run.classifier)
        out, rejected = job.write(run.target, run.quarantine, columns, model, run.lineage,
                                  run.scored_at)  # fmt: skip
        try:
            _publish(run, out, rejected, hashing)
        except BaseException:
            out.discard()
            rejected.discard()
            raise


def _model_schema(pinned: batch.Pinned, features: list[Any], input_schema: Any
                  ) -> tuple[list[Any], dict[str, str]]:  # fmt: skip
    """The features as the model's own signature takes them (a number it takes as an integer
    must be whole), and each feature column's dtype."""
    try:
        return model_schema(features, input_schema)
    except ManifestError as exc:
        raise batch.BatchError(f"{pinned.model} version {pinned.version}: {exc}") from None


def _refuse(run: _Run) -> None:
    """Fail the run, publishing nothing, when too large a share of its rows was rejected."""
    result = run.result
    problem = batch.rejection_problem(result.rows_in, result.rows_rejected, run.spec.max_rejected)
    if problem:
        example = result.rejected_examples[:1]
        shown = f" (row {example[0]['row']}: {example[0]['reason']})" if example else ""
        raise batch.BatchError(f"{run.source.uri}: {problem}{shown}; nothing was published")


def _publish(
    run: _Run, out: table_writers.Staged, rejected: table_writers.Staged, hashing: _Hash
) -> None:
    """Hash the finished files, then publish the rejected rows and the output, each in one
    step."""
    run.result.output_sha256 = out.digest()
    run.result.input_sha256 = hashing.result()
    rejected.publish()
    out.publish()


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


def _scored(model: BatchModel, good: Any, dtypes: dict[str, str], run: _Run) -> Any:
    """The output rows of `good`: kept input columns, prediction(s), lineage."""
    import pyarrow as pa

    result, lineage, classifier = run.result, run.lineage, run.classifier
    columns = batch.output_columns(good.schema.names, run.spec.id_column, classifier)
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
    values[batch.TIME_COLUMN] = pa.repeat(pa.scalar(run.scored_at, pa.timestamp("us", "UTC")),
                                          size)  # fmt: skip
    return pa.RecordBatch.from_pydict({name: values[name] for name in columns})


class _Hash:
    """The input's SHA-256, computed in a thread while the rows are scored (hashing releases
    the interpreter lock, so it costs the run little wall time on a second core)."""

    def __init__(self, location: tables.Location) -> None:
        self.value: str | None = None
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(location,), daemon=True)
        self.thread.start()

    def _run(self, location: tables.Location) -> None:
        try:
            self.value = tables.sha256(location, self.stopped)
        except BaseException as exc:  # reported by result()
            self.error = exc

    def result(self) -> str:
        self.thread.join()
        if self.value is None:
            raise batch.BatchError(f"cannot hash the input: {self.error}")
        return self.value

    def stop(self) -> None:
        """Stop reading the input (a failed run needs no hash of it)."""
        self.stopped.set()
        self.thread.join()


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
