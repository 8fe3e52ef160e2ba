"""Batch outputs read back as prediction logs: the rows one version scored within a time
window, as the same `LogWindow` the served logs give.

A row's `request_id` is its `mlops_batch_run_id` (the scoring run that wrote it), its `row`
the value of `serving.batch.id_column` when the model sets one, else its 1-based row number
in the file (counting lines that are not rows); then `prediction`, `probability` and
`features.<name>` for each feature the output kept. A location is an output (Parquet, CSV,
JSON lines; local or s3://) or a folder of them. Files are streamed a record batch at a time
and only the columns needed are kept (Parquet decodes no others). A line that is not a row
(a ragged CSV line, a JSON line that is not an object) or a row whose `mlops_scored_at` is
not a time is counted and skipped with its place, as a malformed log line is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mlops.adapters.prediction_logs import FEATURE, LogWindow, combined
from mlops.adapters.table_readers import BadLine, open_reader
from mlops.adapters.tables import Location, first_line, locate
from mlops.core import batch
from mlops.errors import InvalidInput, MlopsError

READ_ROWS = 100_000
SCORED = (batch.PREDICTION, batch.PROBABILITY)


def read_outputs(uris: Sequence[str], model: str, version: str | None, since: datetime,
                 until: datetime, id_column: str | None, features: Sequence[str],
                 batch_rows: int = READ_ROWS) -> LogWindow:  # fmt: skip
    """The rows of `model` that `version` (None: any) scored from `since` up to `until` in the
    outputs at `uris`; rows of other versions in that time are counted in `other_versions`.
    InvalidInput when a file is not a batch output of `model`."""
    window = LogWindow()
    parts: list[Any] = []
    for location in output_files(uris):
        window.files += 1
        parts += _read(location, _Wanted(model, version, since, until, id_column, features),
                       batch_rows, window)  # fmt: skip
    window.table = combined([p for p in parts if p.num_rows])
    return window


class NoBatchOutput(MlopsError):
    """Nothing is published where a batch output should be (yet)."""


def output_files(uris: Sequence[str]) -> list[Location]:
    """The outputs at `uris`: each a file, or every output in a folder (not the rejected
    rows beside them, nor hidden files); MlopsError for a location with none."""
    from pyarrow import fs

    found: list[Location] = []
    for uri in uris:
        location = locate(uri)
        try:
            info = location.fs.get_file_info(location.path)
            if info.type == fs.FileType.Directory:
                inside = location.fs.get_file_info(fs.FileSelector(location.path))
        except OSError as exc:
            raise MlopsError(f"{uri}: cannot reach it: {first_line(exc)}") from None
        if info.type == fs.FileType.File:
            batch.table_format(uri)
            found.append(location)
        elif info.type == fs.FileType.Directory:
            names = sorted(i.base_name for i in inside
                           if i.type == fs.FileType.File and _an_output(i.base_name))  # fmt: skip
            if not names:
                raise MlopsError(f"{uri}: a folder with no batch output in it"
                                 f" ({', '.join(batch.FORMATS)})")  # fmt: skip
            base = uri.rstrip("/")
            found += [Location(f"{base}/{n}", location.fs, f"{location.path.rstrip('/')}/{n}")
                      for n in names]  # fmt: skip
        else:
            raise NoBatchOutput(f"{uri}: no such batch output",
                                hint="`mlops score NAME` publishes one")  # fmt: skip
    return found


def _an_output(name: str) -> bool:
    lowered = name.lower()
    return (not name.startswith(".") and not lowered.endswith(batch.QUARANTINE_SUFFIX)
            and any(lowered.endswith(suffix) for suffix in batch.FORMATS))  # fmt: skip


class _Wanted:
    """Which rows and columns of an output a window takes."""

    def __init__(self, model: str, version: str | None, since: datetime, until: datetime,
                 id_column: str | None, features: Sequence[str]) -> None:  # fmt: skip
        self.model, self.version, self.since, self.until = model, version, since, until
        self.id_column, self.features = id_column, list(features)
        self.columns = [*batch.LINEAGE_COLUMNS, *SCORED, *([id_column] if id_column else []),
                        *self.features]  # fmt: skip

    def check(self, location: Location, columns: list[str]) -> None:
        missing = batch.not_an_output(columns)
        if missing:
            raise InvalidInput(f"{location.uri}: not a batch output: it lacks the column(s)"
                               f" {', '.join(missing)} that every output of `mlops score`"
                               " carries")  # fmt: skip
        if self.id_column and self.id_column not in columns:
            raise InvalidInput(f"{location.uri}: no id column {self.id_column!r}"
                               " (serving.batch.id_column)")  # fmt: skip


def _read(location: Location, wanted: _Wanted, batch_rows: int, window: LogWindow) -> list[Any]:
    """One output's rows in the window, a table per record batch."""
    reader = open_reader(location, list(batch.LINEAGE_COLUMNS), batch_rows, wanted.columns)
    if reader.columns:
        wanted.check(location, reader.columns)
    found: list[Any] = []
    before = 0  # rows of the file (and lines that are not rows) before this batch
    checked = bool(reader.columns)
    for chunk, bad_lines in reader.batches:
        for line in bad_lines:
            window.skip(f"{location.uri} row {line.row}", line.reason)
        numbers = _numbers(before, chunk.num_rows, bad_lines)
        before += chunk.num_rows + len(bad_lines)
        if not chunk.num_rows:
            continue
        if not checked:
            wanted.check(location, chunk.schema.names)
            checked = True
        found.append(_rows(location, chunk, numbers, wanted, window))
    return found


def _numbers(before: int, rows: int, bad_lines: list[BadLine]) -> list[int]:
    """The 1-based row numbers in the file of a batch's rows, past the lines skipped."""
    if not bad_lines:
        return list(range(before + 1, before + rows + 1))
    skipped = {line.row for line in bad_lines}
    numbers: list[int] = []
    candidate = before
    while len(numbers) < rows:
        candidate += 1
        if candidate not in skipped:
            numbers.append(candidate)
    return numbers


def _rows(location: Location, chunk: Any, numbers: list[int], wanted: _Wanted,
          window: LogWindow) -> Any:  # fmt: skip
    """The batch's rows of the window, in the log window's columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    models = pc.unique(chunk.column(batch.MODEL_COLUMN).cast(pa.string())).drop_null()
    others = sorted(m for m in models.to_pylist() if m != wanted.model)
    if others:
        raise InvalidInput(f"{location.uri}: holds rows of {', '.join(others)}, not of"
                           f" {wanted.model} ({batch.MODEL_COLUMN})")  # fmt: skip
    times = _times(location, chunk.column(batch.TIME_COLUMN), numbers, window)
    low = pa.scalar(wanted.since, pa.timestamp("us", "UTC"))
    high = pa.scalar(wanted.until, pa.timestamp("us", "UTC"))
    inside = pc.fill_null(pc.and_(pc.greater_equal(times, low), pc.less_equal(times, high)), False)
    if wanted.version is not None:
        versions = chunk.column(batch.VERSION_COLUMN).cast(pa.string())
        mine = pc.fill_null(pc.equal(versions, wanted.version), False)
        window.other_versions += int(pc.sum(pc.and_(inside, pc.invert(mine))).as_py() or 0)
        inside = pc.and_(inside, mine)
    names = chunk.schema.names
    row = chunk.column(wanted.id_column) if wanted.id_column else pa.array(numbers, pa.int64())
    columns: dict[str, Any] = {
        "request_id": chunk.column(batch.BATCH_COLUMN).cast(pa.string()),
        "row": row,
        batch.PREDICTION: chunk.column(batch.PREDICTION),
    }
    if batch.PROBABILITY in names:
        columns[batch.PROBABILITY] = chunk.column(batch.PROBABILITY)
    for feature in wanted.features:
        if feature in names:
            columns[f"{FEATURE}{feature}"] = chunk.column(feature)
    return pa.Table.from_pydict(columns).filter(inside)


def _times(location: Location, column: Any, numbers: list[int], window: LogWindow) -> Any:
    """`mlops_scored_at` as UTC times: a timestamp column as it is (a zoneless one taken as
    UTC), text parsed as ISO 8601; a value that is not a time is null and its row skipped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    utc = pa.timestamp("us", "UTC")
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        return column.cast(utc, safe=False)
    text = column.cast(pa.string())
    try:
        return text.cast(utc)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    parsed = [_time(v) for v in text.to_pylist()]
    for number, value, moment in zip(numbers, text.to_pylist(), parsed, strict=True):
        if value is not None and moment is None:
            window.skip(f"{location.uri} row {number}",
                        f"{batch.TIME_COLUMN} {value!r} is not a time")  # fmt: skip
    return pa.array(parsed, utc)


def _time(text: str | None) -> datetime | None:
    from datetime import UTC

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
