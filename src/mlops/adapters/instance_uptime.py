"""Serving instances running on this deploy host, with the time each one started.

Why the deploy host: an instance-hour is a fact about the machine that runs the instance, and
that machine's own records are its first-hand account: the `local` target's instance records
(`<deploy folder>/<env>/instances/*.json`, written when the process starts, with its pid and
start time) and, for the `docker` target, the engine's containers (their labels and
`State.StartedAt`). GitHub deployment records say when an environment changed, not how many
replicas ran or for how long, and the tracking store holds nothing about serving. A deploy
host's folder outlives a checkout (`[tool.mlops.deploy] folder`), so a fresh runner of the
deploy host reads the same records. An instance counts while it runs: a stopped instance's
record is removed by the deployer, which appends its hours to the deploy host's ledger
(`adapters.serving_usage`) as it stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mlops.adapters import local_target, processes
from mlops.adapters.settings import Settings


@dataclass(frozen=True)
class RunningInstance:
    """One running serving instance: where, what, since when, and its labels."""

    environment: str
    model: str
    version: str
    replica: int
    started: datetime
    labels: dict[str, str]


def running_instances(settings: Settings, environments: tuple[str, ...]) -> list[RunningInstance]:
    """The configured target's running instances in `environments` (none for `none`)."""
    if settings.deploy.target == "docker":
        return _containers(environments)
    if settings.deploy.target == "local":
        return [i for env in environments for i in _local(settings, env)]
    return []


def _local(settings: Settings, environment: str) -> list[RunningInstance]:
    found = []
    for record in local_target.records(settings, environment):
        pid, start, started = record.get("pid"), record.get("start_time"), record.get("started")
        if type(pid) is not int or type(start) is not int or not isinstance(started, int | float):
            continue  # being written, or too old to say which process it was
        if not processes.running((pid, start)):
            continue  # exited: nothing runs, whatever the record says
        try:
            model, version = str(record["model"]), str(record["version"])
            replica = int(record.get("replica", 1))
        except (KeyError, TypeError, ValueError):
            continue
        when = datetime.fromtimestamp(float(started), UTC)
        found.append(RunningInstance(environment, model, version, replica, when, {}))
    return found


def _containers(environments: tuple[str, ...]) -> list[RunningInstance]:
    from mlops.adapters import containers
    from mlops.adapters.docker_target import LABEL_ENV, LABEL_REPLICA

    found = []
    for container in containers.engine().containers.list(filters={"label": [LABEL_ENV]}):
        attrs = container.attrs
        labels = {str(k): str(v) for k, v in (attrs.get("Config", {}).get("Labels") or {}).items()}
        started = containers.engine_time(str((attrs.get("State") or {}).get("StartedAt", "")))
        environment = labels.get(LABEL_ENV, "")
        replica = labels.get(LABEL_REPLICA, "1")
        if environment not in environments or started is None or not replica.isdigit():
            continue
        found.append(RunningInstance(environment, labels.get("mlops.model", ""),
                                     labels.get("mlops.version", ""), int(replica), started,
                                     labels))  # fmt: skip
    return found
