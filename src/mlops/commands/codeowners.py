"""`mlops codeowners`: write .github/CODEOWNERS from the owners in the manifests and policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters import atomic
from mlops.adapters.repository import find_root
from mlops.core.codeowners import CODEOWNERS_PATH
from mlops.core.text_diff import file_diff
from mlops.flows.codeowners import SHADOWED, generate, syntax_problems
from mlops.flows.generated_files import read_committed, stale
from mlops.output import print_json


@click.command("codeowners")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the file is out of date.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print {path, current} (and written) as JSON."
)
@click.pass_obj
def command(obj: dict[str, Any], check: bool, as_json: bool) -> None:
    """Generate .github/CODEOWNERS from model owners and the platform owners.

    Each model's `owners` (models/NAME/model.yaml) own its folder; the platform owners
    (policies/platform.yaml) own everything else, including policies/, registry.yaml,
    .github/, src/ and the shared paths. With --check nothing is written: exit 0 when the
    file is current, 1 with a diff when it is not.
    """
    root = find_root(obj.get("repo"))
    wanted = generate(root)
    current = read_committed(root, CODEOWNERS_PATH)
    is_current = current == wanted
    diff = "" if is_current else file_diff(CODEOWNERS_PATH, current, wanted)
    if check:
        if as_json:
            print_json({"path": CODEOWNERS_PATH, "current": is_current})
        elif diff:
            click.echo(diff, nl=False)
        if is_current:
            if not as_json:
                click.secho(f"✓ {CODEOWNERS_PATH} is current", fg="green", err=True)
            return
        for problem in syntax_problems(current):
            click.echo(problem, err=True)
        out_of_date = "is out of date with the model owners"
        raise stale(CODEOWNERS_PATH, current, out_of_date, "codeowners", as_json=as_json)
    if not is_current:
        atomic.write_text(root / CODEOWNERS_PATH, wanted)
    if as_json:
        print_json({"path": CODEOWNERS_PATH, "current": is_current, "written": not is_current})
        return
    _say_what_changed(root, current, is_current, diff)


def _say_what_changed(root: Path, current: str | None, is_current: bool, diff: str) -> None:
    if is_current:
        click.secho(f"✓ {CODEOWNERS_PATH} is current; nothing written", fg="green", err=True)
        return
    click.echo(diff, nl=False)
    lines = diff.splitlines()[2:]
    added = sum(line.startswith("+") for line in lines)
    removed = sum(line.startswith("-") for line in lines)
    verb = "created" if current is None else "updated"
    summary = f"✓ {verb} {CODEOWNERS_PATH}: {added} line(s) added, {removed} removed"
    click.secho(summary, fg="green", err=True)
    for problem in syntax_problems(current):
        click.echo(f"replaced a line GitHub refused: {problem}", err=True)
    for other in SHADOWED:
        if (root / other).is_file():
            click.echo(f"note: GitHub now ignores {other}: {CODEOWNERS_PATH} comes first", err=True)
