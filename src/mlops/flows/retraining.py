"""Retraining a model whose production version is stale or keeps drifting: refresh its data,
train on a branch, and open a pull request that goes through the ordinary review and gates.

It never promotes, never opens a second pull request while one of its own is open, and when
nothing is due (or the refreshed data is what production was trained on) it says why and
changes nothing. The work happens in a scratch worktree on the new branch, so the checkout
it runs in is left as it was.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters import dvc, git, tracking
from mlops.adapters.github import GitHub, repository_name
from mlops.adapters.settings import load_settings
from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import alerts, layout, retraining
from mlops.core.lineage import input_hashes
from mlops.core.progress import QUIET, Reporter
from mlops.core.stages import PRODUCTION
from mlops.errors import MlopsError
from mlops.flows.monitoring import EXPERIMENT_PREFIX
from mlops.flows.repository import checked_models, manifest_data, registry_entry
from mlops.flows.storage import use_configured_remote
from mlops.flows.training import train_model

NOT_DUE, OPEN, PLANNED, NO_NEW_DATA, OPENED, FAILED = (
    "not due", "already open", "planned", "no new data", "opened", "failed",
)  # fmt: skip


@dataclass
class Retraining:
    model: str
    status: str
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    branch: str | None = None
    pull_request: str | None = None
    version: str | None = None  # the version trained on the branch

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrain(root: Path, name: str, apply: bool, base: str, now: datetime | None = None,
            progress: Reporter = QUIET) -> Retraining:  # fmt: skip
    """Open a retraining pull request for `name` into `base` when it is due (with `apply`;
    else say what would happen); `progress` hears of the training's stages."""
    now = now or datetime.now(UTC)
    check = checked_models(root, [name], "retrained")
    manifest = manifest_data(check, name)
    entry = registry_entry(check, name)
    version = (entry.get("stages") or {}).get(PRODUCTION)
    record = (entry.get("versions") or {}).get(str(version)) or {} if version else {}
    settings = load_settings(root)
    with contextlib.redirect_stdout(sys.stderr):
        tracking.connect(settings)
        experiment = tracking.experiment_id(settings, f"{EXPERIMENT_PREFIX}{name}")
        recent = tracking.recent_run_tags(
            experiment, {"mlops.model": name, "mlops.environment": PRODUCTION},
            retraining.PERSIST_RUNS,
        )  # fmt: skip
    states = [{k: tags.get(f"mlops.alert.{k}", alerts.UNKNOWN) for k in alerts.KINDS}
              for tags in recent]  # fmt: skip
    rules = (manifest.get("monitoring") or {}).get("retrain") or {}
    found = retraining.due(rules, str(version) if version else None,
                           _created(record.get("created")), states, now)  # fmt: skip
    result = Retraining(name, NOT_DUE, found.reasons, found.notes)
    if not found.due:
        return result
    gh = GitHub(repository_name())
    mine = [(n, url) for n, head, url in gh.open_pulls()
            if retraining.is_retraining_branch(name, head)]  # fmt: skip
    if mine:
        result.status, result.pull_request = OPEN, mine[0][1]
        result.notes.append(f"a retraining pull request is open already: #{mine[0][0]}")
        return result
    result.branch = retraining.branch(name, now)
    if not apply:
        result.status = PLANNED
        return result
    before = dict(record.get("dvc_hashes") or {})
    report = tracking.run_url(settings, recent[0].get("run_id")) if recent else None
    with tempfile.TemporaryDirectory(prefix=f"mlops-retrain-{name}-") as scratch:
        tree = Path(scratch) / "worktree"
        git.worktree_branch(root, tree, result.branch, "HEAD")
        try:
            after, trained = _refresh_and_train(
                root, tree, settings, name, manifest, check, progress
            )
            if after == before:
                result.status = NO_NEW_DATA
                result.notes.append("the refreshed data is what production was trained on:"
                                    " nothing new to learn from")  # fmt: skip
                return result
            result.version = trained
            message = f"Retrain {name} on refreshed data\n\n" + "\n".join(found.reasons)
            git.commit_paths(tree, [layout.model_dir(name)], message)
            git.push_branch(tree, result.branch)
            title, body = retraining.pull_request(name, str(version), found.reasons, before,
                                                  after, report)  # fmt: skip
            number, url = gh.create_pull(title, body, result.branch, base, [retraining.LABEL])
            result.status, result.pull_request = OPENED, url
            result.notes.append(f"opened #{number}")
        finally:
            git.worktree_remove(root, tree)
            if result.status != OPENED:
                git.delete_branch(root, result.branch)
    return result


def _refresh_and_train(root: Path, tree: Path, settings: Any, name: str,
                       manifest: dict[str, Any], check: Any, progress: Reporter
                       ) -> tuple[dict[str, str], str]:  # fmt: skip
    """Run the stage that writes the training data again (and what follows), then train and
    register the result; the data's new hashes and the version."""
    inputs = [str(i["path"]) for i in (manifest.get("data") or {}).get("inputs") or []]
    train_input = next((str(i["path"]) for i in manifest["data"]["inputs"]
                        if i.get("role") == "train"), None)  # fmt: skip
    stage = _stage_writing(tree, name, train_input)
    use_configured_remote(settings)
    dvc.share_storage(root, tree)
    with contextlib.redirect_stdout(sys.stderr):
        with progress.stage(f"{name}: refresh its data (DVC, from stage {stage})"):
            dvc.repro(tree, name, force_from=stage)
        after = input_hashes(dvc.read_lock(tree, name), inputs)
        trained = train_model(tree, settings, name, check.manifests[name], progress)
    return after, trained.version


def _stage_writing(tree: Path, name: str, path: str | None) -> str:
    display = f"{layout.model_dir(name)}/dvc.yaml"
    loaded = load_yaml_file(tree / display, display)
    data = loaded.document.data if loaded.document is not None else None
    stages = (data or {}).get("stages") if isinstance(data, dict) else None
    for stage, spec in (stages or {}).items():
        if path and path in [str(o) for o in (spec or {}).get("outs") or []]:
            return str(stage)
    raise MlopsError(f"{display}: no stage writes {path}; retraining refreshes the training"
                     " data by running that stage again")  # fmt: skip


def _created(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def retrain_all(root: Path, apply: bool, base: str, progress: Reporter = QUIET
                ) -> list[Retraining]:  # fmt: skip
    """`retrain` for every model with a retraining rule; a model that fails is reported and
    the others still run."""
    from mlops.core.watch_workflows import retrained
    from mlops.flows.schedules import sections

    results = []
    for name in retrained(sections(root, ("monitoring",))):
        try:
            results.append(retrain(root, name, apply, base, progress=progress))
        except MlopsError as exc:
            results.append(Retraining(name, FAILED, notes=[exc.message]))
    return results
