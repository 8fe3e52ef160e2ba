"""`mlops validate`: every manifest, the registry and the policies, against schemas and rules."""

from __future__ import annotations

from pathlib import Path

import click

from mlops.adapters import gha
from mlops.adapters.repository import find_root
from mlops.errors import InvalidInput, UsageError
from mlops.flows.repository import check_repository
from mlops.output import print_json


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(obj: dict[str, Path | None], paths: tuple[Path, ...], as_json: bool) -> None:
    """Check manifests, registry.yaml and policies against their schemas and rules.

    Reports every problem as `file:line:col: $.json.path: message`. PATHS limit the report to
    those files or folders (default: the whole repository). Exit 0 valid, 1 invalid.
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
    errors = sum(d.severity == "error" for d in found)
    warnings = len(found) - errors
    if gha.in_actions():  # with --json, stdout is the report: annotations go to stderr
        for diagnostic in found:
            gha.annotate(diagnostic, title="mlops validate", stderr=as_json)
    if as_json:
        print_json(
            {
                "valid": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "files": files,
                "diagnostics": [d.to_dict() for d in found],
            }
        )
    else:
        for diagnostic in found:
            click.echo(diagnostic.render())
    if errors:
        bad_files = len({d.file for d in found if d.severity == "error"})
        raise InvalidInput(f"{errors} error(s) in {bad_files} of {len(files)} file(s)")
    if not as_json:
        warned = f", {warnings} warning(s)" if warnings else ""
        click.secho(f"✓ {len(files)} file(s) valid{warned}", fg="green", err=True)
