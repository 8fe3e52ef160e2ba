"""`mlops catalogue`: the model catalogue as a static site, from the repository and what the
services it uses can tell.

Git alone gives each model's card, owners, stages, versions with metrics and the main line's
deploys and rollbacks. GitHub (GITHUB_TOKEN and GITHUB_REPOSITORY) adds when each pull request
was opened, its deployment records and the alert issues monitoring opened; the tracking store
adds the latest batch scoring and monitoring runs. A source that cannot be read is named on
the page with the reason, and what only it could tell is shown as unknown, never as zero.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.adapters import git
from mlops.adapters.settings import load_settings
from mlops.core import alerts, layout, overview
from mlops.core.batch import EXPERIMENT_PREFIX as BATCH_PREFIX
from mlops.core.catalog import ModelSummary
from mlops.core.history import Entry
from mlops.core.stages import PRODUCTION
from mlops.errors import MlopsError
from mlops.flows import history
from mlops.flows.catalog import summaries_of
from mlops.flows.repository import check_repository, registry_models, require_shared_files

if TYPE_CHECKING:
    from mlops.adapters.github_records import GitHubRecords

MONITOR_PREFIX = "monitor/"  # mlops.flows.monitoring's experiments (kept light: no import)
CARD = "MODEL_CARD.md"


@dataclass
class Run:
    """A model's latest batch scoring or monitoring run (None fields: not read)."""

    run: dict[str, Any] | None = None
    unavailable: str | None = None  # why it could not be read


@dataclass
class ModelPage:
    summary: ModelSummary
    entry: dict[str, Any]
    card: str | None  # the card's Markdown
    moves: list[overview.Move] = field(default_factory=list)
    batch: Run = field(default_factory=Run)
    monitoring: Run = field(default_factory=Run)


@dataclass
class Catalogue:
    models: list[ModelPage]
    overview: overview.Overview
    generated: datetime
    commit: str | None
    sources: dict[str, str]  # source -> what was read, or "not available: why"
    repository: str | None = None  # OWNER/NAME on GitHub
    server: str = "https://github.com"


def gather(root: Path, ref: str = "HEAD", repository: str | None = None,
           tracking: bool = True) -> Catalogue:  # fmt: skip
    """Everything the site shows. Refuses (InvalidInput naming the file) when registry.yaml
    or a policy does not parse or is invalid."""
    check = check_repository(root)
    require_shared_files(check, "rendered")
    registry = registry_models(check)
    pages = []
    for summary in summaries_of(check):
        entry = registry.get(summary.name)
        card = root / layout.model_dir(summary.name) / CARD
        text = card.read_text(encoding="utf-8") if card.is_file() else None
        pages.append(ModelPage(summary, entry if isinstance(entry, dict) else {}, text))
    sources: dict[str, str] = {}
    notes: list[str] = []
    commit = _commit(root, sources)
    github = _github(repository, sources)
    if commit is not None:
        for page in pages:
            page.moves = _moves(root, page.summary.name, ref, repository, github, notes)
    incidents = _incidents(github, sources)
    if tracking:
        _runs(root, pages, sources)
    else:
        sources["tracking"] = "not available: not read (--no-tracking)"
    moves = [m for page in pages for m in page.moves]
    found = overview.overview(moves, incidents, list(dict.fromkeys(notes)))
    server = os.environ.get("GITHUB_SERVER_URL") or "https://github.com"
    name = repository or os.environ.get("GITHUB_REPOSITORY") or None
    return Catalogue(pages, found, datetime.now(UTC), commit, sources, name, server.rstrip("/"))


def _commit(root: Path, sources: dict[str, str]) -> str | None:
    try:
        commit = git.head_commit(root)
    except MlopsError as exc:
        sources["git"] = f"not available: {exc.message} (no deploy or rollback history)"
        return None
    sources["git"] = f"main-line history of registry.yaml up to {commit[:12]}"
    return commit


def _github(repository: str | None, sources: dict[str, str]) -> GitHubRecords | None:
    name = repository or os.environ.get("GITHUB_REPOSITORY")
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not name or not token:
        sources["github"] = ("not available: set GITHUB_TOKEN and GITHUB_REPOSITORY (or"
                             " --repository) to read pull requests, deployments and alert"
                             " issues")  # fmt: skip
        return None
    from mlops.adapters.github_records import GitHubRecords

    sources["github"] = f"pull requests, deployment records and alert issues of {name}"
    return GitHubRecords(name, token)


def _moves(root: Path, model: str, ref: str, repository: str | None,
           github: GitHubRecords | None, notes: list[str]) -> list[overview.Move]:  # fmt: skip
    try:
        found = history.read(root, model, PRODUCTION, ref, repository,
                             with_github=github is not None)  # fmt: skip
    except MlopsError as exc:  # not in registry.yaml's history yet, or GitHub failed
        if "is not in the history" in exc.message:
            return []
        if github is None:
            notes.append(f"{model}: history not read: {exc.message}")
            return []
        # GitHub failed: git still knows every deploy and rollback, without their PRs.
        notes.append(f"{model}: GitHub's records not read ({exc.message}); from git alone")
        return _moves(root, model, ref, None, None, notes)
    notes.extend(n for n in found.notes if not n.startswith("pull requests, approvals"))
    by_commit = {e.change.commit: e for e in found.entries}
    out = []
    for move in overview.moves(model, [e.change for e in found.entries]):
        out.append(_joined(move, by_commit[move.commit], github, notes))
    return out


def _joined(move: overview.Move, entry: Entry, github: GitHubRecords | None,
            notes: list[str]) -> overview.Move:  # fmt: skip
    deployed = [d.time for d in entry.deployments if d.state == "success"]
    pull = entry.reviews[0].pull if entry.reviews else None
    created = None
    if github is not None and pull is not None:
        try:
            created = github.pull_created(pull)
        except MlopsError as exc:
            notes.append(f"pull request #{pull}: {exc.message}")
    return replace(move, pull=pull, pull_created=created,
                   deployed=min(deployed) if deployed else None)  # fmt: skip


def _incidents(github: GitHubRecords | None, sources: dict[str, str]
               ) -> list[overview.Incident] | None:  # fmt: skip
    if github is None:
        return None
    try:
        issues = github.alert_issues(alerts.LABEL)
    except MlopsError as exc:
        sources["github"] = f"not available: {exc.message}"
        return None
    found = (overview.incident_of(alerts.key_of(i["body"]), i["number"], i["title"],
                                  i["opened"], i["closed"], i["url"]) for i in issues)  # fmt: skip
    return [i for i in found if i is not None]


def _runs(root: Path, pages: list[ModelPage], sources: dict[str, str]) -> None:
    from mlops.adapters.run_records import RunRecords

    records = RunRecords(load_settings(root))
    if records.unavailable is not None:
        sources["tracking"] = f"not available: {records.unavailable}"
        for page in pages:
            page.batch = page.monitoring = Run(None, records.unavailable)
        return
    sources["tracking"] = "latest batch scoring and monitoring runs of the tracking store"
    for page in pages:
        name = page.summary.name
        page.batch = _latest(records.latest, f"{BATCH_PREFIX}{name}")
        page.monitoring = _latest(records.latest, f"{MONITOR_PREFIX}{name}")


def _latest(read: Callable[[str], dict[str, Any] | None], experiment: str) -> Run:
    try:
        return Run(read(experiment))
    except MlopsError as exc:
        return Run(None, exc.message)


def production_version(page: ModelPage) -> str | None:
    value = page.summary.stages.get(PRODUCTION)
    return None if value is None else str(value)
