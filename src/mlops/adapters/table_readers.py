"""Parquet, CSV and JSON lines read in record batches of at most `batch_rows` rows, so memory
stays flat however large the input is, with the lines that could not be parsed (a CSV row
with the wrong number of fields, a JSON line that is not an object) beside each batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlops.adapters.row_checks import json_text_field
from mlops.adapters.tables import CHUNK, Location, first_line
from mlops.core.batch import BatchError, table_format


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


def open_reader(location: Location, text_columns: list[str], batch_rows: int,
                columns: list[str] | None = None) -> Reader:  # fmt: skip
    """A reader of `location`; `text_columns` are read as text from CSV (the feature checks
    parse them, so one bad value rejects one row, not the file). With `columns`, Parquet
    decodes only those of its columns (CSV and JSON lines are parsed whole); `Reader.columns`
    still names all the file's own."""
    kind = table_format(location.uri)
    try:
        if location.fs.get_file_info(location.path).size == 0:
            raise BatchError(f"{location.uri}: the file is empty")
        if kind == "parquet":
            return _parquet(location, batch_rows, columns)
        if kind == "csv":
            return _csv(location, text_columns, batch_rows)
        return _jsonl(location, batch_rows)
    except FileNotFoundError:
        raise BatchError(f"{location.uri}: no such input") from None
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
        raise BatchError(f"{location.uri}: cannot read it as {kind}: {first_line(exc)}") from None


def _parquet(location: Location, batch_rows: int, columns: list[str] | None) -> Reader:
    import pyarrow.parquet as pq

    handle = location.fs.open_input_file(location.path)
    # No pre-buffering: pyarrow would otherwise keep every row group read so far in memory.
    parquet = pq.ParquetFile(handle, pre_buffer=False)
    names = list(parquet.schema_arrow.names)
    kept = None if columns is None else [c for c in names if c in columns]

    def batches() -> Iterator[tuple[Any, list[BadLine]]]:
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=kept):
                yield batch, []
        except (OSError, ValueError) as exc:
            raise BatchError(
                f"{location.uri}: cannot read it as parquet: {first_line(exc)}"
            ) from None
        finally:
            handle.close()

    return Reader(batches(), parquet.metadata.num_rows, names)


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
            raise BatchError(f"{location.uri}: cannot read it as csv: {first_line(exc)}") from None
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


def json_batch(records: list[dict[str, Any]], columns: list[str]) -> Any:
    """The JSON objects as one record batch of `columns` (a key a record lacks is null)."""
    import pyarrow as pa

    if not records:
        return _empty(columns)
    arrays = [_objects(name, [r.get(name) for r in records]) for name in columns]
    schema = pa.schema([field for field, _ in arrays])
    return pa.RecordBatch.from_arrays([array for _, array in arrays], schema=schema)


def _jsonl(location: Location, batch_rows: int) -> Reader:
    """JSON lines, each an object; a line that is not is reported, the rest are rows."""
    stream = location.fs.open_input_stream(location.path)
    columns: list[str] = []

    def flush(records: list[dict[str, Any]], bad: list[BadLine]) -> tuple[Any, list[BadLine]]:
        for record in records:
            columns.extend(k for k in record if k not in columns)
        return json_batch(records, columns), bad

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


def _objects(name: str, values: list[Any]) -> tuple[Any, Any]:
    """A field and Arrow array of one column's JSON values: typed when Arrow agrees on one
    type, else each value's JSON text in a field marked as such (the feature checks decode
    each value and say which one is wrong)."""
    import pyarrow as pa

    try:
        array = pa.array(values)
        return pa.field(name, array.type), array
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
        return json_text_field(name), text


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
