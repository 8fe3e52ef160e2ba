"""`mlops retention`: purge prediction logs, batch outputs and quarantine files older than
each model's retention period, and compact the other closed days of logs into Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.prediction_log import Expiry
from mlops.flows import retention
from mlops.output import console, print_json


@click.command("retention")
@click.option(
    "--apply", "apply_", is_flag=True, help="Purge and compact; without it, only show the plan."
)
@click.option(
    "--logs",
    type=click.Path(file_okay=False, path_type=Path),
    help="The prediction-log folder (default: this deploy host's, under MLOPS_DEPLOY_DIR).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and what was purged).")
@click.pass_obj
def command(obj: dict[str, Any], apply_: bool, logs: Path | None, as_json: bool) -> None:
    """Show, and with --apply purge, the days of prediction logs, and the published batch
    outputs and quarantine files, older than each model's `compliance.retention_days`; and
    compact the log files of the other closed days into Parquet.

    A day is purged once all of it is older than the period. Logs of a model that no
    manifest names are listed but never purged: no rule says how long to keep them. A day
    is compacted an hour after it ended (UTC): the same records, read by `mlops monitor`
    in a fraction of the time; a file with lines that are not log records stays as it is.
    A batch output is as old as its newest `mlops_scored_at`, its quarantine file as old as
    the output; one whose time cannot be read is listed and kept.
    """
    root = find_root(obj.get("repo"))
    found = retention.plan(root, logs)
    purged = retention.purge(found) if apply_ else []
    compacted = retention.compact_all(found) if apply_ else []
    batch_purged = retention.purge_batch(found) if apply_ else []
    if as_json:
        print_json({"folder": str(found.folder), "today": found.today.isoformat(),
                    "partitions": found.partitions, "applied": apply_,
                    "expired": [_entry(e) for e in found.expiries],
                    "purged": [_entry(e) for e in purged],
                    "compact": [str(path) for path in found.compactable],
                    "compacted": [_compacted(c) for c in compacted],
                    "batch_expired": [_batch(e) for e in found.batch],
                    "batch_purged": [_batch(e) for e in batch_purged],
                    "batch_remote": found.remote})  # fmt: skip
        return
    _print(found, apply_)
    _print_compaction(found, compacted, apply_)
    _print_batch(found, batch_purged, apply_)


def _batch(expiry: retention.BatchExpiry) -> dict[str, Any]:
    scored = expiry.scored_at.isoformat() if expiry.scored_at else None
    return {"model": expiry.model, "file": expiry.path, "kind": expiry.kind, "scored_at": scored,
            "bytes": expiry.bytes, "retention_days": expiry.retention_days,
            "reason": expiry.reason}  # fmt: skip


def _print_batch(found: retention.RetentionPlan, purged: list[retention.BatchExpiry],
                 applied: bool) -> None:  # fmt: skip
    from rich.table import Table

    out = console(markup=False)
    for uri in found.remote:
        out.print(f"not checked: {uri} is a remote batch output; expire it with the store's own"
                  " lifecycle rules")  # fmt: skip
    if not found.batch:
        return
    table = Table(title="Batch outputs and quarantine files past retention")
    for column in ("model", "kind", "file", "scored", "bytes", "action", "why"):
        table.add_column(column)
    for expiry in found.batch:
        action = "kept" if not expiry.purgeable else "purged" if applied else "purge"
        scored = expiry.scored_at.isoformat(timespec="seconds") if expiry.scored_at else "?"
        table.add_row(expiry.model, expiry.kind, expiry.path, scored, str(expiry.bytes), action,
                      expiry.reason)  # fmt: skip
    out.print(table)
    count = sum(e.purgeable for e in found.batch)
    if applied:
        out.print(f"purged {len(purged)} batch file(s)")
    elif count:
        out.print(f"{count} batch file(s) would be purged: run again with --apply")


def _entry(expiry: Expiry) -> dict[str, Any]:
    part = expiry.partition
    return {"environment": part.environment, "model": part.model, "day": part.day.isoformat(),
            "files": part.files, "bytes": part.bytes, "retention_days": expiry.retention_days,
            "reason": expiry.reason}  # fmt: skip


def _compacted(done: retention.Compaction) -> dict[str, Any]:
    return {"file": str(done.source), "rows": done.rows, "bytes": done.bytes,
            "compacted_bytes": done.compacted_bytes, "kept": done.kept}  # fmt: skip


def _print_compaction(found: retention.RetentionPlan, compacted: list[retention.Compaction],
                      applied: bool) -> None:  # fmt: skip
    out = console(markup=False)
    if not applied:
        if found.compactable:
            out.print(f"{len(found.compactable)} file(s) of closed days"
                      f" ({found.compactable_bytes:,} bytes) would be compacted into Parquet:"
                      " run again with --apply")  # fmt: skip
        return
    done = [c for c in compacted if c.kept is None]
    if done:
        before, after = sum(c.bytes for c in done), sum(c.compacted_bytes for c in done)
        out.print(f"compacted {len(done)} file(s), {sum(c.rows for c in done):,} rows:"
                  f" {before:,} bytes of JSON lines into {after:,} bytes of Parquet")  # fmt: skip
    for kept in (c for c in compacted if c.kept is not None):
        out.print(f"kept as JSON lines: {kept.source}: {kept.kept}")


def _print(found: retention.RetentionPlan, applied: bool) -> None:
    from rich.table import Table

    out = console(markup=False)
    if not found.expiries:
        out.print(f"nothing to purge: {found.partitions} day(s) of logs in {found.folder},"
                  " all within their retention")  # fmt: skip
        return
    table = Table(title=f"Prediction logs past retention in {found.folder}")
    for column in ("environment", "model", "day", "files", "bytes", "action", "why"):
        table.add_column(column)
    for expiry in found.expiries:
        part = expiry.partition
        keep = expiry.retention_days is None
        action = "kept" if keep else "purged" if applied else "purge"
        table.add_row(part.environment, part.model, part.day.isoformat(), str(part.files),
                      str(part.bytes), action, expiry.reason)  # fmt: skip
    out.print(table)
    count = len(found.purgeable)
    if applied:
        out.print(f"purged {count} day(s)")
    elif count:
        out.print(f"{count} day(s) would be purged: run again with --apply")
