"""Deployments on the docker target: real images, containers on the host network, nginx.

breast-cancer versions 1 and 2 are trained into a scratch repository configured for the
docker target (API key on, the offline base image). `mlops build` verifies and builds v1 and
records its digest; reconcile builds v2 itself when it first deploys it; reverting v2's
promotion serves v1 again from its existing image, building nothing. Standby is off here, so
the old version is stopped after each switch and the revert really starts v1 again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploying import (
    MODEL,
    deployments,
    production_alias,
    reconcile,
    require_docker_image,
    require_nginx,
    served,
    teardown,
)  # fmt: skip
from support import commit_all, git, make_repository, set_stages, two_versions

from mlops.adapters import probes
from mlops.adapters.probes import free_port
from mlops.adapters.settings import load_settings
from mlops.flows.rollout import api_key, smoke_row
from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # the Docker engine, base images, nginx

BASE = "local/python:3.11-bookworm"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_nginx()
    require_docker_image(BASE)
    root = make_repository(tmp_path_factory.mktemp("docker") / "repo", (MODEL,))
    (root / "pyproject.toml").write_text(
        "[tool.mlops.deploy]\n"
        'target = "docker"\n'
        f"ports = {{ staging = {free_port()}, production = {free_port()} }}\n"
        f'base_images = {{ python = "{BASE}" }}\n'
        "standby = false\n"  # every move starts from an image: what a revert reuses is visible
    )
    two_versions(root)
    try:
        yield root
    finally:
        teardown(root)


def version_entry(root: Path, version: str) -> dict[str, Any]:
    data = yaml.safe_load((root / "registry.yaml").read_text())
    return dict(data["models"][MODEL]["versions"][version])


def kinds(outcome: dict[str, Any]) -> list[str]:
    return [step["kind"] for step in outcome["deployments"][0]["done"]]


def test_build_records_the_digest_and_revert_reuses_the_image(
    trained: Path, cli, deploy_gh: GitHubServer
) -> None:
    """Build v1, deploy it; deploy v2 (built by reconcile); revert: v1 again, nothing built,
    the production alias back on v1, and three GitHub deployments. /predict needs the API
    key through nginx."""
    root = trained
    built = cli("--repo", root, "build", MODEL, "1", "--apply", "--json")
    assert built.code == 0, built.err
    digest = json.loads(built.out)["image_digest"]
    assert version_entry(root, "1")["image_digest"] == digest
    set_stages(root, {"staging": "1", "production": "1"})
    commit_all(root, "build and promote 1")
    first = reconcile(cli, root, "--env", "production", gh=deploy_gh)
    assert kinds(first) == ["start", "route"]  # the recorded image: no build
    key = api_key(load_settings(root))
    assert served(root, "production", key) == "1"
    port = load_settings(root).deploy.ports["production"]
    status, _ = probes.call(f"http://127.0.0.1:{port}/{MODEL}/predict",
                            {"rows": [smoke_row(root, MODEL)]})  # fmt: skip
    assert status == 401  # no key

    set_stages(root, {"staging": "2", "production": "2"})
    commit_all(root, "promote 2")
    plan = cli("--repo", root, "reconcile", "--json", "--env", "production")
    assert [s["kind"] for s in json.loads(plan.out)["deployments"][0]["steps"]][:2] == [
        "build",
        "start",
    ]  # the plan says what it will build
    second = reconcile(cli, root, "--env", "production", gh=deploy_gh)
    assert kinds(second) == ["build", "start", "route", "stop"]
    assert served(root, "production", key) == "2"

    git(root, "revert", "--no-edit", "HEAD")
    back = reconcile(cli, root, "--env", "production", gh=deploy_gh)
    assert kinds(back) == ["start", "route", "stop"]  # v1's image reused, nothing built
    assert served(root, "production", key) == "1"
    from mlops.adapters.containers import containers

    running = containers({"mlops.environment": "production", "mlops.model": MODEL})
    assert [(c.labels["mlops.version"], c.image_id) for c in running] == [("1", digest)]
    assert production_alias(root) == "1"
    history = deployments("production")  # newest first
    assert [payload["models"][MODEL] for _, payload in history] == [
        {"v1": 100},
        {"v2": 100},
        {"v1": 100},
    ]
    assert [state for state, _ in history] == ["success", "inactive", "inactive"]


def test_a_model_changed_in_the_store_is_refused(trained: Path, cli) -> None:
    """A file of v2's logged model altered after training: the build refuses, names the
    version and leaves registry.yaml as it was."""
    from mlflow import MlflowClient

    root = trained
    client = MlflowClient(tracking_uri=f"sqlite:///{root / '.mlops' / 'mlflow.db'}")
    source = client.get_model_version(MODEL, "2").source
    location = client.get_logged_model(source.split("/")[-1]).artifact_location
    mlmodel = Path(location.removeprefix("file://")) / "MLmodel"
    original = mlmodel.read_text()
    before = (root / "registry.yaml").read_text()
    mlmodel.write_text(original + "\n# changed\n")
    try:
        result = cli("--repo", root, "build", MODEL, "2", "--apply")
    finally:
        mlmodel.write_text(original)
    assert result.code == 1
    assert "changed after training; nothing was built" in result.err
    assert (root / "registry.yaml").read_text() == before
