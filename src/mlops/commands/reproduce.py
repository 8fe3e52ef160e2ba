"""`mlops reproduce NAME VERSION`: retrain a version from its recorded lineage and compare.

The version's commit is checked out in a temporary git worktree, its data is restored from
the DVC cache or remote, the train and evaluate stages are forced to run again, and the data
hashes, held-out metrics and model artifact digest are compared with what was recorded.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from mlops.adapters import dvc, git
from mlops.adapters.repository import find_root
from mlops.adapters.settings import load_settings
from mlops.commands.train import artifact_digest, read_json
from mlops.core import layout
from mlops.core.lineage import input_hashes
from mlops.errors import MlopsError
from mlops.output import print_json, print_table


@dataclass
class Comparison:
    item: str
    recorded: str
    reproduced: str
    match: bool


def compare(
    recorded: dict[str, Any], reproduced: dict[str, Any], tolerance: float
) -> list[Comparison]:
    """Side by side: every data hash, every recorded metric (within `tolerance`), the artifact."""
    rows = []
    for path, md5 in sorted(recorded["dvc_hashes"].items()):
        got = reproduced["dvc_hashes"].get(path, "missing")
        rows.append(Comparison(f"data {path}", md5, got, got == md5))
    for metric, value in sorted(recorded["metrics"].items()):
        got = reproduced["metrics"].get(metric)
        number = isinstance(got, int | float)
        same = number and math.isclose(got, value, rel_tol=0, abs_tol=tolerance)
        shown = f"{got:.6g}" if number else "missing"
        rows.append(Comparison(f"metric {metric}", f"{value:.6g}", shown, same))
    rows.append(
        Comparison("model artifact sha256", recorded["artifact_sha256"][:16],
                   reproduced["artifact_sha256"][:16],
                   recorded["artifact_sha256"] == reproduced["artifact_sha256"])
    )  # fmt: skip
    return rows


def recorded_lineage(name: str, version: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    from mlops.adapters import tracking

    tags = tracking.version_tags(name, version)
    run = MlflowClient().get_run(tags["run_id"])
    prefix = "mlops.dvc."
    hashes = {k.removeprefix(prefix): v for k, v in run.data.tags.items() if k.startswith(prefix)}
    skip = ("wall_seconds", "cpu_seconds")
    metrics = {
        k: v for k, v in run.data.metrics.items() if not k.startswith("train_") and k not in skip
    }
    return {
        "git_commit": tags["git_commit"],
        "artifact_sha256": tags["artifact_sha256"],
        "dvc_hashes": hashes,
        "metrics": metrics,
    }


def reproduce(root: Path, name: str, version: str) -> dict[str, Any]:
    """Retrain `version` of `name` in a scratch worktree; return what it produced."""
    from mlops.adapters import tracking

    tracking.connect(load_settings(root))
    recorded = recorded_lineage(name, version)
    with tempfile.TemporaryDirectory(prefix=f"mlops-reproduce-{name}-") as scratch:
        tree = Path(scratch) / "worktree"
        git.worktree_add(root, tree, recorded["git_commit"])
        try:
            dvc.share_storage(root, tree)
            dvc.pull(tree, name)
            dvc.repro(tree, name, force_from="train")
            folder = tree / layout.model_dir(name)
            manifest_inputs = list(recorded["dvc_hashes"])
            reproduced = {
                "dvc_hashes": input_hashes(dvc.read_lock(tree, name), manifest_inputs),
                "metrics": read_json(folder / "evaluation.json"),
                "artifact_sha256": artifact_digest(folder / "model"),
            }
        finally:
            git.worktree_remove(root, tree)
    return {"recorded": recorded, "reproduced": reproduced}


@click.command("reproduce")
@click.argument("name")
@click.argument("version")
@click.option("--tolerance", default=1e-9, show_default=True, help="Allowed metric difference.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, version: str, tolerance: float, as_json: bool) -> None:
    """Retrain NAME at VERSION from its commit and data; compare data, metrics and artifact."""
    root = find_root(obj.get("repo"))
    outcome = reproduce(root, name, version)
    rows = compare(outcome["recorded"], outcome["reproduced"], tolerance)
    if as_json:
        print_json({**outcome, "comparison": [r.__dict__ for r in rows],
                    "reproduced_exactly": all(r.match for r in rows)})  # fmt: skip
    else:
        print_table(
            f"{name} version {version} (commit {outcome['recorded']['git_commit'][:12]})",
            ("item", "recorded", "reproduced", "match"),
            [(r.item, r.recorded, r.reproduced, "yes" if r.match else "NO") for r in rows],
        )
    if not all(r.match for r in rows):
        raise MlopsError(f"{name} version {version} did not reproduce: see the rows marked NO")
