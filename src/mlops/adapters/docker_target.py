"""The `docker` deploy target: one container per (environment, model, version, replica).

Containers run the version's image on the host network, bound to a free loopback port, with
the model's `serving.api.resources` as CPU and memory limits, and carry labels saying what
they serve; what is running is read back from the engine through
those labels and confirmed by each container's own `/healthz`.

Which image runs (`mlops.core.image_reference.choose_image`): a version whose registry.yaml
entry records a pushed reference (`image`, pinned by digest) runs exactly that, pulled first
when the engine lacks it, so a deploy host needs only the engine and registry access and a
revert rebuilds nothing even where the image was never built. Without one, the engine's own
image of that version is reused as it is; a missing image is built by the injected builder,
which verifies the model first and, when an image registry is configured, pushes the image
and returns its pinned reference: that reference is what runs (also for a version built
before the registry was configured).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters import containers, images, probes, serving_usage
from mlops.adapters.image_registry import pull
from mlops.adapters.shared_folders import shared_folder
from mlops.core.deploy import Instance
from mlops.core.image_reference import (
    BUILD,
    PULL,
    RUN,
    ImageChoice,
    choose_image,
    image_mismatch,
    references,
)
from mlops.core.resources import Limits

LABEL_ENV = "mlops.environment"
LABEL_PORT = "mlops.port"
LABEL_REPLICA = "mlops.replica"
ACCESS_INSIDE = "/var/lib/mlops/access"  # where a container sees the clients' keys
LOGS_INSIDE = "/var/lib/mlops/predictions"  # where a container sees the host's log folder
PII_KEY_ENV = "MLOPS_SERVE_PII_KEY"


class DockerTarget:
    """Containers on the Docker engine that DOCKER_HOST (or the local socket) names.

    `build(model, version)` builds (and with a registry, pushes) a version's image and
    returns the reference to run; `registry` says whether an image registry is configured.
    """

    def __init__(
        self,
        models: Mapping[str, Any],
        build: Callable[[str, str], str],
        registry: bool = False,
        *,
        pushed: Callable[[str, str], str | None] | None = None,
        network: str = "host",
        prediction_logs: Path | None = None,
        limits: Callable[[str], Limits] | None = None,
        cost_labels: Callable[[str], Mapping[str, str]] | None = None,
        access: Path | None = None,
        usage: Path | None = None,
    ) -> None:
        self.models = models
        self.build = build
        self.registry = registry
        self.pushed = pushed  # the reference a build elsewhere pushed and recorded, if any
        self.network = network
        self.prediction_logs = prediction_logs  # a host folder mounted into every container
        self.limits = limits  # a model's CPU and memory limits (its serving.api.resources)
        self.cost_labels = cost_labels  # a model's owner and cost-centre labels
        self.access = access  # the host folder of the clients' keys file, mounted
        self.usage = usage  # the deploy folder, whose ledger records stopped containers
        self.built: dict[tuple[str, str], str] = {}  # what this run built: run exactly that
        self._pushed: dict[tuple[str, str], str | None] = {}

    def choice(self, model: str, version: str) -> ImageChoice:
        """What serving `version` takes on this engine: run, pull or build which image."""
        if (model, version) in self.built:
            return ImageChoice(RUN, self.built[(model, version)])
        entry = self._entry(model, version)
        local = images.image_name(model, version)
        on_engine = {}
        for reference in references(entry, local):
            found = images.image_digest(reference)
            if found is not None:
                on_engine[reference] = found
        labels = images.image_labels(local) if local in on_engine else None
        sha = (labels or {}).get("mlops.model_sha256")
        return choose_image(entry, local, on_engine, sha, registry=self.registry)

    def preparation(self, model: str, version: str) -> tuple[str, str] | None:
        """What must happen before the version can start here, and why; None: nothing."""
        choice = self.choice(model, version)
        if choice.action == PULL:
            return PULL, f"{choice.image} is not on this engine"
        if choice.action == BUILD:
            pushed = " pushed" if self.registry else ""
            return BUILD, f"no{pushed} image of this version yet"
        return None

    def prepare(self, model: str, version: str) -> tuple[str, str] | None:
        """Pull or build the version's image unless the engine has it; says what it did."""
        choice = self.choice(model, version)
        if choice.action == RUN:
            return None
        if choice.action == PULL and choice.image is not None:
            image_id = pull(choice.image)
            label = (images.image_labels(choice.image) or {}).get("mlops.model_sha256")
            problem = image_mismatch(self._entry(model, version), choice.image, image_id, label)
            if problem:
                raise containers.ContainerError(problem)
            return PULL, f"pulled {choice.image}"
        reference = self.build(model, version)
        self.built[(model, version)] = reference
        return BUILD, f"built {reference}"

    def start(
        self, environment: str, model: str, version: str, api_key: str | None, replica: int = 1
    ) -> Instance:
        image = self.choice(model, version).image or images.image_name(model, version)
        name = container_name(environment, model, version, replica)
        containers.stop_container(name)  # a stopped or broken leftover of the same replica
        port = probes.free_port()
        labels = {LABEL_ENV: environment, "mlops.model": model, "mlops.version": version,
                  LABEL_REPLICA: str(replica), LABEL_PORT: str(port)}  # fmt: skip
        labels.update(self.cost_labels(model) if self.cost_labels else {})
        env = {"MLOPS_SERVE_ENVIRONMENT": environment}
        shared = {}
        if api_key:  # the platform's key, and the clients' keys of `mlops keys`
            env["MLOPS_SERVE_API_KEY"] = api_key
            if self.access is not None:  # the folder, not the file: replacing the file
                shared_folder(self.access)  # gives it a new inode a file mount would miss
                shared[str(self.access)] = ACCESS_INSIDE
                env["MLOPS_SERVE_KEYS"] = f"{ACCESS_INSIDE}/keys.json"
        if os.environ.get(PII_KEY_ENV):
            env[PII_KEY_ENV] = os.environ[PII_KEY_ENV]
        if self.prediction_logs is not None:
            shared_folder(self.prediction_logs)
            shared[str(self.prediction_logs)] = LOGS_INSIDE
            env["MLOPS_SERVE_PREDICTION_LOGS"] = LOGS_INSIDE
        limits = self.limits(model) if self.limits else None
        containers.run_container(image, name, port, labels, env, network=self.network,
                                 shared=shared, limits=limits)  # fmt: skip
        return Instance(environment, model, version, f"127.0.0.1:{port}", name, False, replica)

    def instances(self, environment: str) -> list[Instance]:
        found = []
        for container in containers.containers({LABEL_ENV: environment}):
            labels = container.labels
            model, version = labels.get("mlops.model", ""), labels.get("mlops.version", "")
            address = f"127.0.0.1:{labels.get(LABEL_PORT, '0')}"
            label = labels.get(LABEL_REPLICA, "1")  # containers started before replicas: 1
            replica = int(label) if label.isdigit() else 0  # 0: not ours to keep; stopped
            healthy = (container.running and replica > 0
                       and probes.identity(address) == (model, version))  # fmt: skip
            found.append(Instance(environment, model, version, address, container.name, healthy,
                                  replica))  # fmt: skip
        return found

    def stop(self, instance: Instance) -> None:
        started = containers.started_at(instance.ident)
        containers.stop_container(instance.ident)
        if self.usage is not None and started is not None:  # its hours, for `mlops costs`
            labels = self.cost_labels(instance.model) if self.cost_labels else {}
            serving_usage.record(self.usage, serving_usage.Ran(
                instance.environment, instance.model, instance.version, instance.replica,
                started, datetime.now(UTC), dict(labels),
            ))  # fmt: skip

    def exited(self, instance: Instance) -> bool:
        mine = containers.containers({LABEL_ENV: instance.environment})
        return not any(c.running for c in mine if c.name == instance.ident)

    def logs(self, instance: Instance) -> str:
        try:
            raw = containers.engine().containers.get(instance.ident).logs(tail=40)
        except Exception:  # gone already: nothing to show
            return ""
        return bytes(raw).decode(errors="replace")

    def _entry(self, model: str, version: str) -> Mapping[str, Any]:
        """The version's registry.yaml entry; without a recorded `image`, and with a
        registry, the reference a build on another machine pushed (asked once)."""
        versions = (self.models.get(model) or {}).get("versions") or {}
        entry = versions.get(version)
        entry = entry if isinstance(entry, Mapping) else {}
        if entry.get("image") or not self.registry:
            return entry
        key = (model, version)
        if key not in self._pushed:
            self._pushed[key] = self.pushed(model, version) if self.pushed else None
        found = self._pushed[key]
        return {**entry, "image": found} if found else entry


def container_name(environment: str, model: str, version: str, replica: int = 1) -> str:
    """`mlops-production-breast-cancer-v2-r1`: the replica suffix is always there, so no
    version (which may hold '-') and replica give the name of another."""
    return f"mlops-{environment}-{model}-v{version}-r{replica}"
