"""Outcomes attached to logged predictions: checked, matched to what was served (or to the
rows batch scoring wrote), stored beside the logs for monitoring to join.

A served prediction is named by its request id and row index (0 by default). A batch row is
named by its batch run id (`batch_run_id`, or `request_id`) and `row`: the value of its
`serving.batch.id_column` when the model sets one, else its 1-based row number in the output.
Labels of batch rows are stored under the environment `batch`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops.adapters.prediction_logs import read_window, write_labels
from mlops.adapters.settings import load_settings
from mlops.core import batch as batches
from mlops.core import layout
from mlops.core.performance import check_label, key
from mlops.errors import InvalidInput, MlopsError
from mlops.flows import windows
from mlops.flows.repository import checked_models, manifest_data

MAX_SHOWN = 10
INDEX, NUMBER, ID = "index", "number", "id"  # what a label's `row` is


@dataclass
class Attached:
    source: str
    rows: int
    attached: int = 0
    unknown: int = 0
    unknown_examples: list[str] = field(default_factory=list)
    stored: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.source, "rows": self.rows, "attached": self.attached,
                "unknown": self.unknown, "unknown_examples": self.unknown_examples,
                "stored": self.stored}  # fmt: skip


def attach(root: Path, name: str, source: Path, environment: str, logs: Path | None,
           since: timedelta, now: datetime | None = None,
           batch: tuple[str, ...] | None = None) -> Attached:  # fmt: skip
    """Check every label in `source`, then store those of predictions logged in
    `environment` in the last `since` (with `batch`: of rows scored into those outputs in
    that time, none given: serving.batch.output); InvalidInput (nothing stored) when any
    label is malformed."""
    check = checked_models(root, [name], "labelled")
    manifest = manifest_data(check, name)
    target = (manifest.get("data") or {}).get("target") or {}
    id_column = batches.batch_spec(manifest).id_column
    rule = INDEX if batch is None else ID if id_column else NUMBER
    frame = _read(source, rule != INDEX)
    column = _label_column(frame, target, source, name)
    ids = _id_column(frame, source, rule)
    if rule != INDEX and "row" not in frame.columns:
        what = (f"its {id_column} (serving.batch.id_column)" if rule == ID
                else "its row number in the output (1, 2, ...)")  # fmt: skip
        raise InvalidInput(f"{source}: no `row` column: a batch row is named by {what}")
    records, problems = _checked(frame, ids, column, target, rule)
    if problems:
        shown = "".join(f"\n  {p}" for p in problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise InvalidInput(f"{source}: {len(problems)} label(s) are not valid; nothing was"
                           f" stored:{shown}{more}")  # fmt: skip
    now = now or datetime.now(UTC)
    folder = logs or load_settings(root).prediction_logs
    if batch is None:
        served = read_window(folder, environment, name, None, now - since, now)
        what = f"a prediction {name} logged in {environment}"
    else:
        uris = windows.batch_outputs(root, name, manifest, batch)
        served = windows.batch_rows(name, manifest, uris, None, now - since, now, [])
        environment, what = batches.ENVIRONMENT, f"a row of {name}'s batch output(s) scored"
    known = {key(r, n) for r, n in zip(served.column("request_id"), served.column("row"),
                                       strict=True)}  # fmt: skip
    result = Attached(str(source), len(records))
    kept = []
    for record in records:
        if key(record["request_id"], record["row"]) in known:
            kept.append({**record, "labelled_at": now.isoformat(timespec="seconds")})
        else:
            result.unknown += 1
            if len(result.unknown_examples) < MAX_SHOWN:
                result.unknown_examples.append(f"{record['request_id']} row {record['row']}")
    if not kept:
        raise MlopsError(
            f"{source}: none of its {len(records)} label(s) matches {what}"
            f" in the last {since.days} day(s); nothing was stored",
            hint="check the environment (--env) or the outputs (--batch), the ids, and --since",
        )
    result.attached = len(kept)
    result.stored = str(write_labels(folder, environment, name, kept, now))
    return result


def _read(source: Path, text_rows: bool) -> Any:
    """The file as a frame; ids (and, with `text_rows`, batch rows) kept as text from CSV, so
    an id like 007 stays itself."""
    import pandas as pd

    if not source.is_file():
        raise InvalidInput(f"{source}: no such file")
    try:
        if source.suffix == ".parquet":
            return pd.read_parquet(source)
        if source.suffix in (".jsonl", ".ndjson"):
            return pd.read_json(source, lines=True, dtype=False)
        text = {"request_id": str, "batch_run_id": str, **({"row": str} if text_rows else {})}
        return pd.read_csv(source, dtype=text, keep_default_na=True)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"{source}: cannot read it: {first}") from None


def _label_column(frame: Any, target: dict[str, Any], source: Path, name: str) -> str:
    for column in (str(target.get("name", "")), "label"):
        if column and column in frame.columns:
            return column
    raise InvalidInput(
        f"{source}: no label column: expected `{target.get('name')}` (data.target.name in"
        f" {layout.manifest_path(name)}) or `label`"
    )


def _id_column(frame: Any, source: Path, rule: str) -> str:
    """The column naming the request (or the batch run) of each label."""
    names = ["request_id"] if rule == INDEX else ["batch_run_id", "request_id"]
    for name in names:
        if name in frame.columns:
            return name
    if rule == INDEX:
        raise InvalidInput(f"{source}: no `request_id` column (the id each answer carried)")
    raise InvalidInput(f"{source}: no `batch_run_id` column (the {batches.BATCH_COLUMN} of"
                       " the scored row) or `request_id`")  # fmt: skip


def _checked(frame: Any, ids: str, column: str, target: dict[str, Any], rule: str
             ) -> tuple[list[dict[str, Any]], list[str]]:  # fmt: skip
    """The labels as records, and each bad one as `row N: why` (N: the data row, 1-based)."""
    records, problems = [], []
    rows = frame["row"].tolist() if "row" in frame.columns else [0] * len(frame)
    for number, (request_id, given, raw) in enumerate(
        zip(frame[ids].tolist(), rows, frame[column].tolist(), strict=True), start=1
    ):
        if not isinstance(request_id, str) or not request_id:
            problems.append(f"row {number}: {ids} is empty")
            continue
        row, why = _row(given, rule)
        if why:
            problems.append(f"row {number}: {why}")
            continue
        value, why = check_label(raw.item() if hasattr(raw, "item") else raw, target)
        if why:
            problems.append(f"row {number}: {column}: {why}")
            continue
        records.append({"request_id": request_id, "row": row, "label": value})
    return records, problems


def _row(value: Any, rule: str) -> tuple[Any, str | None]:
    """A label's row as stored (an index, a row number or an id value), or why it is none."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if rule == ID:
        empty = value is None or value == "" or (isinstance(value, float) and value != value)
        return (None, "row is empty (the id value of the scored row)") if empty else (value, None)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    low = 0 if rule == INDEX else 1
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        kind = "a row index (0, 1, ...)" if rule == INDEX else "a row number (1, 2, ...)"
        return None, f"row {value!r} is not {kind}"
    return value, None
