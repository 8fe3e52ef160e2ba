"""Shared pieces of the serving benchmarks: a trained scratch repository and server processes.

`trained_repository` copies the platform files and breast-cancer into a scratch git repository
(as bench/train_overhead.py does) and trains version 1 into its embedded MLflow store.
`server` starts a command in its own process group, waits until a URL answers 200 and stops
the whole group afterwards; `tree_cpu_seconds` is the CPU time a server's processes used.
"""

from __future__ import annotations

import csv
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from train_overhead import ENV, MODEL, prepare, run

from mlops.adapters.probes import free_port
from mlops.serving import launcher
from mlops.testing.process_groups import stop_group

__all__ = ["free_port"]  # rollout.py imports it from here

SERVICE = "mlops.serving.service:ModelService"


def trained_repository(root: Path) -> Path:
    """`root` as a git repository holding breast-cancer version 1 in `.mlops/mlflow.db`."""
    prepare(root)
    run([sys.executable, "-m", "mlops", "train", MODEL], root)
    return root


def tracking_uri(root: Path) -> str:
    return f"sqlite:///{root / '.mlops' / 'mlflow.db'}"


def serve_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment a deployer sets to serve breast-cancer version 1 of `root`'s store."""
    return {
        **ENV,
        "BENTOML_DO_NOT_TRACK": "true",
        "DO_NOT_TRACK": "1",
        "BENTOML_HOME": str(root.parent / "bentoml-home"),
        "MLFLOW_TRACKING_URI": tracking_uri(root),
        "MLOPS_SERVE_MODEL": MODEL,
        "MLOPS_SERVE_VERSION": "1",
        "MLOPS_SERVE_MANIFEST": str(root / "models" / MODEL / "model.yaml"),
        **extra,
    }


def fetched_model(root: Path, folder: Path) -> Path:
    """Version 1's model directory downloaded from `root`'s store, as the local target keeps
    it before starting the version (untimed: once per machine and version)."""
    import mlflow

    from mlops.adapters.tracking import download_model

    mlflow.set_tracking_uri(tracking_uri(root))
    return download_model(f"models:/{MODEL}/1", folder)


def service_command(port: int) -> list[str]:
    """Our service as deployments start it."""
    return launcher.command(port)


def check_answer(
    name: str, url: str, body: Any, context: ssl.SSLContext | None = None
) -> dict[str, Any]:
    """The answer to one request: 200 with one prediction, or the load would measure errors.
    An https URL (a router) is verified with `context`, one that trusts the routers' CA."""
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        answer = json.loads(response.read())
    if len(answer.get("predictions", ())) != 1:
        raise SystemExit(f"{name}: unexpected answer {answer}")
    return dict(answer)


def holdout_rows(root: Path, count: int) -> list[dict[str, Any]]:
    """The first `count` holdout rows as JSON values, without the target."""
    with (root / "models" / MODEL / "data" / "holdout.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:count]
    return [{k: json.loads(v) for k, v in row.items() if k != "malignant"} for row in rows]


@contextmanager
def server_process(
    command: list[str], probe: str, env: dict[str, str], log: Path, timeout: float = 120
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Run `command` until `probe` answers 200; yields the process (the leader of its own
    process group) and the seconds that took."""
    start = time.perf_counter()
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env,
                                   cwd=log.parent, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(probe, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[2:4]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)  # start-to-ready is measured to this step
        yield process, time.perf_counter() - start
    finally:
        stop_group(process, 30)


@contextmanager
def server(
    command: list[str], probe: str, env: dict[str, str], log: Path, timeout: float = 120
) -> Iterator[float]:
    """Run `command` until `probe` answers 200; yields the seconds that took."""
    with server_process(command, probe, env, log, timeout) as (_, started):
        yield started


def tree_cpu_seconds(pid: int) -> float:
    """The user and system CPU seconds that process `pid` and its live descendants have used
    (Linux /proc; BentoML's workers start sessions of their own, so a process group misses
    them). Other programs on the machine slow a server down but barely change this."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended
            continue
        child = int(stat.parent.name)  # after the name: state, ppid, ... utime, stime
        parents[child], ticks[child] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, found = {pid}, {pid}
    while found:
        found = {child for child, parent in parents.items() if parent in found} - tree
        tree |= found
    return sum(ticks.get(member, 0) for member in tree) / os.sysconf("SC_CLK_TCK")
