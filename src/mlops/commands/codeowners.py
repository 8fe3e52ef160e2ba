"""`mlops codeowners`: .github/CODEOWNERS generated from the model and platform owners."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import click

from mlops.adapters import atomic, gha
from mlops.adapters.repository import find_root, model_folders
from mlops.adapters.schemas import SchemaSet, load_schemas
from mlops.commands.validate import check_manifests, load_checked
from mlops.core import layout
from mlops.core.codeowners import CODEOWNERS_PATH, CodeownersError, parse_rules, render
from mlops.core.diagnostics import Diagnostic, has_errors, sorted_diagnostics
from mlops.core.document import Document
from mlops.errors import InvalidInput, MlopsError
from mlops.output import print_json

# GitHub reads the first of these that exists; ours shadows the other two.
SHADOWED = ("CODEOWNERS", "docs/CODEOWNERS")


def generate(root: Path, *, as_json: bool = False) -> str:
    """The CODEOWNERS text for the repository; InvalidInput names every file that is in the way."""
    schemas = load_schemas(root)
    problems = list(schemas.diagnostics)
    owners: dict[str, list[str]] = {}
    for model, document, found in check_manifests(root, model_folders(root), schemas):
        problems += found
        if document is not None:
            owners[model] = list(document.get(("owners",), []))
    platform, found = _platform(root, schemas)
    problems += found
    errors = [d for d in sorted_diagnostics(problems) if d.severity == "error"]
    if errors or platform is None:
        _report(errors, as_json=as_json)
        files = ", ".join(dict.fromkeys(d.file for d in errors)) or layout.PLATFORM_POLICY
        raise InvalidInput(
            f"cannot generate {CODEOWNERS_PATH}: {files} failed to load or validate",
            hint="fix the errors above (`mlops validate` shows them all)",
        )
    try:
        return render(
            owners,
            platform.get(("platform_owners",), []),
            platform.get(("shared_paths",), []),
        )
    except CodeownersError as exc:
        raise MlopsError(f"cannot generate {CODEOWNERS_PATH}: {exc}") from None


def _platform(root: Path, schemas: SchemaSet) -> tuple[Document | None, list[Diagnostic]]:
    compiled = schemas.schemas.get("platform")

    def check(document: Document) -> list[Diagnostic]:
        return compiled.diagnostics(document) if compiled is not None else []

    path = layout.PLATFORM_POLICY
    document, problems = load_checked(root / path, path, check)
    if document is None and not has_errors(problems):
        problems.append(Diagnostic(path, (), "cannot be read"))
    return document, problems


def _report(diagnostics: list[Diagnostic], *, as_json: bool = False) -> None:
    for diagnostic in diagnostics:
        click.echo(diagnostic.render(), err=True)
        if gha.in_actions():
            gha.annotate(diagnostic, title="mlops codeowners", stderr=as_json)


def read_current(root: Path) -> str | None:
    """The committed file's text, or None when there is none (or it is not UTF-8 text)."""
    try:
        return (root / CODEOWNERS_PATH).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return ""


def unified_diff(current: str | None, wanted: str) -> str:
    before = "/dev/null" if current is None else f"a/{CODEOWNERS_PATH}"
    lines = difflib.unified_diff(
        (current or "").splitlines(keepends=True),
        wanted.splitlines(keepends=True),
        before,
        f"b/{CODEOWNERS_PATH}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _syntax_problems(current: str | None) -> list[str]:
    if not current:
        return []
    try:
        parse_rules(current)
    except CodeownersError as exc:
        return exc.problems
    return []


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
    wanted = generate(root, as_json=as_json)
    current = read_current(root)
    is_current = current == wanted
    diff = "" if is_current else unified_diff(current, wanted)
    if check:
        if as_json:
            print_json({"path": CODEOWNERS_PATH, "current": is_current})
        elif diff:
            click.echo(diff, nl=False)
        if is_current:
            if not as_json:
                click.secho(f"✓ {CODEOWNERS_PATH} is current", fg="green", err=True)
            return
        for problem in _syntax_problems(current):
            click.echo(problem, err=True)
        state = "is missing" if current is None else "is out of date with the model owners"
        message = f"{CODEOWNERS_PATH} {state}"
        if gha.in_actions():  # on the file itself; with --json, stdout stays JSON
            stale = Diagnostic(CODEOWNERS_PATH, (), f"{message}: run `mlops codeowners`")
            gha.annotate(stale, title="mlops codeowners", stderr=as_json)
        raise InvalidInput(message, hint="run `mlops codeowners`")
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
    for problem in _syntax_problems(current):
        click.echo(f"replaced a line GitHub refused: {problem}", err=True)
    for other in SHADOWED:
        if (root / other).is_file():
            click.echo(f"note: GitHub now ignores {other}: {CODEOWNERS_PATH} comes first", err=True)
