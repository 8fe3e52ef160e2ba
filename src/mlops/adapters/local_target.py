"""The `local` deploy target: one service process per (environment, model, version, replica).

The embedded default: no images. The pinned version's model directory is fetched from the
tracking store once and verified against registry.yaml (`prepare`), and the process loads it
from there; a version with no recorded digest loads straight from the tracking store.
Each instance (`mlops.serving.launcher` and its workers) runs in its own session (it
outlives the `mlops` command that started it) on a free loopback port, and leaves a small
record in `<state>/deploy/<env>/instances/`: its pid, start time, port, model, version and
replica. What is running is read from the processes themselves: a record counts only while
that very process lives (a later process that reuses the pid is not it, and is never
signalled) and its `/healthz` names the same model and version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters import probes, processes, serving_usage
from mlops.adapters.settings import Settings
from mlops.core.deploy import Instance
from mlops.errors import MlopsError

LAUNCHER = "mlops.serving.launcher"  # the service's process (run by name: no import here)
FETCH = "fetch"
Fetch = Callable[[str, str], "tuple[Path, bool] | None"]


class LocalTarget:
    """Serving processes on this machine, started and stopped by the deployer.

    With `fetch` (the deployer's), each version's model directory is downloaded once and
    verified before a start, and the process loads it from there: a scikit-learn model then
    starts without importing MLflow or asking the tracking store anything."""

    def __init__(self, settings: Settings, fetch: Fetch | None = None) -> None:
        self.settings = settings
        self.fetch = fetch
        self.fetched: dict[tuple[str, str], Path] = {}

    def folder(self, environment: str) -> Path:
        return instances_folder(self.settings, environment)

    def instances(self, environment: str) -> list[Instance]:
        found = []
        for record in records(self.settings, environment):
            try:
                pid, port = int(record["pid"]), int(record["port"])
                model, version = str(record["model"]), str(record["version"])
                replica = int(record.get("replica", 1))
            except (ValueError, KeyError, TypeError):
                continue  # a record being written, or not ours
            address = f"127.0.0.1:{port}"
            healthy = _running(_owner(record)) and probes.identity(address) == (model, version)
            found.append(Instance(environment, model, version, address, str(pid), healthy,
                                  replica))  # fmt: skip
        return found

    def preparation(self, model: str, version: str) -> tuple[str, str] | None:
        """None: fetching a model directory is part of starting (seconds, not a build)."""
        return None

    def prepare(self, model: str, version: str) -> tuple[str, str] | None:
        """Download (once) and verify the version's model directory; without `fetch`, or
        with no digest recorded, the process loads it from the tracking store."""
        found = self.fetch(model, version) if self.fetch is not None else None
        if found is None:
            return None
        self.fetched[(model, version)], downloaded = found
        return (FETCH, f"downloaded and verified {found[0]}") if downloaded else None

    def start(
        self, environment: str, model: str, version: str, api_key: str | None, replica: int = 1
    ) -> Instance:
        folder = self.folder(environment)
        folder.mkdir(parents=True, exist_ok=True)
        self.settings.prediction_logs.mkdir(parents=True, exist_ok=True)
        port = probes.free_port()
        stem = _stem(model, version, replica)
        manifest = self.settings.root / "models" / model / "model.yaml"
        env = {
            **os.environ,
            "BENTOML_HOME": str(self.settings.state_dir / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_TRACKING_URI": self.settings.tracking_uri,
            "MLOPS_SERVE_MODEL": model,
            "MLOPS_SERVE_VERSION": version,
            "MLOPS_SERVE_MANIFEST": str(manifest),
            "MLOPS_SERVE_PREDICTION_LOGS": str(self.settings.prediction_logs),
            "MLOPS_SERVE_ENVIRONMENT": environment,
        }
        env.pop("MLOPS_SERVE_MODEL_URI", None)
        if (model, version) in self.fetched:
            env["MLOPS_SERVE_MODEL_URI"] = str(self.fetched[model, version])
        env.pop("MLOPS_SERVE_API_KEY", None)
        env.pop("MLOPS_SERVE_KEYS", None)
        for key in [k for k, v in env.items() if k.startswith("MLOPS_SERVE_") and not v]:
            env.pop(key)  # a workflow passes an unset secret (the PII key) as ""
        if api_key:  # the platform's key, and the clients' keys of `mlops keys`
            env["MLOPS_SERVE_API_KEY"] = api_key
            env["MLOPS_SERVE_KEYS"] = str(self.settings.access_keys)
        command = [sys.executable, "-m", LAUNCHER, "--host", "127.0.0.1", "--port", str(port)]
        log = folder / f"{stem}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=folder, start_new_session=True,
            )  # fmt: skip
        owner = processes.identity(process.pid)  # None: it has exited already
        start_time = None if owner is None else owner[1]
        record = {"pid": process.pid, "start_time": start_time, "port": port,
                  "model": model, "version": version, "replica": replica, "log": str(log),
                  "started": time.time()}  # fmt: skip
        tmp = folder / f".{stem}.json.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(folder / f"{stem}.json")
        return Instance(environment, model, version, f"127.0.0.1:{port}", str(process.pid), False,
                        replica)  # fmt: skip

    def logs(self, instance: Instance) -> str:
        log = self._record(instance)[1].get("log")
        try:
            return Path(str(log)).read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return ""

    def exited(self, instance: Instance) -> bool:
        return not _running(_owner(self._record(instance)[1]))

    def stop(self, instance: Instance, timeout: float = 30.0) -> None:
        """Stop the process group gracefully (SIGTERM: BentoML finishes in-flight requests),
        then SIGKILL after `timeout`; forget its record. A record whose process is gone, or
        whose pid another process now holds, is only forgotten."""
        path, record = self._record(instance)
        owner = _owner(record)
        if owner is not None:
            try:
                processes.stop_group(owner, timeout)
            except PermissionError as exc:
                raise MlopsError(f"cannot stop process {owner[0]}: {exc}") from None
            if isinstance(record.get("started"), int | float):  # its hours, for `mlops costs`
                serving_usage.record(self.settings.deploy_folder, serving_usage.Ran(
                    instance.environment, instance.model, instance.version, instance.replica,
                    datetime.fromtimestamp(float(record["started"]), UTC), datetime.now(UTC),
                    {},
                ))  # fmt: skip
        if path is not None:
            path.unlink(missing_ok=True)

    def _record(self, instance: Instance) -> tuple[Path | None, dict[str, Any]]:
        """The instance's record file and content: the one naming its pid (under the name
        `start` gives it, else whatever the file is called, as earlier versions named them);
        (None, {}) when there is none, e.g. a later start replaced it."""
        folder = self.folder(instance.environment)
        own = folder / f"{_stem(instance.model, instance.version, instance.replica)}.json"
        for path in [own, *sorted(p for p in folder.glob("*.json") if p != own)]:
            record = _read(path)
            names = (str(record.get("pid")), record.get("model"), record.get("version"),
                     record.get("replica", 1))  # fmt: skip
            if names == (instance.ident, instance.model, instance.version, instance.replica):
                return path, record
        return None, {}


def _stem(model: str, version: str, replica: int) -> str:
    """The name of a replica's record and log; '@' is in neither model names nor versions,
    so no two replicas share one."""
    return f"{model}@{version}@{replica}"


def instances_folder(settings: Settings, environment: str) -> Path:
    """Where an environment's instance records are: one JSON file per running replica."""
    return settings.deploy_dir(environment) / "instances"


def records(settings: Settings, environment: str) -> list[dict[str, Any]]:
    """Every instance record of an environment, in name order; one being written, or not a
    JSON object, reads as {}."""
    return [_read(path) for path in sorted(instances_folder(settings, environment).glob("*.json"))]


def _read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _owner(record: dict[str, Any]) -> processes.Identity | None:
    """The process a record was written for: (pid, start time); None without a start time
    (such a pid may name anything by now)."""
    pid, start = record.get("pid"), record.get("start_time")
    if type(pid) is not int or type(start) is not int:
        return None
    return pid, start


def _running(owner: processes.Identity | None) -> bool:
    """Whether `owner` lives; our own exited child is reaped, not left a zombie."""
    if owner is None:
        return False
    processes.reap(owner)
    return processes.running(owner)
