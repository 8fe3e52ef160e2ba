"""Tables on a local disk or in S3, read in record batches and published atomically.

Parquet, CSV and JSON lines. A reader yields Arrow record batches of at most `batch_rows`
rows, so memory stays flat however large the input is, plus the lines it could not parse (a
CSV row with the wrong number of fields, a JSON line that is not an object). A writer writes
beside its destination and publishes with one rename (locally) or one server-side copy (S3),
so a reader sees the old output or the whole new one, never half of it.

S3 locations are `s3://bucket/key`; the endpoint of an S3-compatible store comes from
`AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`), the credentials from the usual AWS variables.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlops.core.batch import BatchError, table_format

CHUNK = 1 << 20


@dataclass(frozen=True)
class Location:
    """A file on a filesystem Arrow can open: `path` is local, or `bucket/key` in S3."""

    uri: str
    fs: Any
    path: str

    @property
    def remote(self) -> bool:
        return self.uri.startswith("s3://")


@dataclass(frozen=True)
class BadLine:
    """An input line that is not a row: its 1-based row number, the text and why."""

    row: int
    text: str
    reason: str


@dataclass
class Reader:
    """Record batches of one input and what the input told up front."""

    batches: Iterator[tuple[Any, list[BadLine]]]
    total_rows: int | None
    columns: list[str] = field(default_factory=list)
    text: bool = False  # values arrive as text (CSV): numbers still need parsing


def locate(uri: str) -> Location:
    """The filesystem and path of `uri` (a local path or s3://bucket/key)."""
    from pyarrow import fs

    if uri.startswith("s3://"):
        parsed = urlparse(uri)
        if not parsed.netloc or not parsed.path.strip("/"):
            raise BatchError(f"{uri}: expected s3://bucket/key")
        return Location(uri, _s3(), f"{parsed.netloc}/{parsed.path.lstrip('/')}")
    if "://" in uri:
        raise BatchError(f"{uri}: unsupported location (use a local path or s3://bucket/key)")
    return Location(uri, fs.LocalFileSystem(), str(Path(uri).resolve()))


def _s3() -> Any:
    from pyarrow import fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {
        "region": os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        or "us-east-1",
        "connect_timeout": 5, "request_timeout": 60,
        "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=3),
    }  # fmt: skip
    if endpoint:
        parsed = urlparse(endpoint)
        options |= {"endpoint_override": parsed.netloc or endpoint,
                    "scheme": parsed.scheme or "https"}  # fmt: skip
    return fs.S3FileSystem(**options)


def exists(location: Location) -> bool:
    from pyarrow import fs

    try:
        return bool(location.fs.get_file_info(location.path).type == fs.FileType.File)
    except OSError as exc:
        raise BatchError(f"{location.uri}: cannot reach it: {_first(exc)}") from None


def open_reader(location: Location, text_columns: list[str], batch_rows: int) -> Reader:
    """A reader of `location`; `text_columns` are read as text from CSV (the feature checks
    parse them, so one bad value rejects one row, not the file)."""
    kind = table_format(location.uri)
    try:
        if location.fs.get_file_info(location.path).size == 0:
            raise BatchError(f"{location.uri}: the file is empty")
        if kind == "parquet":
            return _parquet(location, batch_rows)
        if kind == "csv":
            return _csv(location, text_columns, batch_rows)
        return _jsonl(location, batch_rows)
    except FileNotFoundError:
        raise BatchError(f"{location.uri}: no such input") from None
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
        raise BatchError(f"{location.uri}: cannot read it as {kind}: {_first(exc)}") from None


def _parquet(location: Location, batch_rows: int) -> Reader:
    import pyarrow.parquet as pq

    handle = location.fs.open_input_file(location.path)
    # No pre-buffering: pyarrow would otherwise keep every row group read so far in memory.
    parquet = pq.ParquetFile(handle, pre_buffer=False)

    def batches() -> Iterator[tuple[Any, list[BadLine]]]:
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                yield batch, []
        except (OSError, ValueError) as exc:
            raise BatchError(f"{location.uri}: cannot read it as parquet: {_first(exc)}") from None
        finally:
            handle.close()

    return Reader(batches(), parquet.metadata.num_rows, list(parquet.schema_arrow.names))


def _csv(location: Location, text_columns: list[str], batch_rows: int) -> Reader:
    import pyarrow as pa
    from pyarrow import csv

    bad: list[BadLine] = []

    def skip(row: Any) -> str:
        number = int(row.number) - 1  # physical line (after the header) -> data row
        reason = ragged_reason(row.actual_columns, row.expected_columns)
        bad.append(BadLine(number, str(row.text), reason))
        return "skip"

    stream = location.fs.open_input_stream(location.path)
    reader = csv.open_csv(
        stream,
        # one parsing thread: only then does Arrow know a bad row's line number
        read_options=csv.ReadOptions(block_size=max(1 << 20, batch_rows * 256), use_threads=False),
        parse_options=csv.ParseOptions(invalid_row_handler=skip),
        convert_options=csv.ConvertOptions(
            column_types={name: pa.string() for name in text_columns},
            strings_can_be_null=True,
        ),
    )

    def batches() -> Iterator[tuple[Any, list[BadLine]]]:
        try:
            for batch in reader:  # a block of about batch_rows rows (its size in bytes)
                found, bad[:] = list(bad), []
                yield batch, found
            if bad:
                yield pa.RecordBatch.from_pylist([], schema=reader.schema), list(bad)
        except (OSError, ValueError) as exc:
            raise BatchError(f"{location.uri}: cannot read it as csv: {_first(exc)}") from None
        finally:
            stream.close()

    return Reader(batches(), None, list(reader.schema.names), text=True)


def ragged_reason(fields: int, expected: int) -> str:
    """Why a CSV line with the wrong number of fields is not a row."""
    return f"has {fields} fields, expected {expected}"


def json_record(line: str) -> tuple[dict[str, Any], str | None]:
    """A JSON line's object, or why the line is not one."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        return {}, f"is not valid JSON: {exc}"
    if not isinstance(record, dict):
        return {}, "is not a JSON object"
    return record, None


def _jsonl(location: Location, batch_rows: int) -> Reader:
    """JSON lines, each an object; a line that is not is reported, the rest are rows."""
    import pyarrow as pa

    stream = location.fs.open_input_stream(location.path)
    columns: list[str] = []

    def flush(records: list[dict[str, Any]], bad: list[BadLine]) -> tuple[Any, list[BadLine]]:
        for record in records:
            columns.extend(k for k in record if k not in columns)
        arrays = {name: _objects([r.get(name) for r in records]) for name in columns}
        return pa.RecordBatch.from_pydict(arrays) if records else _empty(columns), bad

    def batches() -> Iterator[tuple[Any, list[BadLine]]]:
        records: list[dict[str, Any]] = []
        bad: list[BadLine] = []
        row = 0
        try:
            for line in _lines(stream):
                if not line.strip():
                    continue
                row += 1
                record, problem = json_record(line)
                if problem is not None:
                    bad.append(BadLine(row, line[:1000], problem))
                    continue
                records.append(record)
                if len(records) >= batch_rows:
                    yield flush(records, bad)
                    records, bad = [], []
            if records or bad:
                yield flush(records, bad)
        except UnicodeDecodeError as exc:
            raise BatchError(f"{location.uri}: line {row + 1} is not UTF-8: {exc}") from None
        finally:
            stream.close()

    return Reader(batches(), None, columns)


def _objects(values: list[Any]) -> Any:
    """An Arrow array of JSON values: typed when Arrow agrees on one type, else the values'
    JSON text (the feature checks then say which value is wrong)."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else json.dumps(v) for v in values], pa.string())


def _empty(columns: list[str]) -> Any:
    import pyarrow as pa

    return pa.RecordBatch.from_pydict({name: pa.array([], pa.null()) for name in columns})


def _lines(stream: Any) -> Iterator[str]:
    pending = b""
    while chunk := stream.read(CHUNK):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8")
    if pending:
        yield pending.decode("utf-8")


class Staged:
    """A finished file beside its destination (`aside`), published in one step: one rename
    locally, one server-side copy on S3. `folder`, when given, holds `aside` and goes with it
    (a Spark job's output folder)."""

    def __init__(self, location: Location, aside: str, folder: str | None = None) -> None:
        self.location, self.aside, self.folder = location, aside, folder

    def publish(self) -> None:
        """Replace the destination with the finished file, in one step."""
        try:
            self.location.fs.move(self.aside, self.location.path)
        except OSError as exc:
            raise BatchError(f"{self.location.uri}: cannot publish: {_first(exc)}") from None
        self.drop_folder()

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # never written, or already gone
            self.location.fs.delete_file(self.aside)
        self.drop_folder()

    def drop_folder(self) -> None:
        if self.folder is not None:
            with contextlib.suppress(Exception):
                self.location.fs.delete_dir(self.folder)

    def digest(self) -> str:
        return sha256(Location(self.location.uri, self.location.fs, self.aside))


def aside_path(location: Location) -> str:
    """A fresh path beside `location` for a file (or folder) not yet published."""
    return f"{location.path}.partial-{uuid.uuid4().hex[:12]}"


class Writer(Staged):
    """Writes one table (or JSON lines) beside `location`, then publishes it in one step.

    Record batches are encoded and written by a thread of their own (Arrow's writers release
    the interpreter lock), so writing overlaps reading and scoring the next batch; at most
    QUEUED batches wait, so memory stays bounded."""

    QUEUED = 2

    def __init__(self, location: Location, kind: str, schema: Any = None) -> None:
        super().__init__(location, aside_path(location))
        self.kind, self.schema = kind, schema
        self._sink: Any = None
        self._writer: Any = None
        self._queue: queue.Queue[Any] = queue.Queue(self.QUEUED)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.rows = 0

    def __enter__(self) -> Writer:
        parent = self.aside.rsplit("/", 1)[0]
        try:
            if not self.location.remote:
                self.location.fs.create_dir(parent, recursive=True)
            self._sink = self.location.fs.open_output_stream(self.aside)
        except OSError as exc:
            raise BatchError(f"{self.location.uri}: cannot write there: {_first(exc)}") from None
        return self

    def write_records(self, records: list[dict[str, Any]]) -> None:
        """Append plain records, one JSON line each (a JSON lines file)."""
        text = "".join(json.dumps(item, default=str) + "\n" for item in records)
        self._sink.write(text.encode())
        self.rows += len(records)

    def write(self, batch: Any) -> None:
        """Append a record batch (written by the writer's thread)."""
        self._raise()
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, daemon=True)
            self._thread.start()
        self._queue.put(batch)
        self.rows += batch.num_rows

    def _drain(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep taking batches so that write() never blocks
            try:
                if self._writer is None:
                    self._writer = self._open(batch.schema)
                if self.kind == "parquet":
                    self._writer.write_batch(batch)
                else:
                    self._writer.write(batch)
            except BaseException as exc:  # raised in the caller by the next write or close
                self._error = exc

    def _join(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _raise(self) -> None:
        if self._error is not None:
            raise BatchError(f"{self.location.uri}: cannot write: {_first(self._error)}")

    def _open(self, schema: Any) -> Any:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetWriter(self._sink, schema)
        if self.kind == "csv":
            from pyarrow import csv

            return csv.CSVWriter(self._sink, schema)
        return _JsonLines(self._sink)

    def close(self) -> None:
        """Finish the file aside (an empty table still gets its header and schema)."""
        self._join()
        self._raise()
        if self._writer is None and self.kind != "jsonl" and self.schema is not None:
            self._writer = self._open(self.schema)
        if self._writer is not None:
            self._writer.close()
        self._sink.close()

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # already closed
            self.close()
        super().discard()

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is not None:
            self.discard()


class _JsonLines:
    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def write(self, batch: Any) -> None:
        frame = batch.to_pandas()
        self.sink.write(frame.to_json(orient="records", lines=True, date_format="iso").encode())
        if len(frame):
            self.sink.write(b"\n")

    def close(self) -> None:
        pass


def sha256(location: Location) -> str:
    """The hex SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with location.fs.open_input_stream(location.path) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
