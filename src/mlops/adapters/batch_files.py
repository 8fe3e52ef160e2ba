"""Published batch outputs and quarantine files on a local disk, for retention and erasure:
when each was scored, and one data subject's rows found in and removed from them.

An output's scoring time is the newest `mlops_scored_at` of its rows (every row of a run
carries the run's time); a quarantine file (`<output>.rejected.jsonl`) is published with its
output, so it goes by that output's time, or by its own modification time when the output
is gone. A file is rewritten in one rename (`atomic.replace_with`): `mlops score` publishes
whole files the same way and never appends, so any of them may be replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters.atomic import replace_with
from mlops.adapters.log_erasure import LISTED, drop_json_lines, json_object
from mlops.core import batch
from mlops.core.erasure import Scan, Subject


@dataclass(frozen=True)
class BatchFile:
    """One published file: an output or its quarantine file, and when it was scored (None
    when that cannot be read; `why` says why)."""

    path: Path
    kind: str  # "output" or "quarantine"
    scored_at: datetime | None
    bytes: int
    why: str = ""


def published(output: Path) -> list[BatchFile]:
    """The output at `output` (a file, or a folder of outputs) and the quarantine files
    beside them, each with its scoring time."""
    outputs = (sorted(p for p in output.iterdir() if _an_output(p)) if output.is_dir()
               else [output] if output.is_file() else [])  # fmt: skip
    found: list[BatchFile] = []
    for path in outputs:
        moment, why = scored_at(path)
        found.append(BatchFile(path, "output", moment, path.stat().st_size, why))
    rejected = ([p for p in output.iterdir() if p.name.endswith(batch.QUARANTINE_SUFFIX)]
                if output.is_dir() else [Path(batch.quarantine_location(str(output)))])  # fmt: skip
    times = {str(f.path): f.scored_at for f in found}
    for path in sorted(p for p in rejected if p.is_file()):
        source = str(path)[: -len(batch.QUARANTINE_SUFFIX)]
        moment = times.get(source) or datetime.fromtimestamp(path.stat().st_mtime, UTC)
        found.append(BatchFile(path, "quarantine", moment, path.stat().st_size))
    return found


def _an_output(path: Path) -> bool:
    name = path.name.lower()
    return (path.is_file() and not name.startswith(".")
            and not name.endswith(batch.QUARANTINE_SUFFIX)
            and any(name.endswith(suffix) for suffix in batch.FORMATS))  # fmt: skip


def scored_at(path: Path) -> tuple[datetime | None, str]:
    """The newest `mlops_scored_at` of an output's rows, or None and why."""
    try:
        values = _column(path, batch.TIME_COLUMN)
    except Exception as exc:  # any reader's error: the file is reported, and kept
        return None, f"cannot read {batch.TIME_COLUMN}: {str(exc).splitlines()[0]}"
    times = [t for t in (_time(v) for v in values) if t is not None]
    if not times:
        return None, f"no row has a {batch.TIME_COLUMN} time"
    return max(times), ""


def _column(path: Path, name: str) -> list[Any]:
    kind = batch.table_format(str(path))
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(path, columns=[name]).column(name).to_pylist())
    if kind == "csv":
        from pyarrow import csv

        options = csv.ConvertOptions(include_columns=[name], column_types={name: "string"})
        return list(csv.read_csv(path, convert_options=options).column(name).to_pylist())
    records = (json_object(line) for line in path.read_bytes().splitlines())
    return [r.get(name) for r in records if r is not None]


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def erase_output(path: Path, found: Subject, id_column: str | None, apply: bool) -> Scan:
    """The subject's rows in a batch output (by the subject field's column); without them
    with `apply`. `keys` are (batch run id, id) of the rows found, which labels attached to
    the output go by, when the model sets `serving.batch.id_column`."""
    if batch.table_format(str(path)) == "jsonl":
        return _erase_json_lines(path, found, id_column, apply)
    import pyarrow as pa

    table = _table(path)
    if found.field not in table.column_names:
        return Scan()
    hits = [found.is_value(v) for v in table.column(found.field).to_pylist()]
    rows = sum(hits)
    keys: set[tuple[str, str]] = set()
    if id_column and id_column in table.column_names and batch.BATCH_COLUMN in table.column_names:
        keys = {(str(r), str(i)) for r, i, hit in zip(table.column(batch.BATCH_COLUMN).to_pylist(),
                table.column(id_column).to_pylist(), hits, strict=True) if hit}  # fmt: skip
    if apply and rows:
        rest = table.filter(pa.array([not hit for hit in hits]))
        replace_with(path, lambda aside: _write(rest, aside, batch.table_format(str(path))))
    return Scan(rows, keys=frozenset(keys))


def _table(path: Path) -> Any:
    if batch.table_format(str(path)) == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    import csv as text_csv

    import pyarrow as pa
    from pyarrow import csv

    with path.open(newline="", encoding="utf-8") as handle:
        names = next(text_csv.reader(handle), [])
    # every value as the text it is, so that the rows kept are written back unchanged
    types = {name: pa.string() for name in names}
    return csv.read_csv(path, convert_options=csv.ConvertOptions(column_types=types))


def _write(table: Any, aside: Path, kind: str) -> None:
    if kind == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, aside)
    else:
        from pyarrow import csv

        csv.write_csv(table, aside)


def _erase_json_lines(path: Path, found: Subject, id_column: str | None, apply: bool) -> Scan:
    dropped, broken = drop_json_lines(path, lambda r: found.is_value(r.get(found.field)), apply)
    keys = {(str(r.get(batch.BATCH_COLUMN)), str(r.get(id_column))) for r in dropped
            if id_column}  # fmt: skip
    return Scan(len(dropped), 0, len(broken), tuple(broken[:LISTED]), frozenset(keys))


TOKENS = re.compile(r"[,;\t \"'{}\[\]:]+")


def erase_quarantine(path: Path, found: Subject, apply: bool) -> Scan:
    """The subject's rejected rows in a quarantine file; without them with `apply`. A row
    kept as the raw line it came as (it could not be parsed) is the subject's when the ID is
    one of its values."""

    def subjects(record: dict[str, Any]) -> bool:
        values = record.get("record")
        if isinstance(values, dict):
            return found.is_value(values.get(found.field))
        return found.id.strip() in TOKENS.split(str(record.get("line") or ""))

    dropped, broken = drop_json_lines(path, subjects, apply)
    return Scan(len(dropped), 0, len(broken), tuple(broken[:LISTED]))
