"""`mlops backup create | verify | restore`: the platform's state in one encrypted archive,
checked, and put back.

The key is base64 of 32 bytes in the variable `[tool.mlops.backup] key_env` names
(MLOPS_BACKUP_KEY by default); keep it apart from the backups. `restore` prints its plan and
acts with `--apply`; it never overwrites a place that holds something without `--force`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.backup import COMPONENTS, BackupError, RestorePlan
from mlops.flows import backup
from mlops.output import console, print_json, print_table, progress

ARCHIVE = click.argument("archive", required=False)  # a path or an s3:// URL


@click.group("backup")
def command() -> None:
    """Back up the tracking store, its artifacts, the DVC remote and the prediction logs
    into one encrypted archive; verify one; restore one (a plan unless --apply)."""


@command.command("create")
@click.option(
    "--to",
    "where",
    help="A folder or s3://bucket/prefix (default: [tool.mlops.backup] destination).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_obj
def create(obj: dict[str, Any], where: str | None, as_json: bool) -> None:
    """Write a new archive of everything this checkout's configuration places here."""
    with progress(not as_json) as reporter:  # bytes on stderr, as they are written
        created = backup.create(find_root(obj.get("repo")), where, reporter)
    written, notes = created.written, created.notes
    manifest = written.manifest
    if as_json:
        print_json({"archive": created.location, "sha256": written.sha256,
                    "bytes": written.size, "members": len(manifest.members),
                    "components": manifest.components, "notes": notes})  # fmt: skip
        return
    counts = {c: manifest.component(c) for c in manifest.components}
    print_table(f"Backed up into {created.location}", ("component", "files", "bytes", "from"),
                [(COMPONENTS[c], str(len(m)), f"{sum(x.size for x in m):,}",
                  manifest.sources.get(c, "")) for c, m in counts.items()])  # fmt: skip
    out = console(markup=False)
    for note in notes:
        out.print(f"note: {note}")
    out.print(f"sha256 {written.sha256} ({written.size:,} bytes, encrypted)")


@command.command("verify")
@ARCHIVE
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def verify(obj: dict[str, Any], archive: str | None, as_json: bool) -> None:
    """Check that ARCHIVE (default: the newest) is whole and unaltered: its checksum, every
    chunk's authentication and every member against its manifest. Exit 1 if not."""
    with progress(not as_json) as reporter:
        result = backup.verify(find_root(obj.get("repo")), archive, reporter)
    manifest = result.manifest
    if as_json:
        print_json({"archive": result.location or str(result.path), "ok": result.ok,
                    "sha256": result.sha256,
                    "recorded_sha256": result.recorded_sha256, "problems": result.problems,
                    "created": manifest.created if manifest else None,
                    "members": len(manifest.members) if manifest else None,
                    "components": manifest.components if manifest else []})  # fmt: skip
    elif result.ok and manifest is not None:
        console(markup=False).print(
            f"✓ {result.path.name} is intact: {len(manifest.members)} member(s),"
            f" {manifest.size:,} bytes, created {manifest.created}"
        )
    if not result.ok:
        raise BackupError(f"{result.path.name} is damaged: " + "; ".join(result.problems))


@command.command("restore")
@ARCHIVE
@click.option("--apply", "apply_", is_flag=True, help="Restore; without it, only show the plan.")
@click.option("--force", is_flag=True, help="Replace places that are not empty.")
@click.option("--only", "only", multiple=True, type=click.Choice(sorted(COMPONENTS)),
              help="Restore only this part (repeat); the others are left as they are.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_obj
def restore(obj: dict[str, Any], archive: str | None, apply_: bool, force: bool,
            only: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """Put ARCHIVE (default: the newest) back where this checkout's configuration places each
    part (or only the parts --only names). The archive is checked whole first; a place that
    is not empty is refused unless --force; everything is replaced together or nothing is."""
    try:
        with progress(not as_json) as reporter:
            done = backup.restore(find_root(obj.get("repo")), archive, force=force,
                                  apply=apply_, only=frozenset(only) if only else None,
                                  progress=reporter)  # fmt: skip
    except backup.RestoreRefused as refused:
        _report(refused.done, as_json)
        raise
    _report(done, as_json)


def _report(done: backup.Restored, as_json: bool) -> None:
    if as_json:
        print_json({"archive": done.archive.location or str(done.archive.path),
                    "applied": done.applied,
                    "relocated": done.relocated, **done.plan.to_dict()})  # fmt: skip
        return
    _show(done.plan, done.applied, done.archive.path)
    if done.relocated:
        console(markup=False).print(f"{done.relocated} artifact location(s) now point here")


def _show(plan: RestorePlan, applied: bool, archive: Path) -> None:
    title = (f"Restored {archive.name}" if applied
             else f"Plan for {archive.name}: refused, nothing was restored" if plan.refused
             else f"Plan for {archive.name} (run with --apply)")  # fmt: skip
    rows = [(COMPONENTS[s.component], s.location, str(s.files), f"{s.bytes:,}",
             s.action + ("d" if applied and s.action.endswith("e") else ""))
            for s in plan.steps]  # fmt: skip
    print_table(title, ("component", "into", "files", "bytes", "action"), rows)
