"""Start the model service: bind its port, run its worker processes, and keep them running.

    python -m mlops.serving.launcher [--host 127.0.0.1] [--port 3000] [--service S]

This does what `bentoml serve` does for this one service, without what it does not need.
`bentoml serve` imports BentoML, loads the service definition and builds a circus arbiter in
its own process before it starts the first worker, which then imports all of that again:
about two seconds of a cold start spent before the worker begins. Here a process that
imports only the standard library and the serving configuration binds the socket, starts
each worker as BentoML's own worker entry point (`_bentoml_impl.worker.service`, the
command `bentoml serve` gives circus) on that socket, and supervises them:

- A configuration that cannot serve is refused before any worker starts, with one line and
  exit 1, as the service's own `on_deployment` check does under `bentoml serve`.
- SIGTERM or SIGINT is passed to every worker, which finishes its requests in flight
  (uvicorn's graceful shutdown); what is still running after `--grace` seconds is killed.
- A worker that exits before the service has ever answered `/readyz` stops the whole
  service with its exit code: a start that cannot succeed fails at once, with the worker's
  own message in the log, rather than restarting forever.
- A worker that exits later is started again after a pause that doubles with each exit in a
  row (up to 30 s), as circus would; the others keep serving meanwhile.

Workers share the listening socket, so the kernel spreads connections over them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlops.errors import MlopsError
from mlops.serving.config import load_config, serving_workers

SERVICE = "mlops.serving.service:ModelService"
SERVICE_NAME = "ModelService"
WORKER = "_bentoml_impl.worker.service"
BACKLOG = 2048
READY_POLL = 0.1  # seconds between /readyz probes until the service first answers
MAX_PAUSE = 30.0  # seconds at most between restarts of a worker that keeps exiting


STEADY = 60.0  # seconds a worker must have run for its exit not to count as one in a row


def command(port: int, host: str = "127.0.0.1", python: str = sys.executable) -> list[str]:
    """The command that serves the configured model on host:port."""
    return [python, "-m", "mlops.serving.launcher", "--host", host, "--port", str(port)]


@dataclass
class Worker:
    index: int  # from 1, as circus numbers workers
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    exits: int = 0  # exits in a row, each within STEADY seconds of its start


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mlops.serving.launcher",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--service", default=SERVICE, help="module:Class of the service")
    workers = "worker processes (MLOPS_SERVE_WORKERS, else the manifest's)"
    parser.add_argument("--workers", type=int, default=None, help=workers)
    parser.add_argument("--grace", type=float, default=30.0,
                        help="seconds workers get to finish their requests on SIGTERM")  # fmt: skip
    return parser.parse_args(argv)


def listen(host: str, port: int) -> socket.socket:
    """The service's listening socket, inheritable by the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


class Launcher:
    def __init__(self, args: argparse.Namespace, sock: socket.socket) -> None:
        self.args = args
        self.sock = sock
        self.count = args.workers if args.workers is not None else serving_workers()
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.metrics = tempfile.mkdtemp(prefix="mlops-serve-metrics-")
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        self.url = (host, args.port)
        self.env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": self.metrics,  # the workers' metrics, merged
            "BENTOML_RUNNER_MAP": json.dumps({SERVICE_NAME: f"http://{host}:{args.port}"}),
        }

    def spawn(self, index: int) -> subprocess.Popen[bytes]:
        fd = self.sock.fileno()
        command = [sys.executable, "-m", WORKER, self.args.service, "--fd", str(fd),
                   "--service-name", SERVICE_NAME, "--backlog", str(BACKLOG),
                   "--worker-id", str(index), "--args", "{}"]  # fmt: skip
        return subprocess.Popen(command, env=self.env, pass_fds=(self.sock.fileno(),),
                                stdin=subprocess.DEVNULL)  # fmt: skip

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        workers = [Worker(i, self.spawn(i)) for i in range(1, self.count + 1)]
        threading.Thread(target=self._watch_ready, daemon=True).start()
        try:
            return self._supervise(workers)
        finally:
            self._stop(workers)
            shutil.rmtree(self.metrics, ignore_errors=True)

    def _supervise(self, workers: list[Worker]) -> int:
        while not self.stopping.wait(0.2):
            for worker in workers:
                code = worker.process.poll()
                if code is None:
                    continue
                if not self.ready.is_set():
                    print(f"worker {worker.index} exited with {code} before the service was"
                          " ready: stopping", file=sys.stderr, flush=True)  # fmt: skip
                    return code or 1
                steady = time.monotonic() - worker.started > STEADY
                worker.exits = 1 if steady else worker.exits + 1
                pause = min(MAX_PAUSE, 2.0 ** (worker.exits - 1))
                print(f"worker {worker.index} exited with {code}; starting it again in"
                      f" {pause:g} s", file=sys.stderr, flush=True)  # fmt: skip
                if self.stopping.wait(pause):
                    break
                worker.process, worker.started = self.spawn(worker.index), time.monotonic()
        return 0

    def _stop(self, workers: list[Worker]) -> None:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        deadline = time.monotonic() + self.args.grace
        for worker in workers:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()

    def _watch_ready(self) -> None:
        """Set `ready` once the service first answers /readyz with 200."""
        while not self.stopping.is_set():
            connection = http.client.HTTPConnection(*self.url, timeout=2)
            try:
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    self.ready.set()
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()
            time.sleep(READY_POLL)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    try:
        load_config()  # what the service's on_deployment hook checks under `bentoml serve`
    except MlopsError as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return 1
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return Launcher(args, sock).run()


if __name__ == "__main__":
    raise SystemExit(main())
