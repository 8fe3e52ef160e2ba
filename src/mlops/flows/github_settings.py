"""`mlops github doctor` and `mlops github setup`: the repository's GitHub settings as code.

The workflows (`.github/workflows/*.yml`) say what the loop reads from the settings
(`core.workflows`); `[tool.mlops.github]` and the platform owners say the rest
(`adapters.settings`); GitHub says what is there (`adapters.github_settings`). The comparison
is `core.github_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters.dvc import describe_remote
from mlops.adapters.github import GitHub, repository_name
from mlops.adapters.github_settings import RepositorySettings
from mlops.adapters.settings import Settings, load_settings
from mlops.adapters.tracking import check_server, public_uri
from mlops.adapters.yaml_files import load_yaml_file, parse_yaml_text
from mlops.core import layout
from mlops.core.diagnostics import Diagnostic, sorted_diagnostics
from mlops.core.document import Document
from mlops.core.github_settings import (
    Change,
    Desired,
    Finding,
    Observed,
    failed,
    findings,
    plan,
)
from mlops.core.stages import ENVIRONMENTS, PRODUCTION
from mlops.core.workflows import WorkflowNeeds, workflow_needs
from mlops.errors import InvalidInput, MlopsError

WORKFLOWS_DIR = ".github/workflows"


def _ignored(diagnostic: Diagnostic) -> bool:
    """GitHub reads a workflow's `on:` as the key "on", not YAML 1.1's boolean true."""
    return diagnostic.path == ("on",) and diagnostic.message.startswith("key on is read as")


def read_workflows(texts: Mapping[str, str]) -> WorkflowNeeds:
    """What the workflows (repository path -> text) need from the settings; InvalidInput
    naming every file, line and column that cannot be understood."""
    documents: list[Document] = []
    problems: list[Diagnostic] = []
    for path, text in sorted(texts.items()):
        loaded = parse_yaml_text(text, path)
        problems += [d for d in loaded.diagnostics if not _ignored(d)]
        if loaded.document is not None:
            documents.append(loaded.document)
    needs = workflow_needs(documents)
    errors = [d for d in sorted_diagnostics([*problems, *needs.diagnostics])
              if d.severity == "error"]  # fmt: skip
    if errors:
        files = ", ".join(dict.fromkeys(d.file for d in errors))
        raise InvalidInput(
            f"cannot tell what the workflows need: {files} cannot be understood",
            hint="fix the lines above",
            diagnostics=errors,
        )
    return needs


def load_workflows(root: Path) -> WorkflowNeeds:
    """`read_workflows` of every `.yml` and `.yaml` file in .github/workflows/."""
    folder = root / WORKFLOWS_DIR
    paths = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []
    texts = {}
    for path in paths:
        display = f"{WORKFLOWS_DIR}/{path.name}"
        try:
            texts[display] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{display}: cannot read the workflow: {exc}") from None
    return read_workflows(texts)


@dataclass
class Doctor:
    """Every requirement checked, with what to do about each."""

    repository: str
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not failed(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"repository": self.repository, "ok": self.ok,
                "findings": [f.to_dict() for f in self.findings]}  # fmt: skip


@dataclass
class Setup:
    """The changes planned (and with `applied`, made) and what is left for a person."""

    repository: str
    changes: list[Change]
    applied: bool
    manual: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "applied": self.applied,
            "changes": [c.to_dict() for c in self.changes],
            "manual": [f.to_dict() for f in self.manual],
        }


def desired(root: Path, settings: Settings, needs: WorkflowNeeds) -> Desired:
    """What the workflows and `[tool.mlops.github]` ask of the repository's settings."""
    config = settings.github
    environments = tuple(dict.fromkeys([*ENVIRONMENTS, *needs.environments]))
    reviewers = config.production_reviewers
    if reviewers is None:
        reviewers = platform_owners(root)
    variables = {name: config.variables.get(name) for name in needs.variables}
    return Desired(
        branch=config.branch,
        gate_check=config.gate_check or (needs.gate_checks[0] if needs.gate_checks else None),
        environments=environments,
        reviewed=(PRODUCTION,),
        reviewers=tuple(reviewers),
        variables=variables,
        secrets=tuple(needs.secrets),
        runners=tuple(needs.runners),
        runner_label=config.deploy_runner,
        optional=frozenset(config.optional),
    )


def platform_owners(root: Path) -> tuple[str, ...]:
    """The platform owners of policies/platform.yaml (none when it cannot be read)."""
    loaded = load_yaml_file(root / layout.PLATFORM_POLICY, layout.PLATFORM_POLICY)
    owners = loaded.document.get(("platform_owners",), []) if loaded.document else []
    return tuple(o for o in owners if isinstance(o, str)) if isinstance(owners, list) else ()


def _observe(
    root: Path, settings: Settings, repository: str | None
) -> tuple[Desired, Observed, RepositorySettings]:
    wanted = desired(root, settings, load_workflows(root))
    access = RepositorySettings(GitHub(repository_name(repository)))
    return wanted, _read(access, wanted), access


def _read(access: RepositorySettings, wanted: Desired) -> Observed:
    return access.read(wanted.branch, wanted.environments, runners=bool(wanted.runners))


def doctor(root: Path, repository: str | None = None) -> Doctor:
    """Check on GitHub what the loop relies on, and locally that its services answer."""
    settings = load_settings(root)
    wanted, observed, access = _observe(root, settings, repository)
    return Doctor(access.name, findings(wanted, observed) + local_findings(root, settings))


def setup(root: Path, repository: str | None = None, *, apply: bool = False) -> Setup:
    """Plan (and with `apply`, make) the settings changes; list what a person must do.
    After applying, GitHub is read again: a change it did not keep is an error."""
    wanted, observed, access = _observe(root, load_settings(root), repository)
    changes = plan(wanted, observed)
    if apply and changes:
        for change in changes:
            access.apply(change, observed)
        left = plan(wanted, _read(access, wanted))
        if left:
            shown = "; ".join(f"{c.setting}: {c.detail}" for c in left)
            raise MlopsError(f"GitHub did not keep every change: {shown}")
    manual = [f for f in findings(wanted, observed) if f.ok is False and not f.by_setup]
    return Setup(access.name, changes, apply, manual)


def local_findings(root: Path, settings: Settings) -> list[Finding]:
    """Whether the services this machine is configured with answer: the MLflow tracking
    server is asked for /health; reaching the DVC remote and the image registry needs their
    credentials, so they are named, not checked."""
    uri = public_uri(settings.tracking_uri)
    found = []
    if settings.tracking_uri.startswith(("http://", "https://")):
        try:
            check_server(settings.tracking_uri)
            found.append(Finding("MLflow tracking server answers", True, f"{uri}/health",
                                 "nothing"))  # fmt: skip
        except MlopsError as exc:
            found.append(Finding("MLflow tracking server answers", False, exc.message,
                                 "start it, or point MLFLOW_TRACKING_URI (or [tool.mlops] "
                                 "tracking_uri) at one that runs"))  # fmt: skip
    else:
        found.append(Finding("MLflow tracking server answers", None,
                             f"not checked: the embedded store {uri} is a local file",
                             "nothing", required=False))  # fmt: skip
    if settings.data_remote is not None:
        remote = f"{settings.data_remote.url} (configured for this checkout)"
    else:
        remote = describe_remote(root) if (root / ".dvc").is_dir() else "no .dvc/ here"
    found.append(Finding("DVC remote answers", None, f"not checked: {remote}",
                         "run `dvc status --cloud` to reach it", required=False))  # fmt: skip
    registry = settings.deploy.registry
    where = (
        f"images go to {registry} ({settings.deploy.registry_setting})"
        if registry
        else "no registry is configured: images stay on the engine that built them"
    )
    found.append(Finding("image registry answers", None, f"not checked: {where}",
                         "a login on the deploy runner (`docker login`, or "
                         "MLOPS_REGISTRY_USERNAME/PASSWORD)" if registry else "nothing",
                         required=False))  # fmt: skip
    return found
