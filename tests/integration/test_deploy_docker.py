"""Deployments on the docker target: real images in a real registry, containers on the host
network, nginx.

breast-cancer versions 1 and 2 are trained into a scratch repository configured for the
docker target (API key on, the offline base image) and an image registry (the reference
registry, started on a loopback port for the module). `mlops build` verifies and builds v1,
pushes it and records its pinned reference; reconcile builds and pushes v2 itself when it
first deploys it and runs it by digest; reverting v2's promotion serves v1 again by pulling
its recorded digest, after its local image was deleted: nothing is built. Standby is off
here, so the old version is stopped after each switch and the revert really starts v1 again.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
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
    router_call,
    served,
    teardown,
)  # fmt: skip
from servers import image_registry, registry_binary
from support import (
    commit_all,
    git,
    make_repository,
    manifest_edited,
    require_system,
    set_stages,
    two_versions,
)

from mlops.adapters import containers, images
from mlops.adapters.probes import free_port
from mlops.adapters.settings import load_settings
from mlops.flows.rollout import api_key, router, smoke_row
from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # the Docker engine, base images, nginx

BASE = "local/python:3.11-bookworm"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The image registry's address, "127.0.0.1:PORT"; afterwards the engine forgets every
    tag and digest of it (an image only the registry named goes with them)."""
    require_system("docker-registry", registry_binary() is not None)
    with image_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address
    engine = containers.engine()
    for image in engine.images.list():
        for name in [*image.attrs.get("RepoTags", []), *image.attrs.get("RepoDigests", [])]:
            if name.startswith(f"{address}/"):
                with suppress(containers.sdk().errors.APIError):
                    engine.images.remove(name, noprune=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, registry: str) -> Iterator[Path]:
    require_nginx()
    require_docker_image(BASE)
    root = make_repository(tmp_path_factory.mktemp("docker") / "repo", (MODEL,))
    (root / "pyproject.toml").write_text(
        "[tool.mlops.deploy]\n"
        'target = "docker"\n'
        f"ports = {{ staging = {free_port()}, production = {free_port()} }}\n"
        f'base_images = {{ python = "{BASE}" }}\n'
        "standby = false\n"  # every move starts from an image: what a revert reuses is visible
        f'registry = "{registry}/acme"\n'
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


def manifest_status(registry: str, reference: str, method: str = "HEAD") -> int:
    """What the registry answers for the manifest `reference` pins (DELETE removes it)."""
    repository, _, digest = reference.removeprefix(f"{registry}/").partition("@")
    url = f"http://{registry}/v2/{repository}/manifests/{digest}"
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    request = urllib.request.Request(url, headers={"Accept": accept}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def running_images(environment: str) -> list[tuple[str, str, str]]:
    """(version, image ID, reference it was started from) of the environment's containers."""
    engine = containers.engine()
    return [
        (c.labels["mlops.version"], c.image_id,
         engine.containers.get(c.id).attrs["Config"]["Image"])
        for c in containers.containers({"mlops.environment": environment, "mlops.model": MODEL})
    ]  # fmt: skip


def delete_local_image(image: str) -> None:
    """Remove `image` from the engine, with every tag and digest reference it has."""
    image_id = images.image_digest(image)
    assert image_id is not None, f"{image} is not on the engine"
    containers.engine().images.remove(image_id, force=True)
    assert images.image_digest(image) is None


def test_build_pushes_the_image_and_a_revert_pulls_it_by_digest(
    trained: Path, registry: str, cli, deploy_gh: GitHubServer
) -> None:
    """Build v1: pushed, its pinned reference and image ID recorded; deploy it; deploy v2
    (built and pushed by reconcile, run by digest, its reference recorded in the tracking
    store, which staging then runs without a build); delete v1's local image and revert: the
    plan says pull, v1 is pulled by digest and runs again, nothing built, the production
    alias back on v1, and three GitHub deployments. /predict needs the API key through
    nginx; each container runs within the manifest's CPU and memory."""
    root = trained
    built = cli("--repo", root, "build", MODEL, "1", "--apply", "--json")
    assert built.code == 0, built.err
    result = json.loads(built.out)
    digest, reference = result["image_digest"], result["image"]
    assert reference.startswith(f"{registry}/acme/{MODEL}@sha256:")
    assert reference.rpartition("@")[2] != digest  # the manifest's digest, not the image ID
    assert manifest_status(registry, reference) == 200
    entry = version_entry(root, "1")
    assert (entry["image_digest"], entry["image"]) == (digest, reference)
    set_stages(root, {"staging": "1", "production": "1"})
    commit_all(root, "build and promote 1")
    first = reconcile(cli, root, "--env", "production", gh=deploy_gh)
    assert kinds(first) == ["start", "route"]  # the recorded image: no build
    key = api_key(load_settings(root))
    assert served(root, "production", key) == "1"
    status, _ = router_call(root, "production", f"/{MODEL}/predict",
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
    assert_logs_outlive_containers(root)
    [(version, _, started_from)] = running_images("production")
    assert version == "2" and started_from.startswith(f"{registry}/acme/{MODEL}@sha256:")
    assert manifest_status(registry, started_from) == 200  # pushed before it ran
    (running,) = containers.containers({"mlops.environment": "production", "mlops.model": MODEL})
    attrs = containers.engine().containers.get(running.id).attrs
    host = attrs["HostConfig"]
    assert (host["NanoCpus"], host["Memory"]) == (10**9, 1024**3)  # resources: cpu 1, 1Gi
    assert attrs["Config"]["Cmd"][:3] == ["python", "-m", "mlops.serving.launcher"]
    assert "image" not in version_entry(root, "2")  # reconcile wrote nothing into the checkout
    # Staging on another runner: registry.yaml names no image of v2, the tracking store does.
    # It runs two replicas: two containers of the pushed image, both routed.
    with manifest_edited(root, MODEL, two_staging_replicas):
        staging = reconcile(cli, root, "--env", "staging", gh=deploy_gh)
    assert kinds(staging) == ["start", "start", "route"]  # the pushed image, not a second build
    assert [image for _, _, image in running_images("staging")] == [started_from] * 2
    replicas = containers.containers({"mlops.environment": "staging"})
    assert sorted((c.name, c.labels["mlops.replica"]) for c in replicas) == [
        (f"mlops-staging-{MODEL}-v2-r1", "1"),
        (f"mlops-staging-{MODEL}-v2-r2", "2"),
    ]
    routes = router(load_settings(root), "staging").observed()
    assert routes is not None and routes.replicas(MODEL) == {"2": 2}
    for container in containers.containers({"mlops.environment": "staging"}):
        containers.stop_container(container.name)  # v2's image must be deletable below

    delete_local_image(reference)  # a deploy host that never had v1
    git(root, "revert", "--no-edit", "HEAD")
    plan = cli("--repo", root, "reconcile", "--json", "--env", "production")
    steps = json.loads(plan.out)["deployments"][0]["steps"]
    assert [(s["kind"], s["version"]) for s in steps][:2] == [("pull", "1"), ("start", "1")]
    back = reconcile(cli, root, "--env", "production", gh=deploy_gh)
    assert kinds(back) == ["pull", "start", "route", "stop"]  # pulled by digest, not built
    assert served(root, "production", key) == "1"
    assert running_images("production") == [("1", digest, reference)]
    assert production_alias(root) == "1"
    history = deployments("production")  # newest first
    assert [payload["models"][MODEL] for _, payload in history] == [
        {"v1": 100},
        {"v2": 100},
        {"v1": 100},
    ]
    assert [state for state, _ in history] == ["success", "inactive", "inactive"]


def two_staging_replicas(manifest: dict[str, Any]) -> None:
    manifest["serving"]["api"]["replicas"] = {"staging": 2}


def assert_logs_outlive_containers(root: Path) -> None:
    """Both versions' predictions are in the host's log folder after v1's container is gone,
    in files of the deploy host's group, in group-writable setgid day folders (the host's
    own user reads and purges them without root)."""
    logs = load_settings(root).prediction_logs
    (day,) = (logs / "production" / MODEL).iterdir()
    versions = {}
    for path in day.iterdir():
        records = [json.loads(line) for line in path.read_text().splitlines()]
        versions[path.name.split("-")[0]] = {r["version"] for r in records}
        assert path.stat().st_gid == os.getgid()
        assert {r["environment"] for r in records} == {"production"}
    assert versions == {"v1": {"1"}, "v2": {"2"}}
    assert day.stat().st_mode & 0o2070 == 0o2070


def test_a_registry_that_refuses_the_push_changes_nothing(trained: Path, cli, monkeypatch) -> None:
    """MLOPS_IMAGE_REGISTRY names a port where no registry answers: the build of v2 (its
    image is on the engine already) fails in one line naming the registry and the setting,
    after the progress line of the push marked failed; exit 1, and registry.yaml is as it
    was."""
    root = trained
    before = (root / "registry.yaml").read_text()
    nowhere = f"127.0.0.1:{free_port()}/acme"
    monkeypatch.setenv("MLOPS_IMAGE_REGISTRY", nowhere)
    result = cli("--repo", root, "build", MODEL, "2", "--apply")
    assert result.code == 1
    [line] = [text for text in result.err.splitlines() if text.startswith("error:")]
    assert f"✗ {MODEL} 2: push to {nowhere}" in result.err
    assert line.startswith(
        f"error: cannot push {images.image_name(MODEL, '2')} to the image registry {nowhere} "
        "(MLOPS_IMAGE_REGISTRY): "
    )
    assert "connection refused" in line
    assert (root / "registry.yaml").read_text() == before


def test_a_digest_the_registry_lost_fails_the_version_and_traffic_stays(
    trained: Path, registry: str, cli, deploy_gh: GitHubServer
) -> None:
    """v2 is built, pushed and recorded; then the registry loses its manifest and the engine
    its image. Promoting v2 fails its checks, naming the version and the reference it could
    not pull; exit 1, and production keeps serving v1."""
    root = trained
    built = cli("--repo", root, "build", MODEL, "2", "--apply", "--json")
    assert built.code == 0, built.err
    reference = json.loads(built.out)["image"]
    assert manifest_status(registry, reference, "DELETE") == 202
    delete_local_image(reference)
    set_stages(root, {"staging": "1", "production": "2"})
    commit_all(root, "promote 2, whose image the registry no longer has")
    failed = reconcile(cli, root, "--env", "production", gh=deploy_gh, code=1)
    [failure] = failed["deployments"][0]["failures"]
    assert failure.startswith(f"{MODEL} version 2 in production: cannot pull {reference}: ")
    assert "manifest unknown" in failure
    key = api_key(load_settings(root))
    assert served(root, "production", key) == "1"
    assert [version for version, _, _ in running_images("production")] == ["1"]
    git(root, "revert", "--no-edit", "HEAD")


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
