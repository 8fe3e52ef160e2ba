"""`mlops github doctor|setup`: the repository's GitHub settings, checked and made from code.

`doctor` checks what the GitOps loop relies on (branch protection requiring the merge gate's
check and code-owner reviews, the environments, the variables and secrets the workflows read,
an online deploy runner) and that the configured services answer; it exits 1 when anything
required is missing, each line saying what to do. `setup` prints the settings changes that
would make doctor pass and makes them with `--apply`; secrets, variables without a configured
value and runners stay for a person, listed. A second `setup --apply` has nothing to do.
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.github_settings import Finding
from mlops.errors import MlopsError
from mlops.flows.github_settings import Setup, doctor, setup
from mlops.output import console, print_json, print_table

MARKS = {True: "✓", False: "✗", None: "–"}
repository_option = click.option(
    "--repository", help="OWNER/NAME on GitHub (default: GITHUB_REPOSITORY)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group("github")
def command() -> None:
    """Check (doctor) and make (setup) the repository's GitHub settings."""


@command.command("doctor", short_help="Check what the GitOps loop relies on.")
@repository_option
@json_option
@click.pass_obj
def doctor_command(obj: dict[str, Any], repository: str | None, as_json: bool) -> None:
    """Check the settings and services the GitOps loop relies on; exit 1 if any is missing."""
    result = doctor(find_root(obj.get("repo")), repository)
    if as_json:
        print_json(result.to_dict())
    else:
        rows = [(f.requirement, MARKS[f.ok], f.detail, f.fix) for f in result.findings]
        print_table(f"GitHub settings of {result.repository}",
                    ("requirement", "ok", "detail", "what to do"), rows)  # fmt: skip
    missing = [f for f in result.findings if f.required and f.ok is False]
    if missing:
        fixable = sum(f.by_setup for f in missing)
        hint = f"`mlops github setup --apply` fixes {fixable} of them" if fixable else None
        raise MlopsError(f"{len(missing)} requirement(s) missing on {result.repository}",
                         hint=hint)  # fmt: skip
    if not as_json:
        console().print(f"✓ {result.repository} has everything the GitOps loop relies on",
                        markup=False)  # fmt: skip


@command.command("setup", short_help="Plan the settings changes; --apply makes them.")
@repository_option
@click.option("--apply", "apply", is_flag=True, help="Make the changes (default: print them).")
@json_option
@click.pass_obj
def setup_command(obj: dict[str, Any], repository: str | None, apply: bool, as_json: bool) -> None:
    """Print the settings changes the loop needs; --apply makes them (idempotent)."""
    result = setup(find_root(obj.get("repo")), repository, apply=apply)
    if as_json:
        print_json(result.to_dict())
    else:
        _show(result)


def _show(result: Setup) -> None:
    if result.changes:
        title = "Changed" if result.applied else "Plan (run with --apply to make these changes)"
        rows = [(c.setting, c.action, c.detail) for c in result.changes]
        print_table(f"{title}: {result.repository}", ("setting", "change", "detail"), rows)
    else:
        console().print(f"✓ nothing to change: {result.repository}'s settings are as needed",
                        markup=False)  # fmt: skip
    if result.manual:
        console().print("A person must (setup never invents secrets or values, or starts runners):")
        for finding in result.manual:
            console().print(_manual_line(finding), markup=False, soft_wrap=True)


def _manual_line(finding: Finding) -> str:
    return f"  ✗ {finding.requirement}: {finding.detail} -> {finding.fix}"
