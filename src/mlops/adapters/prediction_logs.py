"""Reading prediction logs back (one model's lines of one environment within a time window),
and the outcomes (labels) attached to them, which live in the same day partitions (those of
batch outputs under the environment `batch`).

Only the day partitions the window touches are opened. A file is read by Arrow's JSON reader
(in C++, columns at once); a file it cannot read whole (a line cut short by a full disk or
edited by hand) is read again line by line, and each line that is not a log record is
counted and skipped with its file and line number: it never stops the read. The window is
one Arrow table: `request_id`, `row`, `prediction`, `probability` and a column per logged
feature (`features.<name>`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops.adapters.shared_folders import make_dirs
from mlops.core import prediction_log

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


def read_window(folder: Path, environment: str, model: str, version: str | None,
                since: datetime, until: datetime) -> LogWindow:  # fmt: skip
    """The lines `version` (None: any) of `model` wrote in `environment` from `since` up to
    `until`."""
    window = LogWindow()
    low = since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    high = until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    parts = []
    for path in _files(folder, environment, model, since, until, prediction_log.LOG_FILES):
        window.files += 1
        table = _whole(path)
        if table is None:
            table = _line_by_line(path, window)
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


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _whole(path: Path) -> Any:
    """The file as a flat table when Arrow reads all of it as log records, else None."""
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
    return table.flatten()


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
