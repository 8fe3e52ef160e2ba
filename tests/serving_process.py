"""`bentoml serve mlops.serving.service:ModelService` as a test starts it: a subprocess on a
free loopback port configured only by environment variables, stopped by its process group."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import wait_until_answers

from mlops.adapters.probes import free_port
from mlops.serving import launcher
from mlops.testing.process_groups import stop_group

MODEL = "breast-cancer"
SERVICE = "mlops.serving.service:ModelService"
BENTOML = [sys.executable, "-m", "bentoml"]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Server:
    url: str
    log: Path
    pid: int = 0  # of `bentoml serve`, the leader of its process group

    def workers(self) -> int:
        """The worker processes serving the model: `bentoml serve`'s descendants that run
        the service (they start sessions of their own, so /proc is read, not the group)."""
        parents: dict[int, int] = {}
        commands: dict[int, bytes] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
                commands[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            parents[int(stat.parent.name)] = int(fields[1])
        tree, found = {self.pid}, {self.pid}
        while found:
            found = {child for child, parent in parents.items() if parent in found} - tree
            tree |= found
        return sum(b"_bentoml_impl.worker.service" in commands.get(pid, b"") for pid in tree)

    def call(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        """GET `path`, or POST `body` as JSON; the reply whatever its status."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data, {"Content-Type": "application/json", **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw, found = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, found = error.code, error.read(), error.headers
        text = raw.decode()
        is_json = found.get("content-type", "").startswith("application/json")
        return Reply(status, {k.lower(): v for k, v in found.items()},
                     json.loads(text) if is_json else text)  # fmt: skip


def serve_env(root: Path, model: str, version: str = "1", **extra: str) -> dict[str, str]:
    """The environment a deployer sets for one model version of `root`'s store."""
    return {
        **os.environ,
        "BENTOML_DO_NOT_TRACK": "true",
        "BENTOML_HOME": str(root.parent / "bentoml-home"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / '.mlops' / 'mlflow.db'}",
        "MLOPS_SERVE_MODEL": model,
        "MLOPS_SERVE_VERSION": version,
        "MLOPS_SERVE_MANIFEST": str(root / "models" / model / "model.yaml"),
        **extra,
    }


@contextmanager
def serving(root: Path, env: dict[str, str], ready: bool = True) -> Iterator[Server]:
    """The service as deployments start it (`mlops.serving.launcher`) on a free loopback
    port, until /readyz (or /healthz) answers 200."""
    port = free_port()
    log = root.parent / f"serve-{port}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            launcher.command(port),
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=root.parent,
            start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", log, process.pid)
    try:
        probe = f"{server.url}/readyz" if ready else f"{server.url}/healthz"
        wait_until_answers(probe, process, 120, log.read_text, "the service")
        yield server
    finally:
        stop_group(process, 30)


def holdout_rows(root: Path, model: str, target: str, count: int) -> list[dict[str, Any]]:
    path = root / "models" / model / "data" / "holdout.csv"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))[:count]
    return [{k: json.loads(v) for k, v in row.items() if k != target} for row in rows]
