"""`mlops erase`: remove one data subject's rows from a model's logs and batch files, and say
where else that subject's data may live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core import erasure as rules
from mlops.flows import erasure
from mlops.output import console, print_json


@click.command("erase")
@click.argument("name")
@click.option("--subject", "subject_id", required=True,
              help="The data subject's ID (compliance.subject_id_field).")  # fmt: skip
@click.option("--apply", "apply_", is_flag=True,
              help="Remove the rows; without it, only show the plan.")  # fmt: skip
@click.option("--logs", type=click.Path(file_okay=False, path_type=Path),
              help="The prediction-log folder (default: this deploy host's).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and what was erased).")
@click.pass_obj
def command(obj: dict[str, Any], name: str, subject_id: str, apply_: bool, logs: Path | None,
            as_json: bool) -> None:  # fmt: skip
    """Show, and with --apply remove, the rows of data subject ID in NAME's prediction logs
    (JSON lines and Parquet), the labels attached to them, the published batch outputs and
    their quarantine files.

    The subject is found by the manifest's compliance.subject_id_field; where the logs hold
    it as a keyed hash, MLOPS_SERVE_PII_KEY must be the servers' key. A log a server still
    appends to (today's) is not rewritten: its rows are listed as pending, with the time
    after which a new run removes them. Lines that are not records are kept and named.
    Training data, model versions, batch inputs and backups are listed with what to do.
    """
    root = find_root(obj.get("repo"))
    result = erasure.erase(root, name, subject_id, logs, apply_)
    if as_json:
        print_json(result.as_dict())
        return
    _print(result, root)


def _shown(path: str, *bases: Path) -> str:
    """A file as a path relative to the log folder or the repository, where it is in one."""
    for base in bases:
        if Path(path).is_relative_to(base):
            return str(Path(path).relative_to(base))
    return path


def _print(result: erasure.Erasure, root: Path) -> None:
    from rich.table import Table

    out = console(markup=False)
    found = [p for p in result.places if p.rows or p.unjudged or p.broken]
    if found:
        table = Table(
            title=f"Rows of {result.subject_field} = {result.subject} ({result.model}),"
            f" logs in {result.logs}"
        )
        for column in ("place", "file", "rows", "action", "note"):
            table.add_column(column, overflow="fold")
        for place in found:
            note = place.note + (f"; {place.unjudged} row(s) cannot be judged"
                                 if place.unjudged else "")  # fmt: skip
            table.add_row(place.kind, _shown(place.path, result.logs, root), str(place.rows),
                          place.action,
                          note.lstrip("; "))  # fmt: skip
        out.print(table)
        for place in found:
            for line in place.broken_lines:
                out.print(f"not a record, kept: {line}", soft_wrap=True)
    else:
        out.print(f"no rows of {result.subject_field} = {result.subject} in {len(result.places)}"
                  f" file(s) of {result.model}'s logs and batch files")  # fmt: skip
    for note in result.notes:
        out.print(f"note: {note}", soft_wrap=True)
    totals = rules.summary(result.places)
    if totals.get(rules.ERASED):
        out.print(f"erased {totals[rules.ERASED]} row(s)")
    if totals.get(rules.ERASE):
        out.print(f"{totals[rules.ERASE]} row(s) would be erased: run again with --apply")
    if totals.get(rules.PENDING):
        out.print(f"{totals[rules.PENDING]} row(s) are pending in logs still written to")
    out.print("where else this subject's data may live:")
    for item in result.elsewhere:
        out.print(f"- {item.what}: {item.where}: {item.action}", soft_wrap=True)
