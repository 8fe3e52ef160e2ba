"""The loop across machines: every command runs in its own fresh clone, as each workflow job
runs on a fresh runner. The clones share only what a team shares: one MLflow server, the DVC
remote (a folder beside them), Git (the origin) and GitHub (the local API server). No `.mlops/`
is carried from one clone to the next; evaluation records travel as an explicit artifact.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import mlflow_server
from support import commit_all, git, make_repository

from mlops.testing.github_seed import approve, open_pull_request
from mlops.testing.github_server import GitHubServer

MODEL = "breast-cancer"
REPO = "acme/models"
BOT = "ghs_bot"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("store")
    (workdir / "artifacts").mkdir()
    with mlflow_server(f"sqlite:///{workdir / 'mlflow.db'}", workdir / "artifacts") as url:
        yield url


@pytest.fixture
def gh(gh: GitHubServer, monkeypatch: pytest.MonkeyPatch) -> GitHubServer:
    gh.add_token(BOT, login="github-actions[bot]", can_read_org=False)
    for login in ("alice", "mchen"):
        gh.add_user(login)
    for key, value in {"GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO,
                       "GITHUB_TOKEN": BOT, "MLOPS_GITHUB_THROTTLE": "off"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    return gh


class Team:
    """The origin repository and a fresh clone per job."""

    def __init__(self, folder: Path, cli: Any) -> None:
        self.folder = folder
        self.origin = make_repository(folder / "origin", (MODEL,))
        ok(cli("--repo", self.origin, "codeowners"))
        commit_all(self.origin, "owners")
        self.jobs = 0

    def clone(self, branch: str = "main") -> Path:
        self.jobs += 1
        path = self.folder / f"job-{self.jobs}"
        git(self.folder, "clone", "-q", "-b", branch, str(self.origin), str(path))
        assert not (path / ".mlops").exists()
        return path

    def push(self, clone: Path, message: str, branch: str = "main") -> str:
        sha = commit_all(clone, message)
        if branch == "main":  # the origin has main checked out: move it as a merge would
            git(clone, "push", "-q", "origin", f"HEAD:refs/heads/incoming-{self.jobs}")
            git(self.origin, "merge", "-q", "--ff-only", f"incoming-{self.jobs}")
        else:
            git(clone, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return sha


def ok(result: Any) -> Any:
    assert result.code == 0, result.out + result.err
    return result


def stages(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "registry.yaml").read_text())["models"][MODEL]


def test_each_command_in_its_own_clone_against_one_server(
    server: str, gh: GitHubServer, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Train, promote, train a pull request, evaluate it against production, report, gate,
    promote and reconcile: each in a fresh clone, and each finds what the one before it left
    in the shared services."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")  # aliases only; deploys have their tests
    team = Team(tmp_path, cli)

    trained = team.clone()  # version 1 on main, and its lock committed
    (v1,) = json.loads(ok(cli("--repo", trained, "train", MODEL, "--json")).out)["results"]
    assert v1["version"] == "1"
    team.push(trained, "train version 1")

    promoting = team.clone()  # a laptop that trained nothing: the record comes from the store
    for stage in ("staging", "production"):
        ok(cli("--repo", promoting, "promote", MODEL, "1", "--to", stage, "--apply"))
    assert stages(promoting)["versions"]["1"]["run_id"] == v1["run_id"]
    base = team.push(promoting, "promote 1")

    author = team.clone()  # the pull request: C halved
    params = author / f"models/{MODEL}/params.yaml"
    params.write_text(params.read_text().replace("c: 1.0", "c: 0.5"))
    team.push(author, "tune C", branch="tune")

    training = team.clone("tune")  # the PR's training job commits what it rewrote
    (v2,) = json.loads(ok(cli("--repo", training, "train", MODEL, "--json")).out)["results"]
    assert (v2["version"], v2["reused"]) == ("2", False)
    head = team.push(training, "dvc.lock and metrics of version 2", branch="tune")

    evaluating = team.clone("tune")  # finds version 2 by its lock, production v1 in the store
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    output = artifact / f"{MODEL}.json"
    ok(cli("--repo", evaluating, "evaluate", MODEL, "--output", output, "--json"))
    evaluation = json.loads(output.read_text())
    assert evaluation["candidate"]["version"] == "2"
    assert (evaluation["production"]["version"], evaluation["production"]["source"]) == (
        "1", "scored",
    )  # fmt: skip

    number = open_pull_request(
        gh, REPO, author="alice", branch="tune", base=base, head=head,
        files=[(f"models/{MODEL}/params.yaml", "modified"),
               (f"models/{MODEL}/dvc.lock", "modified"),
               (f"models/{MODEL}/metrics.json", "modified"),
               (f"models/{MODEL}/evaluation.json", "modified")],
    )  # fmt: skip
    reporting = team.clone("tune")  # the evaluation arrives as a workflow artifact
    ok(cli("--repo", reporting, "report", "--pr", str(number), "--evaluations", artifact))
    (check,) = gh.check_runs(REPO, head)
    assert check["name"] == f"mlops: {MODEL}"

    approve(gh, REPO, number, "mchen")
    gating = team.clone("tune")
    decision = json.loads(ok(cli("--repo", gating, "gate", "--pr", str(number), "--json")).out)
    assert decision["passed"] and decision["policy"][MODEL]["passed"]

    git(team.origin, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number}", "tune")
    promoting = team.clone()
    for stage in ("staging", "production"):
        ok(cli("--repo", promoting, "promote", MODEL, "2", "--to", stage, "--apply"))
    assert stages(promoting)["stages"] == {"staging": "2", "production": "2"}
    assert stages(promoting)["versions"]["2"]["run_id"] == v2["run_id"]
    team.push(promoting, "promote 2")

    reconciling = team.clone()
    ok(cli("--repo", reconciling, "reconcile", "--apply", "--json"))
    from mlflow import MlflowClient

    aliases = MlflowClient(tracking_uri=server, registry_uri=server).get_registered_model(MODEL)
    assert {k: str(v) for k, v in aliases.aliases.items()} == {"staging": "2", "production": "2"}
    for job in tmp_path.glob("job-*"):  # no job had another's state folder to read
        shutil.rmtree(job)
