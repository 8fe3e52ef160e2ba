"""Pushing and pulling images through a real Docker engine and the reference OCI registry
(Debian's `docker-registry`, started by the tests on a free loopback port).

The image is one file imported on the engine, so these tests need no base image and push a
few hundred bytes. It and every tag made of it are removed when the module ends.
"""

from __future__ import annotations

import io
import tarfile
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from deploying import require_engine
from servers import image_registry, registry_binary
from support import require_system

from mlops.adapters import containers, images
from mlops.adapters.image_registry import (
    PASSWORD_ENV,
    USERNAME_ENV,
    RegistryError,
    credentials,
    pull,
    push,
)
from mlops.adapters.probes import free_port
from mlops.errors import MlopsError

RUN = uuid.uuid4().hex[:8]
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json,"
    "application/vnd.oci.image.manifest.v1+json"
)


@pytest.fixture(autouse=True)
def _own_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the credentials a test gives: none from a `docker login` on this machine."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


@pytest.fixture(scope="module")
def tiny() -> Iterator[str]:
    """A one-file image made on the engine, and removed with all its tags afterwards."""
    require_engine()
    content = f"made by the image registry tests, run {RUN}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    engine = containers.engine()
    engine.api.import_image_from_data(buffer.getvalue(), repository="mlops-test/tiny", tag=RUN)
    name = f"mlops-test/tiny:{RUN}"
    image_id = images.image_digest(name)
    assert image_id is not None
    yield name
    with suppress(containers.sdk().errors.APIError):
        engine.images.remove(image_id, force=True)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_system("docker-registry", registry_binary() is not None)
    with image_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def manifest_digest(address: str, repository: str, tag: str) -> str:
    """The digest the registry itself gives the manifest of `repository:tag`."""
    request = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{tag}",
        headers={"Accept": MANIFEST_TYPES},
        method="HEAD",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def forget(image: str) -> None:
    """Remove `image` from the engine with every tag and digest reference it has."""
    image_id = images.image_digest(image)
    assert image_id is not None
    containers.engine().images.remove(image_id, force=True)


def test_a_push_returns_the_registrys_digest_and_a_pull_restores_a_deleted_image(
    tiny: str, registry: str
) -> None:
    """The pushed reference is pinned by the manifest digest the registry serves (not the
    local image ID); after the image is deleted from the engine, pulling that reference
    brings back the very same image."""
    image_id = images.image_digest(tiny)
    reference = push(tiny, f"{registry}/acme/tiny", "1")
    digest = manifest_digest(registry, "acme/tiny", "1")
    assert reference == f"{registry}/acme/tiny@{digest}"
    assert digest != image_id
    forget(tiny)
    assert images.image_digest(reference) is None
    assert pull(reference) == image_id
    assert images.image_digest(reference) == image_id
    containers.engine().images.get(image_id).tag("mlops-test/tiny", RUN)  # for the next tests


def test_a_registry_that_does_not_answer_refuses_the_push_in_one_line(tiny: str) -> None:
    """Nothing listens on the port: the error names the image and the repository, says why
    in one line, and leaves no tag of that registry behind."""
    repository = f"127.0.0.1:{free_port()}/acme/tiny"
    with pytest.raises(RegistryError) as raised:
        push(tiny, repository, "1")
    message = raised.value.message
    assert message.startswith(f"cannot push {tiny} to {repository}: ")
    assert "connection refused" in message and "\n" not in message
    assert images.image_digest(f"{repository}:1") is None


def test_a_digest_the_registry_does_not_have_is_refused(registry: str) -> None:
    """Pulling a digest the registry never had names the reference and the registry's
    answer."""
    reference = f"{registry}/acme/tiny@sha256:" + "0" * 64
    with pytest.raises(RegistryError) as raised:
        pull(reference)
    message = raised.value.message
    assert message.startswith(f"cannot pull {reference}: ")
    assert "manifest unknown" in message and "\n" not in message


def test_credentials_come_from_the_environment(
    tiny: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry that requires a login refuses pushes without credentials and with a wrong
    password; MLOPS_REGISTRY_USERNAME and _PASSWORD go with pushes and pulls, and nothing is
    written to the Docker client's configuration."""
    require_system("docker-registry", registry_binary() is not None)
    with image_registry(tmp_path / "registry", users={"ci": "s3cret"}) as address:
        repository = f"{address}/acme/tiny"
        with pytest.raises(RegistryError, match="no basic auth credentials"):
            push(tiny, repository, "1")
        monkeypatch.setenv(USERNAME_ENV, "ci")
        monkeypatch.setenv(PASSWORD_ENV, "wrong")
        with pytest.raises(RegistryError, match="unauthorized"):
            push(tiny, repository, "1")
        monkeypatch.setenv(PASSWORD_ENV, "s3cret")
        reference = push(tiny, repository, "1")
        image_id = images.image_digest(tiny)
        forget(tiny)
        assert pull(reference) == image_id
        containers.engine().images.get(image_id).tag("mlops-test/tiny", RUN)
    assert not (tmp_path / "docker-config").exists()


def test_half_a_set_of_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user name without a password (or the reverse) is a mistake, not anonymous access."""
    assert credentials() is None
    monkeypatch.setenv(USERNAME_ENV, "ci")
    with pytest.raises(MlopsError) as raised:
        credentials()
    assert raised.value.message == (
        "MLOPS_REGISTRY_USERNAME is set but MLOPS_REGISTRY_PASSWORD is not: set both, "
        "or neither to use the Docker client's login (docker login)"
    )
