"""`mlops reconcile` against a real embedded MLflow store: aliases follow registry.yaml.

Deployments are off here (`MLOPS_DEPLOY_TARGET=none`, the aliases-only configuration);
tests/integration/test_deploy_local.py covers them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from support import commit_all, git, make_repository, run_cli

MODEL = "breast-cancer"


@pytest.fixture(autouse=True)
def _aliases_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repository(tmp_path_factory.mktemp("reconcile") / "repo", (MODEL,))
    assert run_cli("--repo", root, "train", MODEL) == 0
    return root


@pytest.fixture
def root(trained: Path, tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(trained, target, symlinks=True)
    return target


def aliases(root: Path) -> dict[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / '.mlops' / 'mlflow.db'}")
    return {k: str(v) for k, v in client.get_registered_model(MODEL).aliases.items()}


def reconcile(cli, root: Path, *args: str) -> dict:
    result = cli("--repo", root, "reconcile", "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_aliases_follow_promotions_and_reverts(root: Path, cli) -> None:
    """Promote v1 to staging and production; reconcile sets both aliases, a second run finds
    nothing to do, and reverting the production promotion removes its alias."""
    assert cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply").code == 0
    commit_all(root, "promote 1 to staging")
    plan = reconcile(cli, root)
    assert [(a["kind"], a["alias"], a["version"]) for a in plan["actions"]] == [
        ("set-alias", "staging", "1")
    ]
    assert aliases(root) == {}  # a plan changes nothing
    reconcile(cli, root, "--apply")
    assert aliases(root) == {"staging": "1"}
    assert reconcile(cli, root)["actions"] == []  # idempotent

    assert cli("--repo", root, "promote", MODEL, "1", "--to", "production", "--apply").code == 0
    commit_all(root, "promote 1 to production")
    reconcile(cli, root, "--apply")
    assert aliases(root) == {"staging": "1", "production": "1"}

    git(root, "revert", "--no-edit", "HEAD")
    plan = reconcile(cli, root, "--apply")
    assert [(a["kind"], a["alias"]) for a in plan["actions"]] == [("remove-alias", "production")]
    assert aliases(root) == {"staging": "1"}


def test_only_the_named_environment_is_reconciled(root: Path, cli) -> None:
    assert cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply").code == 0
    assert reconcile(cli, root, "--env", "production")["actions"] == []


def test_a_stage_naming_a_version_the_store_lacks_fails_clearly(root: Path, cli) -> None:
    """registry.yaml points at a version this store never registered: exit 1, nothing set."""
    assert cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply").code == 0
    path = root / "registry.yaml"
    registry = yaml.safe_load(path.read_text())
    entry = registry["models"][MODEL]
    entry["versions"]["9"] = entry["versions"].pop("1")
    entry["stages"] = {"staging": "9"}
    path.write_text(yaml.safe_dump(registry, sort_keys=False))
    result = cli("--repo", root, "reconcile", "--apply")
    assert result.code == 1, result.out
    assert "the tracking store has no such version" in result.err
    assert aliases(root) == {}
