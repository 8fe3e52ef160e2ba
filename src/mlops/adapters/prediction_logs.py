"""Reading prediction logs back (one model's lines of one environment within a time window),
and the outcomes (labels) attached to them, which live in the same day partitions (those of
batch outputs under the environment `batch`).

Only the day partitions the window touches are opened. A file is read by Arrow's JSON reader
(in C++, columns at once); a file it cannot read whole (a line cut short by a full disk or
edited by hand) is read again line by line, and each line that is not a log record is
counted and skipped with its file and line number: it never stops the read. A closed day's
files compacted into Parquet (`compact`) are read as they are; one that cannot be read is
counted and named like a bad line (or, while its source is still there, the source is read
instead). The window is one Arrow table: `request_id`, `row`, `prediction`, `probability`
and a column per logged feature (`features.<name>`).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops.adapters.shared_folders import make_dirs
from mlops.core import prediction_log
from mlops.errors import first_line

MAX_LISTED = 20  # skipped lines named one by one; the rest are only counted


KEPT = ("request_id", "row", "prediction", "probability")
FEATURE = "features."


@dataclass
class LogWindow:
    """The window's rows of one version (an Arrow table, None when there are none), and
    what was left aside."""

    table: Any = None
    files: int = 0
    other_versions: int = 0  # lines of other versions in the window, not used
    skipped: int = 0
    skipped_lines: list[str] = field(default_factory=list)  # "file:line: why"

    def skip(self, where: str, why: str) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < MAX_LISTED:
            self.skipped_lines.append(f"{where}: {why}")

    @property
    def rows(self) -> int:
        return 0 if self.table is None else int(self.table.num_rows)

    def column(self, name: str) -> list[Any]:
        """A column's values (nulls where the window has no such column)."""
        if self.table is None:
            return []
        if name not in self.table.column_names:
            return [None] * self.table.num_rows
        return list(self.table.column(name).to_pylist())

    def values(self, name: str) -> Any:
        """A column as a NumPy array (nulls where the window has no such column)."""
        import numpy as np

        if self.table is None or name not in self.table.column_names:
            return np.full(self.rows, None, dtype=object)
        return self.table.column(name).to_numpy()


def read_window(folder: Path, environment: str, model: str, version: str | None,
                since: datetime, until: datetime) -> LogWindow:  # fmt: skip
    """The lines `version` (None: any) of `model` wrote in `environment` from `since` up to
    `until`."""
    window = LogWindow()
    low = since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    high = until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    parts = []
    for path in _log_files(folder, environment, model, since, until):
        window.files += 1
        table = _compacted(path, window) if path.suffix == ".parquet" else _lines(path, window)
        if table is not None and table.num_rows:
            parts.append(_in_window(table, low, high, version, window))
    window.table = combined([t for t in parts if t.num_rows])
    return window


def read_labels(folder: Path, environment: str, model: str, since: datetime, until: datetime
                ) -> list[dict[str, Any]]:  # fmt: skip
    """The labels attached from `since`'s day to `until`'s, oldest first."""
    found: list[dict[str, Any]] = []
    for path in _files(folder, environment, model, since, until, prediction_log.LABEL_FILES):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                record = _label(line)
                if record is not None:
                    found.append(record)
    return found


def write_labels(folder: Path, environment: str, model: str, records: list[dict[str, Any]],
                 now: datetime) -> Path:  # fmt: skip
    """The labels as one new file in today's partition, appearing whole (written aside)."""
    part = folder / prediction_log.partition_dir(environment, model, now.date())
    make_dirs(part)
    name = prediction_log.labels_name(now.strftime("%Y%m%dT%H%M%SZ"), uuid.uuid4().hex[:8])
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    aside = part / f".{name}.tmp"
    aside.write_text(text, encoding="utf-8")
    aside.replace(part / name)
    return part / name


def _label(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("request_id"), str):
        return None
    row = record.get("row", 0)  # a request's row index; a batch output's id value or row number
    return record if isinstance(row, int | str) and "label" in record else None


def _files(folder: Path, environment: str, model: str, since: datetime, until: datetime,
           pattern: str) -> list[Path]:  # fmt: skip
    base = folder / environment / model
    found: list[Path] = []
    for day in _days(since.date(), until.date()):
        part = base / f"date={day.isoformat()}"
        if part.is_dir():
            found += sorted(part.glob(pattern))
    return found


def _log_files(folder: Path, environment: str, model: str, since: datetime, until: datetime
               ) -> list[Path]:  # fmt: skip
    """The window's log files: each compacted one, and each of JSON lines that has none."""
    compacted = _files(folder, environment, model, since, until, prediction_log.COMPACTED_FILES)
    done = {path.with_suffix(".jsonl") for path in compacted}
    lines = _files(folder, environment, model, since, until, prediction_log.LOG_FILES)
    return sorted(compacted + [path for path in lines if path not in done])


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _lines(path: Path, window: LogWindow) -> Any:
    """A file of JSON lines as a flat table: at once where it can, line by line where it must."""
    table = _whole(path)
    return _line_by_line(path, window) if table is None else table


def _whole(path: Path) -> Any:
    """The file as a flat table when Arrow reads all of it as log records, else None."""
    table = _records(path)
    return None if table is None else table.flatten()


def _records(path: Path) -> Any:
    """The file's records as Arrow reads them (features as one struct column) when every
    line is a log record, else None."""
    import pyarrow as pa
    from pyarrow import json as arrow_json

    try:
        table = arrow_json.read_json(path)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        return None
    kinds = {"time": pa.types.is_string, "model": pa.types.is_string,
             "version": pa.types.is_string, "request_id": pa.types.is_string,
             "row": pa.types.is_integer, "features": pa.types.is_struct}  # fmt: skip
    schema = table.schema
    for name, kind in kinds.items():
        if name not in schema.names or not kind(schema.field(name).type):
            return None
        if table.column(name).null_count:
            return None
    if "prediction" not in schema.names:
        return None
    return table


def _compacted(path: Path, window: LogWindow) -> Any:
    """A compacted file's records as a flat table; when it cannot be read, its source if that
    is still there, else None (counted and named)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).flatten()
    except (pa.ArrowException, OSError) as exc:
        source = path.with_suffix(".jsonl")
        if source.exists():
            return _lines(source, window)
        window.skip(str(path), f"not a readable Parquet file ({first_line(exc)})")
        return None


@dataclass(frozen=True)
class Compaction:
    """One file of JSON lines compacted (or, with `kept`, why it stays as it is)."""

    source: Path
    rows: int
    bytes: int
    compacted_bytes: int = 0
    kept: str | None = None


def compact(path: Path) -> Compaction:
    """`path`'s records as a Parquet file of the same name beside it, then `path` removed.
    The Parquet file is written aside and renamed into place whole, so a reader sees the
    JSON lines, or the Parquet file, or both (and takes the Parquet file); a file holding
    lines that are not log records stays as it is, so readers keep naming them."""
    import pyarrow.parquet as pq

    target = path.with_suffix(".parquet")
    size = path.stat().st_size
    if target.exists():  # compacted before, stopped before the source was removed
        try:
            rows = pq.read_metadata(target).num_rows
        except Exception:  # written aside and renamed whole: not ours, or damaged since
            return Compaction(path, 0, size, 0, f"{target.name} exists but cannot be read")
        path.unlink()
        return Compaction(path, rows, size, target.stat().st_size)
    table = _records(path)
    if table is None:
        return Compaction(path, 0, size, 0, "it holds lines that are not log records")
    aside = path.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, aside, compression="zstd")
        aside.chmod(path.stat().st_mode & 0o777)
        with aside.open("rb") as written:
            os.fsync(written.fileno())
        aside.replace(target)
    finally:
        aside.unlink(missing_ok=True)
    path.unlink()
    return Compaction(path, table.num_rows, size, target.stat().st_size)


def _line_by_line(path: Path, window: LogWindow) -> Any:
    """The file's log records, each line on its own; the others counted and named."""
    from mlops.adapters.table_readers import json_batch

    records: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record, problem = prediction_log.parse_line(line)
            if record is None:
                window.skip(f"{path}:{number}", str(problem))
                continue
            flat = {k: v for k, v in record.items() if k != "features"}
            flat |= {f"{FEATURE}{k}": v for k, v in record["features"].items()}
            columns.update(dict.fromkeys(flat))
            records.append(flat)
    if not records:
        return None
    import pyarrow as pa

    return pa.Table.from_batches([json_batch(records, list(columns))])


def _in_window(table: Any, low: str, high: str, version: str | None, window: LogWindow) -> Any:
    import pyarrow.compute as pc

    times = table.column("time")
    inside = pc.and_(pc.greater_equal(times, low), pc.less_equal(times, high))
    table = table.filter(inside)
    if version is not None:
        mine = pc.equal(table.column("version"), version)
        window.other_versions += table.num_rows - int(pc.sum(mine).as_py() or 0)
        table = table.filter(mine)
    wanted = [c for c in table.column_names if c in KEPT or c.startswith(FEATURE)]
    return table.select(wanted)


def combined(tables: list[Any]) -> Any:
    """One table of the files' tables. A column whose type differs between files is made
    one: numbers as float64, anything else (a feature logged as a number in one file and as
    text in another) as text; the other columns keep their types."""
    import pyarrow as pa

    if not tables:
        return None
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    kinds: dict[str, list[Any]] = {}
    for table in tables:
        for schema_field in table.schema:
            kinds.setdefault(schema_field.name, []).append(schema_field.type)
    unified = {name: _one_type(types) for name, types in kinds.items()}
    cast = [t.cast(pa.schema([pa.field(n, unified[n]) for n in t.column_names])) for t in tables]
    return pa.concat_tables(cast, promote_options="permissive").select(list(unified))


def _one_type(types: list[Any]) -> Any:
    import pyarrow as pa

    known = [t for t in types if not pa.types.is_null(t)]
    if not known:
        return pa.null()
    if all(t == known[0] for t in known):
        return known[0]
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in known):
        return pa.float64()
    return pa.string()
