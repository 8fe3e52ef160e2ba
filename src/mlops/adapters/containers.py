"""Serving containers on the Docker engine: run one model image, list them by label, stop them.

Containers use the host network and bind 127.0.0.1 (engines here run without a bridge
network, and a model server must not listen on every interface). What a container runs is
`bento_layout.serve_command`: our serving launcher inside the bento, or for images built
before it, BentoML's entrypoint (`serve` becomes `bentoml serve ... $BENTO_PATH`).

Each container runs under the engine's init (tini), so `docker stop` (SIGTERM) reaches the
server at any moment of its start, and exited R or Julia worker processes are reaped.
Containers restart `unless-stopped`: a deployment outlives an engine or host restart, as the
deployed state in registry.yaml expects, and only `stop_container` (which also removes it)
ends it. A container that keeps failing its start shows up as not running, and the deployer's
health check refuses it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops.adapters.bento_layout import serve_command
from mlops.core.resources import Limits
from mlops.errors import MlopsError

SOCKET_HINT = "start it with scripts/start-docker (or set DOCKER_HOST to an engine that answers)"


class EngineUnavailable(MlopsError):
    """The Docker engine does not answer."""


class ContainerError(MlopsError):
    """The engine refused to create, start or stop a container."""


@dataclass(frozen=True)
class Container:
    name: str
    id: str
    image_id: str  # "sha256:<64 hex>", the image ID the container was created from
    labels: dict[str, str]
    running: bool


def sdk() -> Any:
    """The docker-py module, imported on first use (it takes half a second)."""
    import docker  # type: ignore[import-untyped]

    return docker


def engine() -> Any:
    """A docker-py client of the engine (DOCKER_HOST, else the local socket) that answers."""
    docker = sdk()
    try:
        client = docker.from_env()  # asks the engine for its API version
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(
            f"the Docker engine does not answer: {_reason(exc)}", hint=SOCKET_HINT
        ) from None
    return client


def run_container(
    image: str,
    name: str,
    port: int,
    labels: Mapping[str, str],
    env: Mapping[str, str],
    *,
    network: str = "host",
    shared: Mapping[str, str] | None = None,
    limits: Limits | None = None,
) -> Container:
    """Start `image` as container `name`, serving on 127.0.0.1:`port` of its `network`: the
    host's (the default), or `container:<name>`, the network namespace another container
    holds (as a pod's containers share one), where the router and checks must run too.

    `limits` caps the container's CPU and memory (memory with no swap beyond it).

    `shared` maps host folders to the paths they are mounted at (read-write). The container
    also runs with this process's group, so what it writes into a setgid folder of that
    group stays readable and removable by the deploy host's own user.

    Never pulls: the image must exist on the engine. A container of that name must not exist
    (running or not): stop_container removes one first.
    """
    docker = sdk()
    client = engine()
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        raise ContainerError(
            f"image {image} is not on the Docker engine",
            hint="build it first (mlops.adapters.images)",
        ) from None
    try:
        existing = client.containers.get(name)
    except docker.errors.NotFound:
        existing = None
    if existing is not None:
        raise ContainerError(
            f"a container named {name} already exists ({existing.status})",
            hint="stop and remove it first (stop_container)",
        )
    command, working_dir = serve_command(port, found.labels or {})
    try:
        container = client.containers.create(
            image,
            command=command,
            working_dir=working_dir,
            name=name,
            labels=dict(labels),
            environment=dict(env),
            network_mode=network,
            restart_policy={"Name": "unless-stopped"},
            volumes={
                host: {"bind": inside, "mode": "rw"} for host, inside in (shared or {}).items()
            },
            group_add=[str(os.getgid())] if shared else None,
            init=True,  # tini as PID 1: SIGTERM reaches the server, R/Julia workers are reaped
            detach=True,
            **_limits(limits or Limits()),
        )
        container.start()
    except docker.errors.APIError as exc:
        raise ContainerError(
            f"cannot start container {name} from {image}: {_reason(exc)}"
        ) from None
    container.reload()
    return _describe(container)


def _limits(limits: Limits) -> dict[str, int]:
    found = {}
    if limits.nano_cpus is not None:
        found["nano_cpus"] = limits.nano_cpus
    if limits.memory_bytes is not None:
        found["mem_limit"] = found["memswap_limit"] = limits.memory_bytes
    return found


def containers(labels: Mapping[str, str]) -> list[Container]:
    """Every container, running or not, that carries all of `labels`, sorted by name."""
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    found = engine().containers.list(all=True, filters=filters)
    return sorted((_describe(c) for c in found), key=lambda c: c.name)


def stop_container(name: str, timeout: float = 30) -> None:
    """Stop container `name` (SIGTERM, then SIGKILL after `timeout` seconds) and remove it.
    Nothing happens when there is no such container."""
    docker = sdk()
    client = engine()
    try:
        container = client.containers.get(name)
        if container.status in ("running", "restarting", "paused"):
            container.stop(timeout=max(0, round(timeout)))
        container.remove(force=True)
    except docker.errors.NotFound:
        return  # absent, or removed by someone else meanwhile
    except docker.errors.APIError as exc:
        raise ContainerError(f"cannot stop container {name}: {_reason(exc)}") from None


def _describe(container: Any) -> Container:
    attrs = container.attrs
    return Container(
        name=str(container.name),
        id=str(container.id),
        image_id=str(attrs.get("Image", "")),
        labels={str(k): str(v) for k, v in (attrs.get("Config", {}).get("Labels") or {}).items()},
        running=container.status == "running",
    )


def _reason(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def started_at(name: str) -> datetime | None:
    """When container `name` started (None: no such container, or the engine cannot say)."""
    docker = sdk()
    try:
        attrs = engine().containers.get(name).attrs
    except (docker.errors.NotFound, docker.errors.APIError):
        return None
    return engine_time(str((attrs.get("State") or {}).get("StartedAt", "")))


ENGINE_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def engine_time(text: str) -> datetime | None:
    """The engine's RFC 3339 time with nanoseconds, to the microsecond; None if unreadable."""
    match = ENGINE_TIME.match(text)
    if match is None or text.startswith("0001-"):
        return None
    fraction = (match[2] or ".0")[:7]
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}{fraction}{zone}")
