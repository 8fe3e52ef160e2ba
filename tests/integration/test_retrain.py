"""`mlops retrain` on a real git repository with a bare `origin`, against the local GitHub
server backed by that bare repository (so it knows what is pushed to it).

breast-cancer v1 is trained and in production. Retraining is due once v1 is older than
max_age_days (its registry record is back-dated on main); the "source" of the ingest stage
changes when main changes the ingest seed, as an upstream extract would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from deploying import REPO
from support import bare_origin, commit_all, git, promoted_repository

from mlops.adapters.settings import load_settings
from mlops.testing.github_server import GitHubServer

MODEL = "breast-cancer"


@pytest.fixture
def root(tmp_path: Path, deploy_gh: GitHubServer) -> Path:
    """The repository with v1 in production, `main` pushed to a bare origin that backs the
    GitHub server's acme/models."""
    root = promoted_repository(tmp_path / "repo", MODEL)
    commit_all(root, "v1 in production")
    origin = bare_origin(root, tmp_path / "origin.git")
    deploy_gh.back_with_git(REPO, origin)
    return root


def age_production(root: Path) -> None:
    path = root / "registry.yaml"
    data = yaml.safe_load(path.read_text())
    data["models"][MODEL]["versions"]["1"]["created"] = "2020-01-01T00:00:00Z"
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def retrain(cli: Any, root: Path, *args: str) -> tuple[Any, Any]:
    result = cli("--repo", root, "retrain", MODEL, "--json", *args)
    return result, json.loads(result.out) if result.out.strip() else None


def pulls(gh: GitHubServer) -> list[Any]:
    """The pull requests (issues with a pull request side) of acme/models."""
    (repository,) = [r for r in gh.data.repositories if r.full_name == REPO]
    return [i for i in repository.issues if i.pull is not None]


def test_nothing_is_due_for_a_fresh_version_and_nothing_changes(root: Path, cli,
                                                                 deploy_gh: GitHubServer) -> None:  # fmt: skip
    """v1 is days old and never monitored: not due, with the reasons why not."""
    result, outcome = retrain(cli, root, "--apply")
    assert result.code == 0, result.err
    assert outcome["status"] == "not due"
    assert outcome["notes"][0].startswith("production version 1 is 0 day(s) old (max_age_days")
    assert "no monitoring run yet" in outcome["notes"][1]
    assert pulls(deploy_gh) == []


def test_unchanged_data_opens_nothing(root: Path, cli, deploy_gh: GitHubServer) -> None:
    """Due by age, but the ingest stage gives production's data again: no pull request, no
    branch left, the checkout as it was. Without --json the training's stages are reported
    on stderr as they finish, and the outcome is text on stdout."""
    age_production(root)
    commit_all(root, "v1 is old")
    head = git(root, "rev-parse", "HEAD")
    result = cli("--repo", root, "retrain", MODEL, "--apply")
    assert result.code == 0, result.err
    assert f"{MODEL}: no new data" in result.out
    assert "due: production version 1 is" in result.out
    assert f"{MODEL}: refresh its data (DVC, from stage " in result.err
    assert f"{MODEL}: start its pipeline" in result.err
    assert "refresh its data" not in result.out
    assert pulls(deploy_gh) == []
    assert git(root, "branch", "--list", "mlops/retrain/*") == ""
    assert (git(root, "rev-parse", "HEAD"), git(root, "status", "--porcelain")) == (head, "")


def test_new_data_opens_one_pull_request_and_promotes_nothing(root: Path, cli,
                                                              deploy_gh: GitHubServer) -> None:  # fmt: skip
    """The plan first; then a branch with the refreshed dvc.lock pushed to origin, version 2
    registered, a pull request into main labelled mlops-retrain naming the reason and both
    data hashes; registry.yaml untouched; a second run finds the open pull request."""
    age_production(root)
    params = root / f"models/{MODEL}/params.yaml"
    params.write_text(params.read_text().replace("seed: 42\ntrain:", "seed: 7\ntrain:", 1))
    commit_all(root, "v1 is old; the upstream extract changed")
    git(root, "push", "-q", "origin", "main")
    registry = (root / "registry.yaml").read_text()
    planned, plan = retrain(cli, root)
    assert planned.code == 0, planned.err
    assert plan["status"] == "planned" and plan["branch"].startswith(f"mlops/retrain/{MODEL}-")
    assert pulls(deploy_gh) == []

    result, outcome = retrain(cli, root, "--apply")
    assert result.code == 0, result.err
    assert outcome["status"] == "opened" and outcome["version"] == "2"
    (issue,) = pulls(deploy_gh)
    assert (issue.pull.head_ref, issue.pull.base_ref) == (outcome["branch"], "main")
    assert issue.title.startswith(f"Retrain {MODEL}: production version 1 is")
    assert "mlops-retrain" in issue.labels
    recorded = yaml.safe_load(registry)["models"][MODEL]["versions"]["1"]["dvc_hashes"]
    assert f"`{recorded['data/train.csv']}`" in str(issue.body)
    branch = outcome["branch"]
    assert git(root, "ls-remote", "origin", f"refs/heads/{branch}"), "the branch was pushed"
    changed = git(root, "diff", "--name-only", "main", branch)
    assert f"models/{MODEL}/dvc.lock" in changed.split()
    assert (root / "registry.yaml").read_text() == registry  # nothing promoted
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    assert mlflow.MlflowClient().get_model_version(MODEL, "2").run_id

    again, second = retrain(cli, root, "--apply")
    assert again.code == 0, again.err
    assert second["status"] == "already open"
    assert len(pulls(deploy_gh)) == 1
