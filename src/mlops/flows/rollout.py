"""Carry out one environment's deployment plan: blue/green and canary behind nginx.

Start each replica of a new version beside the old ones, wait for `/readyz`, send one smoke
prediction through `/predict`, and only then load the new routing into nginx (`nginx -t`,
graceful reload, old workers drained), and stop what is no longer routed. A version with a
replica that fails its checks is stopped and never routed: its model keeps the routing it
had, the other models move on, and the failure is reported (the command then exits
non-zero). How many replicas each model runs is the checkout's manifest's
`serving.api.replicas` for the environment.

Clients reach an environment at `https://127.0.0.1:<port>` only, and trust its router with
the CA file `Outcome.ca` names: `<deploy folder>/tls/ca.pem` for the local CA made on the
first apply, else the configured `[tool.mlops.deploy] tls` CA. Every apply first makes the
certificates current (or checks the configured ones: a bad file stops the apply before any
router changes), and reloads a router whose certificate was renewed.
"""

from __future__ import annotations

import functools
import os
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import yaml

from mlops.adapters import atomic, certificates, probes
from mlops.adapters.nginx import Router
from mlops.adapters.settings import Settings
from mlops.core.alert_rules import scrape_targets
from mlops.core.costs import cost_labels
from mlops.core.deploy import Instance, Step, kept_addresses, plan, route_table
from mlops.core.progress import QUIET, Reporter
from mlops.core.resources import Limits, limits_of, replicas_of
from mlops.core.routing import RouteTable
from mlops.core.stages import ENVIRONMENTS
from mlops.core.tls import TlsFiles
from mlops.errors import MlopsError


class Target(Protocol):
    """Where instances run: processes (`local`) or containers (`docker`)."""

    def instances(self, environment: str) -> list[Instance]: ...

    def preparation(self, model: str, version: str) -> tuple[str, str] | None:
        """(kind, why) of what must happen before `version` can start: "build" or "pull"."""

    def prepare(self, model: str, version: str) -> tuple[str, str] | None:
        """Do that; (kind, what was done), or None when there was nothing to do."""

    def start(
        self, environment: str, model: str, version: str, api_key: str | None, replica: int = 1
    ) -> Instance: ...

    def stop(self, instance: Instance) -> None: ...

    def exited(self, instance: Instance) -> bool: ...

    def logs(self, instance: Instance) -> str: ...


@dataclass
class Outcome:
    """What one environment's reconcile planned, did and failed at."""

    environment: str
    url: str
    steps: list[Step]
    done: list[Step] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    routes: RouteTable | None = None
    ca: str | None = None  # the CA file clients verify `url` with

    @property
    def changed(self) -> bool:
        return bool(self.done)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "url": self.url,
            "steps": [s.to_dict() for s in self.steps],
            "done": [s.to_dict() for s in self.done],
            "failures": self.failures,
            "routes": self.routes.to_dict() if self.routes is not None else None,
            "ca": self.ca,
        }


def make_target(
    settings: Settings, models: Mapping[str, Any], progress: Reporter = QUIET
) -> Target:
    """The configured deploy target (`[tool.mlops.deploy] target`); a build it makes tells
    `progress` of its stages."""
    if settings.deploy.target == "docker":
        from mlops.adapters.docker_target import DockerTarget
        from mlops.flows.building import build_version, publish, pushed_image

        def build(model: str, version: str) -> str:
            """Build (and push, with a registry) the version: the reference to run."""
            entry = models[model]["versions"][version]
            language = str(manifest_of(settings, model).get("language", "python"))
            built = build_version(settings, model, version, entry, language, progress)
            return publish(settings, model, version, built, progress) or built.digest

        def limits(model: str) -> Limits:
            """The model's serving.api.resources, as the checkout's manifest sets them."""
            return limits_of(manifest_of(settings, model))

        def labels(model: str) -> dict[str, str]:
            """Who owns and pays for the model's containers (`mlops.owner`, `mlops.cost_centre`)."""
            return cost_labels(manifest_of(settings, model))

        return DockerTarget(models, build, registry=settings.deploy.registry is not None,
                            pushed=functools.partial(pushed_image, settings),
                            network=settings.deploy.network,
                            prediction_logs=settings.prediction_logs, limits=limits,
                            cost_labels=labels,
                            access=settings.access_keys.parent,
                            usage=settings.deploy_folder)  # fmt: skip
    from mlops.adapters.local_target import LocalTarget
    from mlops.flows.building import fetch_version

    def fetch(model: str, version: str) -> tuple[Path, bool] | None:
        """The version's verified model directory on this machine (see fetch_version)."""
        return fetch_version(settings, model, version, models[model]["versions"][version])

    return LocalTarget(settings, fetch)


def stop_all(settings: Settings) -> None:
    """Stop every instance and router this repository's deployments started (the demo's,
    benchmarks' and tests' clean-up; registry.yaml is not consulted)."""
    target = make_target(settings, {})
    for environment in ENVIRONMENTS:
        for instance in target.instances(environment):
            target.stop(instance)
        router(settings, environment).stop()


def router(settings: Settings, environment: str) -> Router:
    port = settings.deploy.ports[environment]
    return Router(settings.router_dir(environment), port, tls_files(settings))


def environment_url(settings: Settings, environment: str) -> str:
    return f"https://127.0.0.1:{settings.deploy.ports[environment]}"


def tls_files(settings: Settings) -> TlsFiles:
    """The routers' certificate, key and CA: the configured ones, else the local CA's."""
    return settings.deploy.tls or certificates.local_files(settings.deploy_folder)


def prepare_tls(settings: Settings) -> TlsFiles:
    """The routers' certificate files, ready to serve: the local CA and a current server
    certificate made, or the configured files checked (CertificateError naming the file)."""
    if settings.deploy.tls is not None:
        return certificates.check_configured(settings.deploy.tls)
    return certificates.ensure_local(settings.deploy_folder)


def trust(settings: Settings) -> ssl.SSLContext:
    """A client context that verifies this deploy host's routers."""
    return certificates.client_context(tls_files(settings).ca)


def manifest_of(settings: Settings, model: str) -> Mapping[str, Any]:
    """The checkout's model.yaml of `model`; empty once its folder is gone (a model being
    retired is still stopped and unrouted)."""
    path = settings.root / "models" / model / "model.yaml"
    if not path.is_file():
        return {}
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    return manifest if isinstance(manifest, Mapping) else {}


def replicas_wanted(
    settings: Settings, environment: str, models: Mapping[str, Any]
) -> dict[str, int]:
    """Model -> instances of its served version in `environment` (serving.api.replicas)."""
    return {model: replicas_of(manifest_of(settings, model), environment) for model in models}


def planned(
    settings: Settings, target: Target, environment: str, models: Mapping[str, Any]
) -> Outcome:
    """The steps that would make `environment` match `models`, changing nothing."""
    routes = router(settings, environment).observed()
    replicas = replicas_wanted(settings, environment, models)
    steps = plan(environment, models, target.instances(environment), routes,
                 settings.deploy.standby, replicas)  # fmt: skip
    prepared = []
    for step in steps:
        if step.kind in ("start", "replace") and step.version:
            needed = target.preparation(step.model, step.version)
            if needed is not None:
                prepared.append(Step(needed[0], environment, step.model, step.version, needed[1]))
    return Outcome(environment, environment_url(settings, environment), prepared + steps,
                   routes=routes, ca=tls_files(settings).ca)  # fmt: skip


def apply(
    settings: Settings, target: Target, environment: str, models: Mapping[str, Any],
    progress: Reporter = QUIET,
) -> Outcome:  # fmt: skip
    """Carry the plan out (see the module docstring). Once it has started, it never raises:
    a failure (a version's checks, the router) is kept in the outcome with what was done.
    Certificates that cannot serve (see `prepare_tls`) raise before anything starts.
    `progress` hears of each action as it runs: prepare, start, health and smoke checks,
    the router, and each stop."""
    files = prepare_tls(settings)
    nginx = router(settings, environment)
    observed = nginx.observed()
    instances = target.instances(environment)
    replicas = replicas_wanted(settings, environment, models)
    steps = plan(environment, models, instances, observed, settings.deploy.standby, replicas)
    outcome = Outcome(environment, environment_url(settings, environment), steps, routes=observed,
                      ca=files.ca)  # fmt: skip
    if steps:
        progress.expect(_actions(steps))
        try:
            _carry_out(settings, target, nginx, outcome, models, instances, replicas, progress)
        except MlopsError as exc:
            outcome.failures.append(f"{environment}: {exc.message}")
    elif observed is not None:
        try:  # the same routes; a renewed certificate still reloads nginx
            nginx.apply(observed)
        except MlopsError as exc:
            outcome.failures.append(f"{environment}: {exc.message}")
    _scrape_targets(settings, environment, target.instances(environment) if steps else instances)
    return outcome


def _scrape_targets(settings: Settings, environment: str, instances: list[Instance]) -> None:
    """What Prometheus scrapes in `environment`: its healthy instances, labelled, in
    `<deploy folder>/prometheus/<environment>.json` (file-based service discovery)."""
    serving = [(i.environment, i.model, i.version, i.address) for i in instances if i.healthy]
    path = settings.deploy_folder / "prometheus" / f"{environment}.json"
    text = scrape_targets(serving)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, text)


def _actions(steps: list[Step]) -> int:
    """The actions carrying `steps` out takes: each version prepared once, each replica
    started, health-checked and smoke-checked, and the router updated (stops are counted
    once they are known)."""
    starts = [s for s in steps if s.kind in ("start", "replace") and s.version is not None]
    return len({(s.model, s.version) for s in starts}) + 3 * len(starts) + 1


def _carry_out(
    settings: Settings, target: Target, nginx: Router, outcome: Outcome,
    models: Mapping[str, Any], instances: list[Instance], replicas: Mapping[str, int],
    progress: Reporter,
) -> None:  # fmt: skip
    environment, steps, observed = outcome.environment, outcome.steps, outcome.routes
    key = api_key(settings)
    live = [i for i in instances if i.healthy]
    stopped: set[str] = set()
    ready: set[tuple[str, str]] = set()  # versions prepared (built, pulled, fetched) this run
    failed: set[str] = set()
    for step in steps:
        if step.kind not in ("start", "replace") or step.version is None:
            continue
        if step.model in failed:
            continue  # a replica of its version failed already: the model keeps its routing
        for broken in instances:  # an unhealthy instance of this replica makes room first
            if _same_replica(broken, step) and not broken.healthy:
                target.stop(broken)
                stopped.add(broken.ident)
        started = _start(settings, target, step, key, outcome, ready, progress)
        if started is None:
            failed.add(step.model)
        else:
            live.append(started)
            outcome.done.append(step)
    table = route_table(environment, settings.deploy.ports[environment], models, live,
                        observed, keep=failed, standby=settings.deploy.standby,
                        replicas=replicas)  # fmt: skip
    with progress.stage(f"{environment}: update the router (nginx)"):
        if observed is None or table.to_dict() != observed.to_dict():
            nginx.apply(table)
            outcome.done += [s for s in steps if s.kind == "route" and s.model not in failed]
    outcome.routes = table
    kept = kept_addresses(table)
    leaving: dict[str, Instance] = {}
    for instance in [*instances, *live]:
        if instance.address not in kept and instance.ident not in stopped:
            leaving.setdefault(instance.ident, instance)
    progress.expect(len(leaving))
    for instance in leaving.values():
        with progress.stage(f"{environment}: stop {instance.ident}"):
            target.stop(instance)
        stopped.add(instance.ident)
        why = f"{instance.ident} (no longer routed)"
        outcome.done.append(Step("stop", environment, instance.model, instance.version, why,
                                 instance.replica))  # fmt: skip


def _same_replica(instance: Instance, step: Step) -> bool:
    return (instance.model, instance.version, instance.replica) == (
        step.model, step.version, step.replica)  # fmt: skip


def _start(
    settings: Settings,
    target: Target,
    step: Step,
    key: str | None,
    outcome: Outcome,
    ready: set[tuple[str, str]],
    progress: Reporter,
) -> Instance | None:
    """Start, health-check and smoke-check one replica; None (and a failure) if it fails.
    Its version is prepared first unless `ready` holds it (its other replicas share it)."""
    assert step.version is not None
    replica = f" (replica {step.replica})" if step.replica > 1 else ""
    where = f"{step.model} version {step.version}{replica} in {step.environment}"
    version = f"{step.model} version {step.version}"
    instance: Instance | None = None
    try:
        if (step.model, step.version) not in ready:
            with progress.stage(f"{step.environment}: prepare {version}"):
                prepared = target.prepare(step.model, step.version)
            ready.add((step.model, step.version))
            if prepared is not None:
                kind, detail = prepared
                outcome.done.append(Step(kind, step.environment, step.model, step.version,
                                         detail))  # fmt: skip
        with progress.stage(f"{step.environment}: start {version}{replica}"):
            instance = started = target.start(step.environment, step.model, step.version, key,
                                              step.replica)  # fmt: skip
        with progress.stage(f"{step.environment}: health-check {version}{replica}"):
            probes.wait_ready(
                started.address,
                settings.deploy.check_timeout,
                lambda: target.exited(started),
                lambda: target.logs(started),
            )
        with progress.stage(f"{step.environment}: smoke-check {version}{replica}"):
            probes.smoke(started.address, smoke_row(settings.root, step.model), key,
                         (step.model, step.version))  # fmt: skip
    except MlopsError as exc:
        if instance is not None:
            target.stop(instance)
        outcome.failures.append(f"{where}: {exc.message}")
        return None
    return replace(instance, healthy=True)


def smoke_row(root: Path, model: str) -> dict[str, Any]:
    """A typical row of the model's features, as model.yaml declares them."""
    from mlops.core.features import features_from_manifest
    from mlops.serving.requests import smoke_row as typical_row

    manifest = yaml.safe_load((root / "models" / model / "model.yaml").read_text(encoding="utf-8"))
    return typical_row(features_from_manifest(manifest), None)


def api_key(settings: Settings) -> str | None:
    """The key instances require on /predict when auth is on: MLOPS_SERVE_API_KEY, else one
    generated once per deploy folder (readable by its owner only)."""
    if not settings.deploy.auth:
        return None
    given = os.environ.get("MLOPS_SERVE_API_KEY")
    if given:
        return given
    path = settings.deploy_folder / "api-key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key
