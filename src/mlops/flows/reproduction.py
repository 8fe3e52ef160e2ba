"""Reproduce a registered version: retrain it from its recorded lineage, on this machine.

The version's commit is checked out in a temporary worktree with the exact `dvc.lock` its
run produced (stored with the run), so the data restored is exactly what was registered,
even when training rewrote the committed lock. Stages upstream of `train` are restored from
the DVC cache or remote; `train` and what depends on it run again. The outcome is judged by
`core.reproduction` against the version's recorded data hashes, parameters, held-out
metrics, artifact digest and platform fingerprint.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters import dvc, git, platform_probe
from mlops.adapters.pipeline_files import artifact_digest, read_json, read_params
from mlops.adapters.settings import load_settings
from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import layout, platform
from mlops.core.lineage import input_hashes, params_hash
from mlops.core.pipeline_graph import upstream_of
from mlops.core.reproduction import Tolerances, Verdict, judge
from mlops.errors import MlopsError
from mlops.flows.storage import use_configured_remote

FIRST_RERUN = "train"


@dataclass(frozen=True)
class Reproduction:
    recorded: dict[str, Any]
    reproduced: dict[str, Any]
    verdict: Verdict


def recorded_lineage(name: str, version: str) -> dict[str, Any]:
    """What the version's run recorded, from the tracking store (no local state)."""
    from mlops.adapters import tracking

    version_tags = tracking.version_tags(name, version)
    run_id = version_tags.get("run_id", "")
    tags, metrics = tracking.run_data(run_id)
    evaluation = tracking.run_text(run_id, "lineage/evaluation.json")
    fingerprint = tracking.run_text(run_id, "lineage/platform.json")
    if evaluation is None:  # recorded before the evaluation was stored as written
        skip = ("wall_seconds", "cpu_seconds")
        held_out = {
            k: v for k, v in metrics.items() if not k.startswith("train_") and k not in skip
        }
    else:
        held_out = json.loads(evaluation)
    prefix = "mlops.dvc."
    return {
        "run_id": run_id,
        "git_commit": version_tags["git_commit"],
        "language": tags.get("mlops.language"),
        "dvc_lock": tracking.run_text(run_id, "lineage/dvc.lock"),
        "dvc_hashes": {k.removeprefix(prefix): v for k, v in tags.items() if k.startswith(prefix)},
        "params_hash": tags.get("mlops.params_hash"),
        "metrics": held_out,
        "artifact_sha256": version_tags["artifact_sha256"],
        "platform": json.loads(fingerprint) if fingerprint else None,
    }


def reproduce(root: Path, name: str, version: str, tolerance: float | None = None) -> Reproduction:
    """Retrain `version` of `name` in a scratch worktree and judge the result."""
    from mlops.adapters import environment, tracking

    settings = load_settings(root)
    use_configured_remote(settings)
    tracking.connect(settings)
    recorded = recorded_lineage(name, version)
    with tempfile.TemporaryDirectory(prefix=f"mlops-reproduce-{name}-") as scratch:
        tree = Path(scratch) / "worktree"
        git.worktree_add(root, tree, recorded["git_commit"])
        try:
            folder = tree / layout.model_dir(name)
            _use_recorded_lock(folder, recorded.get("dvc_lock"))
            dvc.share_storage(root, tree)
            dvc.pull(tree, name, upstream_of(_pipeline(tree, name), FIRST_RERUN))
            dvc.repro(tree, name, force_from=FIRST_RERUN)
            manifest = _manifest(tree, name)
            language = str(recorded.get("language") or manifest.get("language", "python"))
            probe = platform_probe.Probe(dvc.stage_environment())
            lock = environment.describe(language).lock
            reproduced = {
                "dvc_hashes": input_hashes(dvc.read_lock(tree, name), list(recorded["dvc_hashes"])),
                "params_hash": params_hash(read_params(tree, name)),
                "metrics": read_json(folder / "evaluation.json"),
                "artifact_sha256": artifact_digest(folder / "model"),
                "platform": platform.fingerprint(probe.result(), language, lock),
            }
        finally:
            git.worktree_remove(root, tree)
    verdict = judge(recorded, reproduced, Tolerances.from_manifest(manifest, tolerance))
    return Reproduction(recorded, reproduced, verdict)


def _use_recorded_lock(folder: Path, lock: str | None) -> None:
    """Put the lock the version's run wrote in place of the commit's (they differ when
    training rewrote it and the rewrite was not committed)."""
    if lock is not None:  # else recorded before locks were kept: the commit's is all there is
        (folder / "dvc.lock").write_text(lock, encoding="utf-8")


def _pipeline(tree: Path, name: str) -> dict[str, Any]:
    display = f"{layout.model_dir(name)}/dvc.yaml"
    loaded = load_yaml_file(tree / display, display)
    if loaded.document is None or not isinstance(loaded.document.data, dict):
        raise MlopsError(f"{display} cannot be read at the version's commit")
    data: dict[str, Any] = loaded.document.data
    if FIRST_RERUN not in (data.get("stages") or {}):
        raise MlopsError(f"{display} has no stage '{FIRST_RERUN}' to run again")
    return data


def _manifest(tree: Path, name: str) -> dict[str, Any]:
    display = f"{layout.model_dir(name)}/model.yaml"
    loaded = load_yaml_file(tree / display, display)
    data = loaded.document.data if loaded.document is not None else None
    return data if isinstance(data, dict) else {}
