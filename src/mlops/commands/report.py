"""`mlops report`: publish the evaluations of a pull request's models on GitHub.

Per model (from `.mlops/evaluations/NAME.json`): a commit status with the verdict and a check
run carrying the model's report section and its evaluation record. Then the one sticky comment
is rebuilt from every model's check run on the head commit, so matrix jobs that each report
one model, and a final run that reports none, all converge on the same complete comment. The
job summary gets the same Markdown. A read-only token (pull requests from forks) or no token
at all: the summary is still written, and the report says what it skipped.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import click

from mlops.adapters import gha, git
from mlops.adapters.github import CHECK_PREFIX, GitHub, GitHubError, event_pull_number
from mlops.adapters.github import repository_name as resolve_repository
from mlops.adapters.repository import find_root
from mlops.adapters.settings import load_settings
from mlops.core import layout
from mlops.core.report import MARKER, comment, model_section
from mlops.errors import GitError, InvalidInput, UsageError
from mlops.output import console


@click.command("report")
@click.option("--pr", "number", type=int, help="Pull request number (default: from the event).")
@click.option("--model", "models", multiple=True, help="Report only these models' evaluations.")
@click.option("--repository", help="OWNER/NAME (default: GITHUB_REPOSITORY).")
@click.pass_obj
def command(
    obj: dict[str, Any], number: int | None, models: tuple[str, ...], repository: str | None
) -> None:
    """Post the evaluations on the pull request: statuses, check runs, one sticky comment."""
    root = find_root(obj.get("repo"))
    number = number or event_pull_number()
    if number is None:
        raise UsageError("no pull request: pass --pr N (or run on a pull_request event)")
    evaluations = _evaluations(load_settings(root).state_dir / "evaluations", models)
    notes: list[str] = []
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        notes.append("Not posted to GitHub: no GITHUB_TOKEN (statuses and comment skipped).")
        sections = {name: _section(root, e, None) for name, e in evaluations.items()}
        _finish(comment(sections, notes))
        return
    github = GitHub(resolve_repository(repository), token)
    pr = github.pull_request(number)
    sections = {name: _section(root, e, pr.base_sha) for name, e in evaluations.items()}
    try:
        for name, evaluation in sorted(evaluations.items()):
            _publish_model(github, pr.head_sha, name, evaluation, sections[name])
        for run in github.check_runs(pr.head_sha):
            sections.setdefault(run.name.removeprefix(CHECK_PREFIX), run.summary)
        body = comment(sections, notes)
        url = github.upsert_comment(number, MARKER, body)
    except GitHubError as exc:
        if not pr.fork:
            raise
        notes.append(f"Not posted to GitHub: pull request from a fork, read-only token ({exc}).")
        body = comment(sections, notes)
        url = None
    _finish(body)
    if url:
        console(stderr=True).print(f"Report: {url}")


def _evaluations(folder: Path, models: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    names = list(models) or sorted(p.stem for p in folder.glob("*.json"))
    found = {}
    for name in names:
        path = folder / f"{name}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(
                f"no evaluation of {name}: run `mlops evaluate {name}` first"
            ) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{path}: not an evaluation record: {exc}") from None
        if not isinstance(data, dict) or data.get("model") != name or "decision" not in data:
            raise InvalidInput(f"{path}: not an evaluation record of {name}")
        found[name] = data
    return found


def _section(root: Path, evaluation: dict[str, Any], base_sha: str | None) -> str:
    return model_section(evaluation, _card_diff(root, evaluation["model"], base_sha))


def _card_diff(root: Path, name: str, base_sha: str | None) -> str | None:
    """The model card's diff against the pull request's base (None: base not available)."""
    path = f"{layout.model_dir(name)}/MODEL_CARD.md"
    if base_sha is None:
        return None
    try:
        before = git.read_files(root, base_sha, [path])[path]
    except GitError:  # the base commit is not in this clone (a shallow checkout)
        return None
    after_path = root / path
    after = after_path.read_text(encoding="utf-8") if after_path.exists() else ""
    old = before.decode("utf-8", "replace") if before is not None else ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(lines)


def _publish_model(
    github: GitHub, sha: str, name: str, evaluation: dict[str, Any], section: str
) -> None:
    decision = evaluation["decision"]
    state = "success" if decision["passed"] else "failure"
    summary = f"v{evaluation['candidate']['version']} {decision['summary']}"
    github.set_status(sha, f"mlops/{name}", state, summary)
    github.put_check_run(
        sha, CHECK_PREFIX + name, state, summary, section, json.dumps(evaluation, indent=1)
    )


def _finish(body: str) -> None:
    if gha.in_actions():
        gha.append_summary(body)
    click.echo(body, nl=False)
