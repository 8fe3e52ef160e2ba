"""`mlops report`: publish the evaluations of a pull request's models on GitHub.

Per model (from `.mlops/evaluations/NAME.json`): a commit status with the verdict and a check
run carrying the model's report section and its evaluation record. Then the one sticky comment
is rebuilt from every model's check run on the head commit, so matrix jobs that each report
one model, and a final run that reports none, all converge on the same complete comment. The
job summary gets the same Markdown. A read-only token (pull requests from forks) or no token
at all: the summary is still written, and the report says what it skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters import gha
from mlops.adapters.github import event_pull_number
from mlops.adapters.repository import find_root
from mlops.errors import UsageError
from mlops.flows.report import publish_report
from mlops.output import console


@click.command("report")
@click.option("--pr", "number", type=int, help="Pull request number (default: from the event).")
@click.option("--model", "models", multiple=True, help="Report only these models' evaluations.")
@click.option("--repository", help="OWNER/NAME (default: GITHUB_REPOSITORY).")
@click.option(
    "--evaluations", "folder", type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Where `mlops evaluate --output` left the records (e.g. a downloaded workflow "
    "artifact); default: the ones evaluated on this machine.",
)  # fmt: skip
@click.pass_obj
def command(
    obj: dict[str, Any], number: int | None, models: tuple[str, ...], repository: str | None,
    folder: Path | None,
) -> None:  # fmt: skip
    """Post the evaluations on the pull request: statuses, check runs, one sticky comment."""
    root = find_root(obj.get("repo"))
    number = number or event_pull_number()
    if number is None:
        raise UsageError("no pull request: pass --pr N (or run on a pull_request event)")
    report = publish_report(root, number, models, repository, folder)
    if gha.in_actions():
        gha.append_summary(report.body)
    click.echo(report.body, nl=False)
    if report.url:
        console(stderr=True).print(f"Report: {report.url}")
