"""`mlops validate`: every manifest, the registry and the policies, against schemas and rules."""

from __future__ import annotations

from pathlib import Path

import click

from mlops.adapters import gha
from mlops.adapters.repository import find_root
from mlops.core.bounds import listed, omissions, tally
from mlops.errors import InvalidInput, UsageError
from mlops.flows.repository import check_repository
from mlops.output import print_json


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(obj: dict[str, Path | None], paths: tuple[Path, ...], as_json: bool) -> None:
    """Check manifests, registry.yaml and policies against their schemas and rules.

    Reports every problem as `file:line:col: $.json.path: message`, up to the first 50 of each
    file; a file with more ends with one `file: $: ... and N more error(s) in this file` line,
    and the summary counts them all. PATHS limit the report to those files or folders (default:
    the whole repository). Exit 0 valid, 1 invalid.

    \b
    --json prints one object:
      valid         true when there is no error
      errors        the number of errors (a lower bound when counts_exact is false)
      warnings      the number of warnings
      counts_exact  false when a file had so many schema errors that counting stopped
      files         every file checked
      diagnostics   the listed problems: file, line, column, json_path, severity, message
      truncated     per file with problems left out: file, shown, omitted_errors,
                    omitted_warnings, exact
    """
    root = find_root(obj.get("repo"))
    scopes = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            raise UsageError(f"{path} is outside the repository at {root}")
        scopes.append(resolved.relative_to(root).as_posix())
    check = check_repository(root).within(scopes)
    files, found = check.files, check.diagnostics
    counts = tally(found)
    if gha.in_actions():  # with --json, stdout is the report: annotations go to stderr
        for diagnostic in found:
            gha.annotate(diagnostic, title="mlops validate", stderr=as_json)
    if as_json:
        print_json(
            {
                "valid": counts.errors == 0,
                "errors": counts.errors,
                "warnings": counts.warnings,
                "counts_exact": counts.exact,
                "files": files,
                "diagnostics": [d.to_dict() for d in listed(found)],
                "truncated": [o.summary() for o in omissions(found)],
            }
        )
    else:
        for diagnostic in found:
            click.echo(diagnostic.render())
    if counts.errors or not counts.exact:
        at_least = "" if counts.exact else "at least "
        raise InvalidInput(
            f"{at_least}{counts.errors} error(s) in {counts.files_with_errors} of "
            f"{len(files)} file(s)"
        )
    if not as_json:
        warned = f", {counts.warnings} warning(s)" if counts.warnings else ""
        click.secho(f"✓ {len(files)} file(s) valid{warned}", fg="green", err=True)
