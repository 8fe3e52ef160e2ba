"""The pull request report: each model's evaluation published on GitHub (a commit status and a
check run), and the one sticky comment rebuilt from every model's check run on the head commit.
A read-only token (a pull request from a fork) or no token at all: the report is still made,
and says what it skipped."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters import git
from mlops.adapters.github import CHECK_PREFIX, GitHub, GitHubError, repository_name
from mlops.adapters.settings import load_settings
from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import layout
from mlops.core.checks import DEFAULT_APP, trusted_runs
from mlops.core.report import MARKER, comment, model_section
from mlops.core.text_diff import file_diff
from mlops.errors import GitError, InvalidInput, UsageError

FORK_NOTE = (
    "Pull request from a fork: it gets none of the team's secrets, so it was trained and "
    "evaluated in a throw-away tracking store on the runner. Nothing was registered, and no "
    "comparison with production was possible beyond the metrics registry.yaml recorded."
)


@dataclass(frozen=True)
class Report:
    body: str  # the comment's Markdown
    url: str | None  # the comment on GitHub, when posted


def publish_report(
    root: Path, number: int, models: tuple[str, ...], repository: str | None,
    folder: Path | None = None,
) -> Report:  # fmt: skip
    """Publish the evaluations of `models` (default: every one in `folder`, by default the
    ones evaluated on this machine) on pull request `number`, and rebuild its comment."""
    folder = folder or load_settings(root).state_dir / "evaluations"
    evaluations = _evaluations(folder, models)
    notes: list[str] = []
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        notes.append("Not posted to GitHub: no GITHUB_TOKEN (statuses and comment skipped).")
        sections = {name: _section(root, e, None) for name, e in evaluations.items()}
        return Report(comment(sections, notes), None)
    github = GitHub(repository_name(repository), token)
    pr = github.pull_request(number)
    sections = {name: _section(root, e, pr.base_sha) for name, e in evaluations.items()}
    app = _evaluation_app(root)
    if pr.fork:
        notes.append(FORK_NOTE)
    try:
        for name, evaluation in sorted(evaluations.items()):
            _publish_model(github, pr.head_sha, name, evaluation, sections[name], app)
        runs = trusted_runs(github.check_runs(pr.head_sha), app=app, head_sha=pr.head_sha,
                            prefix=CHECK_PREFIX)  # fmt: skip
        for name, run in runs.items():
            sections.setdefault(name, run.summary)
        body = comment(sections, notes)
        return Report(body, github.upsert_comment(number, MARKER, body))
    except GitHubError as exc:
        if not pr.fork:
            raise
        notes.append(f"Not posted to GitHub: pull request from a fork, read-only token ({exc}).")
        return Report(comment(sections, notes), None)


def _evaluation_app(root: Path) -> str:
    """The app whose check runs the comment shows: the platform policy's, as the gate reads it."""
    loaded = load_yaml_file(root / layout.PLATFORM_POLICY, layout.PLATFORM_POLICY, positions=False)
    data = loaded.document.data if loaded.document is not None else None
    app = data.get("evaluation_app") if isinstance(data, dict) else None
    return str(app or DEFAULT_APP)


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
    old = before.decode("utf-8", "replace") if before is not None else None
    return file_diff(path, old, after)


def _publish_model(
    github: GitHub, sha: str, name: str, evaluation: dict[str, Any], section: str, app: str
) -> None:
    decision = evaluation["decision"]
    state = "success" if decision["passed"] else "failure"
    summary = f"v{evaluation['candidate']['version']} {decision['summary']}"
    github.set_status(sha, f"mlops/{name}", state, summary)
    github.put_check_run(
        sha,
        CHECK_PREFIX + name,
        state,
        summary,
        section,
        json.dumps(evaluation, indent=1),
        app=app,
        images=_plot_image(name, evaluation),
    )


def _plot_image(name: str, evaluation: dict[str, Any]) -> list[tuple[str, str]]:
    """The evaluation plot for the check run, when a tracking server serves it over http(s):
    GitHub shows only images it can fetch."""
    url = (evaluation.get("plot") or {}).get("image_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return []
    return [(f"{name}: candidate against production on the holdout", url)]
