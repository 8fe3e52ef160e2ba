"""Batch scoring on Spark: the same rows, checks, predictions and files as the local engine,
computed by a Spark cluster (or `local[N]`).

The input is read with `spark.read` (CSV: every column as text, so the feature checks parse
each value as the local engine does; a line with the wrong number of fields lands in a
corrupt-record column). Every Arrow batch goes through the very same `row_checks.check_batch`
in `mapInArrow`, so both engines reject the same rows for the same reasons. Rows are numbered
in input order from the partition ids and per-partition counts (a file is split into
partitions in file order). Predictions come from `mlflow.pyfunc.spark_udf`. The scored rows
and the rejected rows are each written as one file into a folder beside the destination;
the flow publishes them with one rename, or discards them.

Local paths only: reading s3:// from Spark needs the hadoop-aws jars a cluster provides.
pyspark is imported inside the functions, so the CLI starts fast without it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlops.adapters import table_readers, table_writers, tables
from mlops.adapters.batch_model import Logged
from mlops.adapters.row_checks import check_batch
from mlops.core import batch
from mlops.core.features import Feature
from mlops.errors import first_line

ROW, REJECTED, CORRUPT, LINE = "_mlops_row", "_mlops_rejected", "_mlops_corrupt", "_mlops_line"
PARTITION, ORDER = "_mlops_partition", "_mlops_order"
SPARK_TYPES = {"float64": "double", "float32": "float", "int64": "long", "int32": "int",
               "bool": "boolean", "object": "string"}  # fmt: skip
MLFLOW_TYPES = {"double": "double", "float": "float", "long": "long", "integer": "int",
                "boolean": "boolean", "string": "string"}  # fmt: skip


@contextlib.contextmanager
def session(master: str, app: str) -> Iterator[Any]:
    """A SparkSession on `master`, stopped when the block ends (also on failure)."""
    from pyspark.sql import SparkSession

    # Python workers run this interpreter (it has mlflow and mlops), not whatever `python3` is.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    builder = (
        SparkSession.builder.master(master).appName(app)
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # the local engine's Parquet timestamps: microseconds, UTC (Spark's default is INT96)
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )  # fmt: skip
    if master.startswith("local"):  # everything in this process: listen on loopback only
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer
        raise batch.BatchError(f"cannot start Spark on {master}: {first_line(exc)}") from None
    # a failed task is reported once, as the run's error line, not as executor stack traces
    spark.sparkContext.setLogLevel("FATAL")
    try:
        yield spark
    finally:
        spark.stop()


@dataclass
class Checked:
    """The counts of a checked input and its first rejected rows."""

    rows_in: int
    rejected: int
    examples: list[dict[str, Any]] = field(default_factory=list)


class Job:
    """One input read by Spark, checked, then scored and written aside."""

    def __init__(self, spark: Any, source: tables.Location) -> None:
        self.spark, self.source = spark, source
        self.kind = batch.table_format(source.uri)
        _require_file(source)
        self.frame, self.fields = self._read()
        self.columns = [f.name for f in self.fields]
        self.checked: Any = None

    def _read(self) -> tuple[Any, list[Any]]:
        """The input as Spark reads it and its data columns (name and Spark type)."""
        from pyspark.errors import PySparkException
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own idiom)
        from pyspark.sql.types import StringType, StructField, StructType

        path = self.source.path
        reader = self.spark.read
        try:
            if self.kind == "parquet":
                frame = reader.parquet(path)
                return frame, list(frame.schema.fields)
            if self.kind == "csv":
                fields = [StructField(n, StringType()) for n in _header(path)]
                schema = StructType([*fields, StructField(CORRUPT, StringType())])
                # escape '"': quotes inside a value are doubled, as Arrow (and RFC 4180) read them
                frame = reader.csv(path, schema=schema, header=True, mode="PERMISSIVE",
                                   columnNameOfCorruptRecord=CORRUPT, escape='"')  # fmt: skip
                return frame, fields
            # JSON lines: Spark infers the columns, but the lines themselves are parsed by the
            # local engine's own reader in the checks, so a value keeps its JSON type (Spark
            # would read 6 and "6" alike once a column holds both)
            inferred = reader.json(path, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT)
            known = {f.name: f for f in inferred.schema.fields if f.name != CORRUPT}
            fields = [known[n] for n in _first_keys(path, list(known))]
            lines = reader.text(path).where(F.trim(F.col("value")) != "")
            return lines.withColumnRenamed("value", LINE), fields
        except PySparkException as exc:
            raise batch.BatchError(
                f"{self.source.uri}: cannot read it as {self.kind}: {first_line(exc)}"
            ) from None

    def check(self, features: Sequence[Feature]) -> Checked:
        """Run the feature checks on every row; the checked frame is cached for scoring."""
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own idiom)
        from pyspark.sql.types import LongType, StringType, StructField, StructType

        numbered = self.frame.select(
            "*", F.spark_partition_id().alias(PARTITION),
            F.monotonically_increasing_id().alias(ORDER),
        )  # fmt: skip
        try:  # the first row number of each partition: one small collect
            counts = numbered.groupBy(PARTITION).count().collect()
        except Exception as exc:
            raise self._failed("cannot read it", exc) from None
        offsets, start = {}, 0
        for row in sorted(counts, key=lambda r: int(r[0])):
            offsets[int(row[0])] = start
            start += int(row["count"])
        kinds = {f.name: _checked_type(f) for f in features}
        fields = [StructField(f.name, kinds.get(f.name) or f.dataType) for f in self.fields]
        schema = StructType([*fields, StructField(ROW, LongType()),
                             StructField(REJECTED, StringType())])  # fmt: skip
        check = _checker(list(features), self.kind, offsets, len(self.fields), schema)
        self.checked = numbered.mapInArrow(check, schema).cache()
        try:
            totals = self.checked.agg(F.count(F.lit(1)), F.count(REJECTED)).first()
            first = (self.checked.where(F.col(REJECTED).isNotNull()).orderBy(ROW)
                     .select(REJECTED).limit(5).collect())  # fmt: skip
        except Exception as exc:
            raise self._failed("cannot check it", exc) from None
        return Checked(int(totals[0]), int(totals[1]), [json.loads(r[0]) for r in first])

    def write(
        self,
        target: tables.Location,
        quarantine: tables.Location,
        columns: list[str],
        model: Scoring,
        lineage: dict[str, str],
        scored_at: datetime,
    ) -> tuple[table_writers.Staged, table_writers.Staged]:
        """Score the good rows and write them, and the rejected rows, each as one file beside
        its destination; (output, rejected) for the flow to publish or discard."""
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own idiom)

        good = self.checked.where(F.col(REJECTED).isNull())
        values = {name: F.col(name) for name in columns if name in self.checked.columns}
        values |= model.columns(good)
        for name, value in lineage.items():
            values[name] = F.lit(value).cast("string")
        values[batch.TIME_COLUMN] = F.lit(scored_at).cast("timestamp")
        scored = good.select(*[values[n].alias(n) for n in columns], ROW)
        # one output file: scoring runs in parallel, then one shuffle; sorting the single
        # partition by row number restores the input order the shuffle does not keep
        single = scored.repartition(1).sortWithinPartitions(ROW).drop(ROW)
        rejected = (self.checked.where(F.col(REJECTED).isNotNull()).select(REJECTED, ROW)
                    .repartition(1).sortWithinPartitions(ROW).select(REJECTED))  # fmt: skip
        staged: list[table_writers.Staged] = []
        try:
            staged.append(_write(single, target, batch.table_format(target.uri)))
            staged.append(_write(rejected, quarantine, "text"))
        except Exception as exc:
            for done in staged:
                done.discard()
            if isinstance(exc, batch.BatchError):
                raise
            raise batch.BatchError(
                f"{lineage[batch.MODEL_COLUMN]} version {lineage[batch.VERSION_COLUMN]} failed"
                f" while scoring on Spark: {_spark_reason(exc)}; nothing was published"
            ) from None
        return staged[0], staged[1]

    def _failed(self, what: str, exc: Exception) -> batch.BatchError:
        return batch.BatchError(f"{self.source.uri}: {what}: {_spark_reason(exc)}")


class Scoring:
    """The prediction columns of one registered version, as Spark column expressions."""

    def __init__(self, spark: Any, model_uri: str, logged: Logged, dtypes: dict[str, str],
                 classifier: bool) -> None:  # fmt: skip
        import mlflow.artifacts

        self.spark, self.logged, self.dtypes, self.classifier = spark, logged, dtypes, classifier
        try:  # downloaded once; the UDFs ship it to the workers
            self.path = mlflow.artifacts.download_artifacts(artifact_uri=model_uri)
        except Exception as exc:
            raise batch.BatchError(f"cannot load {model_uri}: {first_line(exc)}") from None

    def columns(self, good: Any) -> dict[str, Any]:
        import mlflow.pyfunc
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own idiom)

        features = F.struct(*[F.col(n).cast(SPARK_TYPES.get(t, "string")).alias(n)
                              for n, t in self.dtypes.items()])  # fmt: skip
        label = _label_type(self.logged.output_schema)
        sklearn = "sklearn" in self.logged.flavors
        if self.classifier and not sklearn:  # a worker-backed model answers both columns
            both = mlflow.pyfunc.spark_udf(
                self.spark, self.path, env_manager="local",
                result_type=f"{batch.PREDICTION} {label}, {batch.PROBABILITY} double",
            )  # fmt: skip
            answer = both(features)
            return {batch.PREDICTION: answer[batch.PREDICTION],
                    batch.PROBABILITY: answer[batch.PROBABILITY]}  # fmt: skip
        predict = mlflow.pyfunc.spark_udf(self.spark, self.path, env_manager="local",
                                          result_type=label)  # fmt: skip
        values = {batch.PREDICTION: predict(features)}
        if self.classifier:
            # scikit-learn's pyfunc answers labels only; the positive-class probability
            # comes from the estimator's own predict_proba, as in the local engine
            values[batch.PROBABILITY] = _probability(self.spark, self.path, self.dtypes)(features)
        return values


def _probability(spark: Any, path: str, dtypes: dict[str, str]) -> Any:
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    spark.sparkContext.addFile(path, recursive=True)
    name = Path(path).name

    def probability(frame: Any) -> Any:
        estimator = _estimator(name)
        changed = {k: v for k, v in dtypes.items() if str(frame[k].dtype) != v}
        frame = frame.astype(changed) if changed else frame
        return pd.Series(estimator.predict_proba(frame[list(dtypes)])[:, 1])

    # Spark tells a Series-to-Series UDF by its type hints (real classes, not this module's
    # postponed annotations)
    probability.__annotations__ = {"frame": pd.DataFrame, "return": pd.Series}
    return pandas_udf(probability, "double")


_ESTIMATORS: dict[str, Any] = {}


def _estimator(name: str) -> Any:
    """The scikit-learn estimator shipped as `name`, loaded once per Python worker (workers
    are reused across tasks, so a module-level cache survives between batches)."""
    if name not in _ESTIMATORS:
        import mlflow.sklearn
        from pyspark import SparkFiles

        _ESTIMATORS[name] = mlflow.sklearn.load_model(SparkFiles.get(name))
    return _ESTIMATORS[name]


def _checker(
    features: list[Feature], kind: str, offsets: dict[int, int], expected: int, schema: Any
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The function mapInArrow runs on each partition's Arrow batches: number the rows, turn
    unparsable lines into rejected rows, and check the rest with `check_batch`."""

    def check(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        arrow = to_arrow_schema(schema)
        data = [f for f in arrow if f.name not in (ROW, REJECTED)]
        names = [f.name for f in data]
        for chunk in batches:
            partitions = chunk.column(PARTITION).to_numpy()
            order = chunk.column(ORDER).to_numpy()
            base = [offsets[int(p)] for p in partitions]
            rows = [b + int(o - (int(p) << 33)) + 1
                    for b, o, p in zip(base, order, partitions, strict=True)]  # fmt: skip
            if kind == "jsonl":
                table, rows, bad = _json_rows(chunk, names, rows)
            else:
                table, rows, bad = _parsed_rows(chunk, names, rows, expected)
            if bad:
                yield _rejected(arrow, data, [r for r, _ in bad], [line for _, line in bad])
            table = pa.RecordBatch.from_arrays(
                [*table.columns, pa.array(rows, pa.int64())],
                schema=table.schema.append(pa.field(ROW, pa.int64())),
            )
            checked = check_batch(table, features, rows.__getitem__, kind == "csv")
            if checked.rejected:
                for item in checked.rejected:
                    item["record"].pop(ROW, None)
                yield _rejected(arrow, data, [r["row"] for r in checked.rejected],
                                [json.dumps(r, default=str) for r in checked.rejected])  # fmt: skip
            good = checked.good
            if good.num_rows:
                arrays = [good.column(f.name).cast(f.type) for f in data]
                arrays += [good.column(ROW), pa.nulls(good.num_rows, pa.string())]
                yield pa.RecordBatch.from_arrays(arrays, schema=arrow)

    return check


def _parsed_rows(chunk: Any, names: list[str], rows: list[int], expected: int
                 ) -> tuple[Any, list[int], list[tuple[int, str]]]:  # fmt: skip
    """A chunk Spark parsed (Parquet, CSV) as the rows to check, their numbers, and the lines
    it could not parse (CSV lines with the wrong number of fields) as (row, rejected line)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.RecordBatch.from_arrays([chunk.column(n) for n in names], names=names)
    if CORRUPT not in chunk.schema.names:
        return table, rows, []
    broken = pc.fill_null(pc.is_valid(chunk.column(CORRUPT)), False)
    texts = chunk.column(CORRUPT).to_pylist()
    flags = broken.to_pylist()
    bad = [(r, _bad_line(r, t, expected)) for r, t, f in zip(rows, texts, flags, strict=True)
           if f]  # fmt: skip
    keep = pc.invert(broken)
    return table.filter(keep), [r for r, f in zip(rows, flags, strict=True) if not f], bad


def _json_rows(chunk: Any, names: list[str], rows: list[int]
               ) -> tuple[Any, list[int], list[tuple[int, str]]]:  # fmt: skip
    """JSON lines parsed as the local engine parses them: the rows to check, their numbers,
    and the lines that are not JSON objects as (row, rejected-file line)."""
    records: list[dict[str, Any]] = []
    kept: list[int] = []
    bad: list[tuple[int, str]] = []
    for row, text in zip(rows, chunk.column(LINE).to_pylist(), strict=True):
        record, problem = table_readers.json_record(text)
        if problem is None:
            records.append(record)
            kept.append(row)
        else:
            line = {"row": row, "reason": problem, "line": text[:1000]}
            bad.append((row, json.dumps(line, default=str)))
    return table_readers.json_batch(records, names), kept, bad


def _rejected(arrow: Any, data: list[Any], rows: list[int], lines: list[str]) -> Any:
    import pyarrow as pa

    size = len(rows)
    arrays = [pa.nulls(size, f.type) for f in data]
    arrays += [pa.array(rows, pa.int64()), pa.array(lines, pa.string())]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow)


def _bad_line(row: int, text: str, expected: int) -> str:
    """The rejected-file line of a CSV line Spark could not parse, with the local engine's
    reason (its field count)."""
    fields = len(next(csv.reader([text]), []))
    reason = table_readers.ragged_reason(fields, expected)
    return json.dumps({"row": row, "reason": reason, "line": text[:1000]}, default=str)


def _write(frame: Any, location: tables.Location, kind: str) -> table_writers.Staged:
    """`frame` (one partition) written by Spark into a folder beside `location`; the folder's
    single part file is what the flow publishes."""
    folder = table_writers.aside_path(location)
    writer = frame.write.mode("errorifexists")
    try:
        if kind == "parquet":
            writer.parquet(folder)
        elif kind == "csv":
            writer.csv(folder, header=True, escape='"')
        elif kind == "jsonl":
            writer.json(folder, ignoreNullFields=False)
        else:
            writer.text(folder)
    except BaseException:  # a failed job (a model error) leaves no folder behind
        table_writers.Staged(location, folder, folder).drop_folder()
        raise
    parts = sorted(str(p) for p in Path(folder).glob("part-*") if p.suffix != ".crc")
    if len(parts) > 1:
        raise batch.BatchError(f"{location.uri}: Spark wrote {len(parts)} files, expected one")
    if not parts:  # no rows: an empty file (Parquet always gets one with its schema)
        parts = [str(Path(folder) / "part-00000")]
        Path(parts[0]).touch()
    return table_writers.Staged(location, parts[0], folder)


def _checked_type(feature: Feature) -> Any:
    """The Spark type of a feature column after the checks (row_checks' Arrow types)."""
    from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType

    if feature.integral:
        return LongType()
    if feature.type == "number":
        return DoubleType()
    if feature.type == "boolean":
        return BooleanType()
    if feature.type == "string":
        return StringType()
    if any(isinstance(c, str) for c in feature.categories):
        return StringType()
    return LongType()


def _label_type(output_schema: Any) -> str:
    """The Spark type of the model's prediction, from its MLflow output schema."""
    try:
        (spec,) = output_schema.inputs
        return MLFLOW_TYPES.get(getattr(spec.type, "name", ""), "double")
    except (AttributeError, TypeError, ValueError):
        return "double"


def _require_file(location: tables.Location) -> None:
    if location.remote:
        raise batch.BatchError(
            f"{location.uri}: --engine spark reads and writes local paths only"
            " (s3a:// needs the hadoop-aws jars a Spark cluster provides)"
        )
    info = Path(location.path)
    if not info.is_file():
        raise batch.BatchError(f"{location.uri}: no such input")
    if info.stat().st_size == 0:
        raise batch.BatchError(f"{location.uri}: the file is empty")


def _first_keys(path: str, columns: list[str]) -> list[str]:
    """`columns` in the local engine's order: the keys of the first JSON object in the file
    in its order, then the rest as Spark lists them."""
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                first = list(table_readers.json_record(line)[0])
                break
        else:
            first = []
    return [c for c in first if c in columns] + [c for c in columns if c not in first]


def _header(path: str) -> list[str]:
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def _spark_reason(exc: BaseException) -> str:
    """The useful line of a Spark failure (a Python worker's own error when there is one)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.split(":", 1)[0].endswith(("Error", "Exception"))]
    chosen = errors[-1] if errors else lines[0] if lines else type(exc).__name__
    return chosen[:500]
