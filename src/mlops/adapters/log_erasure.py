"""One data subject's rows found in, and removed from, prediction-log files (JSON lines and
compacted Parquet) and the label files beside them.

A file is read whole and, when it holds the subject's rows and `apply` is set, replaced in
one rename by a copy without them (`atomic.replace_with`): a reader sees the file before or
after, never half of it. Every other line is kept byte for byte, including lines that are
not log records: those are counted and named, never dropped. The caller decides which files
may be rewritten: a rename must never replace a file a server still appends to, since the
server's later lines would go to the unlinked file and be lost (`mlops.flows.erasure`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from mlops.adapters.atomic import replace_with, write_bytes
from mlops.core import prediction_log
from mlops.core.erasure import Scan, Subject

LISTED = 5  # broken lines named per file; the rest only counted


def erase_lines(path: Path, found: Subject, apply: bool) -> Scan:
    """The subject's rows in a JSON-lines prediction log; without them with `apply`."""
    kept: list[bytes] = []
    rows = unjudged = 0
    broken: list[str] = []
    keys: set[tuple[str, str]] = set()
    for number, raw in enumerate(path.read_bytes().splitlines(keepends=True), start=1):
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            kept.append(raw)
            continue
        record, problem = prediction_log.parse_line(text)
        if record is None:
            broken.append(f"{path}:{number}: {problem}")
            kept.append(raw)
            continue
        verdict = _verdict(record["features"], record.get("masked"), found)
        if verdict is True:
            rows += 1
            keys.add((record["request_id"], str(record["row"])))
            continue
        unjudged += verdict is None
        kept.append(raw)
    if apply and rows:
        write_bytes(path, b"".join(kept))
    return Scan(rows, unjudged, len(broken), tuple(broken[:LISTED]), frozenset(keys))


def erase_parquet(path: Path, found: Subject, apply: bool) -> Scan:
    """The subject's rows in a compacted prediction log; without them with `apply`. A file
    that cannot be read is reported as one broken line, and kept."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        return Scan(broken=1, broken_lines=(f"{path}: not a readable Parquet file ({exc})",))
    features = table.column("features").to_pylist() if "features" in table.column_names else []
    masked = (table.column("masked").to_pylist() if "masked" in table.column_names
              else [None] * table.num_rows)  # fmt: skip
    verdicts = [_verdict(f or {}, m, found) for f, m in zip(features, masked, strict=True)]
    hits = [v is True for v in verdicts]
    rows = sum(hits)
    keys = {(str(r), str(n)) for r, n, hit in zip(table.column("request_id").to_pylist(),
            table.column("row").to_pylist(), hits, strict=True) if hit}  # fmt: skip
    if apply and rows:
        rest = table.filter(pa.array([not hit for hit in hits]))
        replace_with(path, lambda aside: pq.write_table(rest, aside, compression="zstd"))
    return Scan(rows, sum(v is None for v in verdicts), keys=frozenset(keys))


def erase_labels(path: Path, keys: Collection[tuple[str, str]], apply: bool) -> Scan:
    """The labels of the erased rows (by request id and row) in a label file; without them
    with `apply`. Label files are written whole, never appended to, so any may be replaced."""

    def erased(record: dict[str, Any]) -> bool:
        return (str(record.get("request_id")), str(record.get("row", 0))) in keys

    dropped, broken = drop_json_lines(path, erased, apply, "not a label record")
    return Scan(len(dropped), 0, len(broken), tuple(broken[:LISTED]))


Record = dict[str, Any]


def drop_json_lines(
    path: Path,
    matches: Callable[[Record], bool],
    apply: bool,
    not_record: str = "not a JSON object",
) -> tuple[list[Record], list[str]]:
    """The JSON-object lines of `path` that `matches` picks, removed with `apply` (the file
    replaced by a copy without them, every other line kept byte for byte), and the lines
    that are not JSON objects, named `path:line: not_record` (kept as they are)."""
    kept: list[bytes] = []
    dropped: list[Record] = []
    broken: list[str] = []
    for number, raw in enumerate(path.read_bytes().splitlines(keepends=True), start=1):
        record = json_object(raw)
        if record is None:
            if raw.strip():
                broken.append(f"{path}:{number}: {not_record}")
            kept.append(raw)
        elif matches(record):
            dropped.append(record)
        else:
            kept.append(raw)
    if apply and dropped:
        write_bytes(path, b"".join(kept))
    return dropped, broken


def _verdict(features: Any, masked: Any, found: Subject) -> bool | None:
    """True: the subject's row; False: not; None: the field is hashed without a key to
    compare with, or was left out."""
    if isinstance(features, dict) and found.field in features:
        return found.is_logged(features[found.field])
    if isinstance(masked, list) and found.field in masked:
        return None
    return False


def json_object(raw: bytes) -> dict[str, Any] | None:
    """A line's JSON object; None when it is not one."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
