"""Long commands show their progress on stderr, stage by stage, while stdout keeps only the
results: the same table or JSON as without progress. Off a terminal (here: captured) each
finished stage is one line; --json turns progress off."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploying import require_nginx, teardown
from support import commit_all, make_repository, run_cli

from mlops.adapters.probes import free_port

MODEL = "breast-cancer"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """breast-cancer trained once as version 1, committed, in a module-wide repository."""
    root = make_repository(tmp_path_factory.mktemp("progress") / "repo", (MODEL,))
    assert run_cli("--repo", root, "train", MODEL) == 0
    commit_all(root, "version 1")
    return root


@pytest.fixture
def root(trained: Path, tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(trained, target, symlinks=True)
    return target


def finished(stderr: str) -> list[str]:
    """The stage lines, without their times."""
    return [
        line.rpartition(" (")[0] for line in stderr.splitlines() if line.lstrip()[:1] in ("✓", "✗")
    ]


def test_train_names_each_stage_on_stderr(root: Path, cli) -> None:
    """A changed model shows DVC starting, each DVC stage that ran, the look-up, the MLflow
    logging, the data push and the registration; stdout holds the results table only."""
    params = root / "models" / MODEL / "params.yaml"
    params.write_text(params.read_text().replace("c: 1.0", "c: 0.5"))
    result = cli("--repo", root, "train", MODEL)
    assert result.code == 0, result.err
    assert finished(result.err) == [
        f"✓ {MODEL}: start its pipeline (DVC, python)",
        f"✓ {MODEL}: DVC stage train",
        f"✓ {MODEL}: DVC stage evaluate",
        f"✓ {MODEL}: look for this artifact in the tracking store",
        f"✓ {MODEL}: log the run and the model to MLflow",
        f"✓ {MODEL}: store its data in the DVC remote",
        f"✓ {MODEL}: register the version",
    ]
    assert "Trained 1 model(s)" in result.out and "2 (new)" in result.out
    assert "✓" not in result.out and "DVC stage" not in result.out


def test_train_with_json_prints_json_and_no_progress(root: Path, cli) -> None:
    result = cli("--repo", root, "train", MODEL, "--json")
    assert result.code == 0, result.err
    (outcome,) = json.loads(result.out)["results"]
    assert (outcome["version"], outcome["reused"]) == ("1", True)
    assert finished(result.err) == []


def test_reconcile_counts_the_alias_actions(
    root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the aliases and each alias change are numbered against the total planned,
    which grows once the aliases are read and the changes known."""
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")
    assert cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply").code == 0
    commit_all(root, "promote 1 to staging")
    planned = cli("--repo", root, "reconcile", "--json")
    assert planned.code == 0, planned.err
    assert [a["kind"] for a in json.loads(planned.out)["actions"]] == ["set-alias"]
    assert finished(planned.err) == []  # --json: no progress
    result = cli("--repo", root, "reconcile", "--apply")
    assert result.code == 0, result.err
    assert finished(result.err) == [
        "✓ [1/1] MLflow: read the aliases",
        f"✓ [2/2] MLflow: {MODEL} staging -> 1",  # known once the aliases are read
    ]
    assert "Reconciled: MLflow aliases" in result.out and "✓ [" not in result.out


@pytest.fixture
def deployable(root: Path) -> Iterator[Path]:
    """The copy deploying on the local target (bentoml serve behind nginx)."""
    require_nginx()
    staging, production = free_port(), free_port()
    (root / "pyproject.toml").write_text(
        "[tool.mlops.deploy]\n"
        'target = "local"\n'
        f"ports = {{ staging = {staging}, production = {production} }}\n"
        "check_timeout = 90\n"
    )
    commit_all(root, "deploy locally")
    try:
        yield root
    finally:
        teardown(root)


def test_reconcile_shows_each_deployment_action_as_it_runs(deployable: Path, cli) -> None:
    """Preparing the version, starting it, its health and smoke checks and the router switch
    each leave a numbered line; the plan's table is still on stdout."""
    root = deployable
    assert cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply").code == 0
    commit_all(root, "promote 1 to staging")
    planned = cli("--repo", root, "reconcile", "--env", "staging")
    assert planned.code == 0, planned.err
    assert finished(planned.err) == ["✓ [1/2] staging: plan", "✓ [2/2] MLflow: read the aliases"]
    result = cli("--repo", root, "reconcile", "--env", "staging", "--apply")
    assert result.code == 0, result.err
    assert finished(result.err) == [
        f"✓ [1/6] staging: prepare {MODEL} version 1",
        f"✓ [2/6] staging: start {MODEL} version 1",
        f"✓ [3/6] staging: health-check {MODEL} version 1",
        f"✓ [4/6] staging: smoke-check {MODEL} version 1",
        "✓ [5/6] staging: update the router (nginx)",
        "✓ [6/6] MLflow: read the aliases",
        f"✓ [7/7] MLflow: {MODEL} staging -> 1",
    ]
    assert "Reconciled: staging" in result.out and "✓ [" not in result.out
