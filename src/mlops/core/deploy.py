"""Desired deployments (registry.yaml's stages) against what runs and what the router routes.

Pure planning, the deployment half of `mlops reconcile`. An environment serves, per model, a
set of versions with traffic weights: staging one version, production its version plus an
optional canary share. Every serving instance is keyed by (environment, model, version,
replica), so blue/green is "start the new version beside the old, switch the router, stop the
old", and a canary is two routed versions. A model may run several replicas of each routed
version (`serving.api.replicas` per environment): the version that takes all traffic runs them
all, the versions of a canary split run their share of them rounded up, at least one each (as
Argo Rollouts sizes a canary's ReplicaSet), and the router splits a version's weight evenly
over its replicas. The steps come in that order:

1. `start` each replica of a desired version that has no healthy instance (`replace` when an
   unhealthy one is in the way); the caller health- and smoke-checks it before anything
   routes to it;
2. `route` when the router's weights or replica counts differ from the desired ones;
3. `stop` every instance that the new routing no longer uses, replicas beyond the count
   included.

Standby (on by default): the version traffic has just left stays running, unrouted, as a
weight-0 backend in the route table (nginx sends it nothing, but serves it back in its own
`/-/routes`, so the standby is observed state, not a file). Reverting a promotion then only
switches nginx back, in about a second, instead of cold-starting the old version; the next
move replaces the standby. Argo Rollouts keeps the old ReplicaSet after a blue/green switch
(`scaleDownDelaySeconds`) for the same reason.

A version whose instance fails its checks keeps its model on the old routing: the caller
builds the route table with `route_table(..., keep=...)`, which holds the observed backends of
the models that must not move.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlops.core.routing import Backend, RouteTable
from mlops.core.stages import CANARY, PRODUCTION, STAGING


@dataclass(frozen=True)
class Instance:
    """One serving process or container of one model version, as read from the target."""

    environment: str
    model: str
    version: str
    address: str  # "127.0.0.1:PORT"
    ident: str  # what the target calls it: a process id, a container name
    healthy: bool
    replica: int = 1  # which of the version's replicas, from 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "model": self.model,
            "version": self.version,
            "replica": self.replica,
            "address": self.address,
            "ident": self.ident,
            "healthy": self.healthy,
        }


@dataclass(frozen=True)
class Step:
    kind: str  # "start" | "replace" | "route" | "stop"; a target adds "build" and "pull"
    environment: str
    model: str
    version: str | None
    detail: str
    replica: int = 1  # the replica a start or a stop is about

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "environment": self.environment,
            "model": self.model,
            "version": self.version,
            "replica": self.replica,
            "detail": self.detail,
        }


def desired_weights(entry: Mapping[str, Any], environment: str) -> dict[str, int]:
    """Version -> percent of the model's traffic that registry.yaml asks for in `environment`."""
    stages = entry.get("stages") or {}
    if environment == STAGING:
        staging = stages.get(STAGING)
        return {str(staging): 100} if staging is not None else {}
    production = stages.get(PRODUCTION)
    canary = stages.get(CANARY)
    weights = {str(production): 100} if production is not None else {}
    if isinstance(canary, Mapping) and canary.get("version") is not None:
        version, weight = str(canary["version"]), int(canary.get("weight", 0))
        if not weights:  # a canary without production (promote refuses it) serves alone
            return {version: 100}
        if version not in weights and 0 < weight < 100:
            weights = {str(production): 100 - weight, version: weight}
    return weights


def replica_counts(weights: Mapping[str, int], replicas: int) -> dict[str, int]:
    """How many instances each routed version runs out of the model's `replicas`: all of them
    for the version that takes all traffic; in a split, its share rounded up, at least one
    (a 10% canary of four replicas runs one, the 90% version all four)."""
    return {v: max(1, -(-replicas * w // 100)) for v, w in weights.items()}


def table_weights(
    entry: Mapping[str, Any],
    environment: str,
    observed: Mapping[str, int],
    healthy: set[str],
    standby: bool = True,
) -> dict[str, int]:
    """The model's backends to load: desired weights, plus (with `standby`) weight-0 entries
    for the versions traffic leaves now, else for the standby already kept, while healthy."""
    want = desired_weights(entry, environment)
    if not standby:
        return want
    leaving = {v for v, w in observed.items() if w > 0 and v not in want}
    kept = {v for v, w in observed.items() if w == 0 and v not in want}
    return {**{v: 0 for v in (leaving or kept) if v in healthy}, **want}


def plan(
    environment: str,
    models: Mapping[str, Any],
    instances: Iterable[Instance],
    routes: RouteTable | None,
    standby: bool = True,
    replicas: Mapping[str, int] | None = None,
) -> list[Step]:
    """The steps that make `environment` serve what `models` (registry.yaml) asks for, with
    `replicas[model]` instances (default 1) of the version that takes all its traffic."""
    running = [i for i in instances if i.environment == environment]
    routed = dict(routes.routes) if routes is not None else {}
    names = set(models) | {i.model for i in running} | set(routed)
    starts: list[Step] = []
    moves: list[Step] = []
    stops: list[Step] = []
    for model in sorted(names):
        entry = models.get(model) or {}
        count = (replicas or {}).get(model, 1)
        need = replica_counts(desired_weights(entry, environment), count)
        mine = [i for i in running if i.model == model]
        up = {(i.version, i.replica) for i in mine if i.healthy}
        for version in sorted(need):
            for replica in range(1, need[version] + 1):
                if (version, replica) in up:
                    continue
                broken = any((i.version, i.replica) == (version, replica) for i in mine)
                kind, why = ("replace", "its instance is unhealthy") if broken else ("start", "new")
                starts.append(Step(kind, environment, model, version, why, replica))
        have = _all_weights(routes, model)
        healthy = {version for version, _ in up}
        weights = table_weights(entry, environment, have, healthy, standby)
        seen = routes.replicas(model) if routes is not None else {}
        observed = {v: (w, seen.get(v, 1)) for v, w in have.items()}
        target = {v: (w, need[v] if v in need else _standing(mine, v, count))
                  for v, w in weights.items()}  # fmt: skip
        target = {v: (w, n) for v, (w, n) in target.items() if n > 0}
        if observed != target:
            moves.append(Step("route", environment, model, None,
                              f"{_describe(observed)} -> {_describe(target)}"))  # fmt: skip
        for instance in sorted(mine, key=lambda i: (i.version, i.replica, i.ident)):
            reason = _leaves(instance, weights, need.get(instance.version, count))
            if reason is not None:
                stops.append(Step("stop", environment, model, instance.version,
                                  f"{instance.ident} ({reason})", instance.replica))  # fmt: skip
    return starts + moves + stops


def _standing(instances: Iterable[Instance], version: str, count: int) -> int:
    """The healthy replicas of a standby `version` it keeps: those numbered up to `count`."""
    return len({i.replica for i in instances
                if i.version == version and i.healthy and i.replica <= count})  # fmt: skip


def _leaves(instance: Instance, weights: Mapping[str, int], count: int) -> str | None:
    """Why `instance` is stopped, or None when the routing keeps it."""
    if instance.version not in weights:
        return "no longer routed"
    if not instance.healthy:
        return "unhealthy"
    if instance.replica > count:
        return f"beyond {count} replica{'s' if count > 1 else ''}"
    return None


def route_table(
    environment: str,
    port: int,
    models: Mapping[str, Any],
    instances: Iterable[Instance],
    observed: RouteTable | None,
    keep: Iterable[str] = (),
    standby: bool = True,
    replicas: Mapping[str, int] | None = None,
) -> RouteTable:
    """The routing to load: `table_weights` over the healthy replicas the plan keeps, except
    for the models in `keep`, which stay as `observed` routes them (their new version failed
    its checks)."""
    held = set(keep)
    by_key = {(i.model, i.version, i.replica): i for i in instances
              if i.environment == environment and i.healthy}  # fmt: skip
    routes: dict[str, tuple[Backend, ...]] = {}
    for model in sorted(set(models) | held):
        if model in held:
            kept = observed.routes.get(model, ()) if observed is not None else ()
            if kept:
                routes[model] = tuple(kept)
            continue
        entry = models.get(model) or {}
        count = (replicas or {}).get(model, 1)
        need = replica_counts(desired_weights(entry, environment), count)
        healthy = {version for (name, version, _) in by_key if name == model}
        have = _all_weights(observed, model)
        wanted = table_weights(entry, environment, have, healthy, standby)
        backends = [
            Backend(version, instance.address, wanted[version])
            for (name, version, replica), instance in sorted(by_key.items())
            if name == model and version in wanted and replica <= need.get(version, count)
        ]
        if backends:
            routes[model] = tuple(backends)
    return RouteTable(environment, port, routes)


def kept_addresses(table: RouteTable) -> set[str]:
    """Every backend address in the table, routed or standby: the instances to keep."""
    return {b.address for backends in table.routes.values() for b in backends}


def _all_weights(table: RouteTable | None, model: str) -> dict[str, int]:
    """Version -> weight of every backend of `model` in `table`, standbys (0) included."""
    if table is None:
        return {}
    return {b.version: b.weight for b in table.routes.get(model, ())}


def _describe(backends: Mapping[str, tuple[int, int]]) -> str:
    """version -> (weight, replicas) as "v1:90%, v2:10%" ("v1:100% x2" with two replicas)."""
    if not backends:
        return "(none)"
    return ", ".join(
        (f"v{v}:{w}%" if w else f"v{v}:standby") + (f" x{n}" if n > 1 else "")
        for v, (w, n) in sorted(backends.items())
    )
