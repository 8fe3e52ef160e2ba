"""The `docker` deploy target: one container per (environment, model, version).

Containers run the version's image (`mlops build`) on the host network, bound to a free
loopback port, and carry labels saying what they serve; what is running is read back from
the engine through those labels and confirmed by each container's own `/healthz`. A version
whose image is on the engine is reused as it is (a revert rebuilds nothing); a missing image
is built by the injected builder, which verifies the model first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlops.adapters import containers, images, probes
from mlops.core.deploy import Instance

LABEL_ENV = "mlops.environment"
LABEL_PORT = "mlops.port"


class DockerTarget:
    """Containers on the Docker engine that DOCKER_HOST (or the local socket) names."""

    def __init__(self, models: Mapping[str, Any], build: Callable[[str, str], str]) -> None:
        self.models = models
        self.build = build

    def image(self, model: str, version: str) -> str | None:
        """The image to run: the digest registry.yaml recorded when the engine has it, else
        `mlops/<model>:<version>` when it was built from this very model (its label carries
        the model digest the registry recorded), else None."""
        entry = ((self.models.get(model) or {}).get("versions") or {}).get(version) or {}
        recorded = entry.get("image_digest")
        if recorded and images.image_digest(str(recorded)) == recorded:
            return str(recorded)
        name = images.image_name(model, version)
        labels = images.image_labels(name) or {}
        wanted = entry.get("model_sha256")
        return name if wanted and labels.get("mlops.model_sha256") == wanted else None

    def needs_build(self, model: str, version: str) -> bool:
        return self.image(model, version) is None

    def prepare(self, model: str, version: str) -> str | None:
        """Build the version's image unless the engine has it; says what it built."""
        if self.image(model, version) is not None:
            return None
        return f"built {self.build(model, version)}"

    def start(self, environment: str, model: str, version: str, api_key: str | None) -> Instance:
        image = self.image(model, version) or images.image_name(model, version)
        name = container_name(environment, model, version)
        containers.stop_container(name)  # a stopped or broken leftover of the same version
        port = probes.free_port()
        labels = {LABEL_ENV: environment, "mlops.model": model, "mlops.version": version,
                  LABEL_PORT: str(port)}  # fmt: skip
        env = {"MLOPS_SERVE_API_KEY": api_key} if api_key else {}
        containers.run_container(image, name, port, labels, env)
        return Instance(environment, model, version, f"127.0.0.1:{port}", name, False)

    def instances(self, environment: str) -> list[Instance]:
        found = []
        for container in containers.containers({LABEL_ENV: environment}):
            labels = container.labels
            model, version = labels.get("mlops.model", ""), labels.get("mlops.version", "")
            address = f"127.0.0.1:{labels.get(LABEL_PORT, '0')}"
            healthy = container.running and probes.identity(address) == (model, version)
            found.append(Instance(environment, model, version, address, container.name, healthy))
        return found

    def stop(self, instance: Instance) -> None:
        containers.stop_container(instance.ident)

    def exited(self, instance: Instance) -> bool:
        mine = containers.containers({LABEL_ENV: instance.environment})
        return not any(c.running for c in mine if c.name == instance.ident)

    def logs(self, instance: Instance) -> str:
        try:
            raw = containers.engine().containers.get(instance.ident).logs(tail=40)
        except Exception:  # gone already: nothing to show
            return ""
        return bytes(raw).decode(errors="replace")


def container_name(environment: str, model: str, version: str) -> str:
    return f"mlops-{environment}-{model}-v{version}"
