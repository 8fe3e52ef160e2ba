"""The OCI image registry built images are pushed to and deploy hosts pull from.

Pushes and pulls go through the Docker engine (DOCKER_HOST, else the local socket), so the
engine's own registry settings apply: TLS, mirrors, and `insecure-registries` (127.0.0.0/8
is always one, so a registry on the loopback address speaks plain HTTP).

Credentials: when MLOPS_REGISTRY_USERNAME and MLOPS_REGISTRY_PASSWORD are set, they go with
every push and pull and are written nowhere. Otherwise the Docker client's own apply, those
a `docker login <registry>` stored (in ~/.docker/config.json, or DOCKER_CONFIG), and none
for a registry open to all.
"""

from __future__ import annotations

import os
from typing import Any

from mlops.adapters.containers import engine, sdk
from mlops.core.image_reference import DIGEST, pinned
from mlops.errors import MlopsError

USERNAME_ENV = "MLOPS_REGISTRY_USERNAME"
PASSWORD_ENV = "MLOPS_REGISTRY_PASSWORD"


class RegistryError(MlopsError):
    """The image registry refused a push or a pull, or could not be reached."""

    def __init__(self, message: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


def credentials() -> dict[str, str] | None:
    """The login MLOPS_REGISTRY_USERNAME and _PASSWORD give, or None: the client's own."""
    username, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
    if not username and not password:
        return None
    if not username or not password:
        given, missing = (USERNAME_ENV, PASSWORD_ENV) if username else (PASSWORD_ENV, USERNAME_ENV)
        raise MlopsError(
            f"{given} is set but {missing} is not: set both, "
            "or neither to use the Docker client's login (docker login)"
        )
    return {"username": username, "password": password}


def push(image: str, repository: str, tag: str) -> str:
    """Push the engine's `image` as `repository:tag` and return the reference pinned by the
    manifest digest the registry gave it: `repository@sha256:...`. On failure the tag made
    for the push is removed again."""
    auth = credentials()
    client = engine()
    docker = sdk()
    try:
        client.images.get(image).tag(repository, tag)
    except docker.errors.ImageNotFound:
        raise RegistryError(f"cannot push {image}: it is not on the Docker engine",
                            "no such image") from None  # fmt: skip
    digest, reason = None, None
    try:
        events = client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth)
        for event in events:
            reason = reason or _event_error(event)
            found = (event.get("aux") or {}).get("Digest")
            digest = found if isinstance(found, str) and DIGEST.fullmatch(found) else digest
    except docker.errors.DockerException as exc:
        reason = _reason(exc)
    if reason or digest is None:
        reason = reason or "the registry answered without a manifest digest"
        _untag(client, f"{repository}:{tag}")
        raise RegistryError(f"cannot push {image} to {repository}: {reason}", reason)
    return pinned(repository, digest)


def pull(reference: str) -> str:
    """Pull `reference` (pinned by digest) onto the engine; the image ID it resolves to."""
    auth = credentials()
    docker = sdk()
    try:
        image = engine().images.pull(reference, auth_config=auth)
    except docker.errors.DockerException as exc:
        reason = _reason(exc)
        raise RegistryError(f"cannot pull {reference}: {reason}", reason) from None
    return str(image.id)


def _event_error(event: dict[str, Any]) -> str | None:
    if "error" not in event and "errorDetail" not in event:
        return None
    detail = event.get("errorDetail") or {}
    text = str(event.get("error") or detail.get("message") or "the registry refused the push")
    return _first_line(text)


def _untag(client: Any, name: str) -> None:
    try:
        client.images.remove(name, noprune=True)
    except sdk().errors.DockerException:
        pass  # never there, or removed meanwhile


def _reason(exc: Exception) -> str:
    return _first_line(str(getattr(exc, "explanation", None) or exc)) or type(exc).__name__


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
