"""Outcomes attached to logged predictions: checked, matched to what was served, stored
beside the logs for monitoring to join."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops.adapters.prediction_logs import read_window, write_labels
from mlops.adapters.settings import load_settings
from mlops.core import layout
from mlops.core.performance import check_label, key
from mlops.errors import InvalidInput, MlopsError
from mlops.flows.repository import checked_models, manifest_data

MAX_SHOWN = 10


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
           since: timedelta, now: datetime | None = None) -> Attached:  # fmt: skip
    """Check every label in `source`, then store those of predictions logged in the last
    `since`; InvalidInput (nothing stored) when any label is malformed."""
    check = checked_models(root, [name], "labelled")
    target = (manifest_data(check, name).get("data") or {}).get("target") or {}
    frame = _read(source)
    column = _label_column(frame, target, source, name)
    if "request_id" not in frame.columns:
        raise InvalidInput(f"{source}: no `request_id` column (the id each answer carried)")
    records, problems = _checked(frame, column, target)
    if problems:
        shown = "".join(f"\n  {p}" for p in problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise InvalidInput(f"{source}: {len(problems)} label(s) are not valid; nothing was"
                           f" stored:{shown}{more}")  # fmt: skip
    now = now or datetime.now(UTC)
    folder = logs or load_settings(root).prediction_logs
    served = read_window(folder, environment, name, None, now - since, now)
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
            f"{source}: none of its {len(records)} label(s) matches a prediction {name} logged"
            f" in {environment} in the last {since.days} day(s); nothing was stored",
            hint="check the environment (--env), the ids, and --since",
        )
    result.attached = len(kept)
    result.stored = str(write_labels(folder, environment, name, kept, now))
    return result


def _read(source: Path) -> Any:
    import pandas as pd

    if not source.is_file():
        raise InvalidInput(f"{source}: no such file")
    try:
        if source.suffix == ".parquet":
            return pd.read_parquet(source)
        if source.suffix in (".jsonl", ".ndjson"):
            return pd.read_json(source, lines=True, dtype=False)
        return pd.read_csv(source, dtype={"request_id": str}, keep_default_na=True)
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


def _checked(frame: Any, column: str, target: dict[str, Any]
             ) -> tuple[list[dict[str, Any]], list[str]]:  # fmt: skip
    """The labels as records, and each bad one as `row N: why` (N: the data row, 1-based)."""
    records, problems = [], []
    rows = frame["row"].tolist() if "row" in frame.columns else [0] * len(frame)
    for number, (request_id, row, raw) in enumerate(
        zip(frame["request_id"].tolist(), rows, frame[column].tolist(), strict=True), start=1
    ):
        if not isinstance(request_id, str) or not request_id:
            problems.append(f"row {number}: request_id is empty")
            continue
        if isinstance(row, float) and row.is_integer():
            row = int(row)
        if not isinstance(row, int) or isinstance(row, bool) or row < 0:
            problems.append(f"row {number}: row {row!r} is not a row index (0, 1, ...)")
            continue
        value, why = check_label(raw.item() if hasattr(raw, "item") else raw, target)
        if why:
            problems.append(f"row {number}: {column}: {why}")
            continue
        records.append({"request_id": request_id, "row": row, "label": value})
    return records, problems
