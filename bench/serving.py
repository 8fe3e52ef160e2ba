"""Benchmark: our model server against `mlflow models serve` (the peer) and a bare endpoint
(the floor) on the same model, in one run.

Targets. Throughput: our service reaches at least the bare endpoint's requests per second
(1.0x) at every concurrency, called directly and through the environment's nginx, and at
least 1.5x `mlflow models serve`'s. Tail latency: our p99 at c16 is at most 1.5x the bare
endpoint's. Cold start: process start to ready under 5 s, and at most half of `mlflow
models serve`'s. The manifest's SLO: p95 at most 50 ms at c16, directly and through nginx.

breast-cancer (StandardScaler + LogisticRegression, 30 features) is trained once into a
scratch repository's embedded MLflow store; then, for each run, each server is started alone
on loopback with its default single worker: `mlflow models serve -m models:/breast-cancer/1
--env-manager local`, bench/bare_endpoint.py (one Starlette route on uvicorn calling the
estimator) and our service as the local target starts it (`python -m mlops.serving.launcher`,
from the version's model directory, downloaded once before the runs as the target keeps it
and an image carries it), loaded directly and then through an nginx router as `mlops
reconcile` deploys it (HTTPS with a local CA, as clients call it: its one checked request
verifies the certificate; wrk's keep-alive connections do not verify); then our service
again with 2 workers (MLOPS_SERVE_WORKERS=2), whose ratio to one worker is reported. Each is
checked with one request (a wrong answer stops the benchmark with a non-zero exit), warmed
up, and loaded with wrk (2 threads) at each concurrency for `--seconds`, one JSON row per
request in each server's own format. The order of the servers rotates between runs.
Requests per second, p50/p95/p99 latency, failed requests and start-to-ready are printed per
run, then the ratios, the manifest's p95 SLO at c16, and the start-to-ready of the same
service under `bentoml serve` (started and checked once per run, not loaded), which the
launcher replaces.

wrk runs on the same 2 cores as the server it measures, so absolute numbers move with the
machine; compare the ratios of servers measured in the same run.

    python bench/serving.py [--seconds 5] [--runs 2] [--connections 16 64]
"""

from __future__ import annotations

import argparse
import functools
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

from load import LoadResult, run_wrk, wrk_path
from scratch import (
    SERVICE,
    check_answer,
    fetched_model,
    holdout_rows,
    serve_env,
    server,
    service_command,
    trained_repository,
)
from train_overhead import MODEL

from mlops.adapters.probes import free_port

TARGET = 1.5  # ours over mlflow's requests per second
FLOOR = 1.0  # ours over the bare endpoint's requests per second
TAIL = 1.5  # ours over the bare endpoint's p99 at c16 (at most)
COLD_START_S = 5.0
SLO_P95_MS = 50.0  # breast-cancer's serving.api.slo.p95_latency_ms
WARMUP_SECONDS = 2.0
BARE = Path(__file__).with_name("bare_endpoint.py")


@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    probe: str
    url: str
    body: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)  # on top of the shared environment
    ca: str | None = None  # the CA that verifies an https `url` (a router's)


def mlflow_server(port: int, rows: list[dict[str, Any]]) -> Server:
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}/1",
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
    return Server("mlflow", command, f"{base}/ping", f"{base}/invocations",
                  {"dataframe_records": rows})  # fmt: skip


def bare_server(port: int, rows: list[dict[str, Any]]) -> Server:
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(BARE), f"models:/{MODEL}/1", str(port)]
    return Server("bare", command, f"{base}/ping", f"{base}/predict", {"rows": rows})


def our_server(port: int, rows: list[dict[str, Any]], kept: Path, workers: int = 1) -> Server:
    """Our service as the local target starts it: from the version's verified model
    directory, fetched once per machine before any start (as an image carries it)."""
    base = f"http://127.0.0.1:{port}"
    name = "ours" if workers == 1 else f"ours-{workers}w"
    return Server(name, service_command(port), f"{base}/readyz", f"{base}/predict",
                  {"rows": rows}, {"MLOPS_SERVE_MODEL_URI": str(kept),
                                   "MLOPS_SERVE_WORKERS": str(workers)})  # fmt: skip


def under_bentoml(port: int, rows: list[dict[str, Any]], kept: Path) -> Server:
    """Our service started by `bentoml serve` instead of our launcher: its start to ready
    only, to show what the launcher saves."""
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    return Server("bentoml-serve", command, f"{base}/readyz", f"{base}/predict",
                  {"rows": rows}, {"MLOPS_SERVE_MODEL_URI": str(kept)})  # fmt: skip


def start_only(target: Server, env: dict[str, str], log: Path) -> float:
    """Start `target` alone and check one answer: its seconds to ready."""
    with server(target.command, target.probe, {**env, **target.env}, log) as started:
        check_answer(target.name, target.url, target.body)
    return started


@contextmanager
def fronted(target: Server, folder: Path) -> Iterator[Server]:
    """`target` behind an nginx router, as `mlops reconcile` deploys it (clients call it at
    https://127.0.0.1:<port>/<model>/predict, with a local CA made in `folder`)."""
    from mlops.adapters.certificates import ensure_local
    from mlops.adapters.nginx import Router
    from mlops.core.routing import Backend, RouteTable

    backend = target.url.removeprefix("http://").removesuffix("/predict")
    port = free_port()
    tls = ensure_local(folder)
    router = Router(folder / "nginx", port, tls)
    router.apply(RouteTable("bench", port, {MODEL: (Backend("1", backend, 100),)}))
    try:
        yield replace(target, name=f"{target.name}+nginx",
                      url=f"https://127.0.0.1:{port}/{MODEL}/predict", ca=tls.ca)  # fmt: skip
    finally:
        router.stop()


def measure(target: Server, env: dict[str, str], log: Path, connections: list[int],
            seconds: float) -> tuple[float, dict[tuple[str, int], LoadResult]]:  # fmt: skip
    """Start `target` alone, warm it up, and load it at each concurrency (ours also through
    nginx): its seconds to ready, and the loads by (name, connections)."""
    results: dict[tuple[str, int], LoadResult] = {}
    with server(target.command, target.probe, {**env, **target.env}, log) as started, \
            ExitStack() as stack:  # fmt: skip
        routes = [target]
        if target.name == "ours":
            routes.append(stack.enter_context(fronted(target, log.parent / f"{log.stem}-nginx")))
        for route in routes:
            trusted = ssl.create_default_context(cafile=route.ca) if route.ca else None
            check_answer(route.name, route.url, route.body, trusted)
            run_wrk(route.url, route.body, max(connections), WARMUP_SECONDS)
            for conns in connections:
                results[route.name, conns] = run_wrk(route.url, route.body, conns, seconds)
    return started, results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="load per measurement")
    parser.add_argument("--runs", type=int, default=2, help="start every server this often")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    wrk_path()  # fail before training when wrk is missing
    began = time.perf_counter()
    loads: list[tuple[int, str, int, LoadResult]] = []
    starts: dict[str, list[float]] = {"mlflow": [], "bare": [], "ours": [], "ours-2w": [],
                                      "bentoml-serve": []}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="mlops-bench-serving-") as tmp:
        root = trained_repository(Path(tmp) / "repo")
        rows = holdout_rows(root, 1)
        env = serve_env(root)
        kept = fetched_model(root, Path(tmp) / "kept")
        makers = [mlflow_server, bare_server, functools.partial(our_server, kept=kept),
                  functools.partial(our_server, kept=kept, workers=2)]  # fmt: skip
        for run in range(1, args.runs + 1):
            shift = (run - 1) % len(makers)
            for make in makers[shift:] + makers[:shift]:
                target = make(free_port(), rows)
                log = Path(tmp) / f"{target.name}-{run}.log"
                started, results = measure(target, env, log, args.connections, args.seconds)
                starts[target.name].append(started)
                loads += [(run, name, c, r) for (name, c), r in results.items()]
            reference = under_bentoml(free_port(), rows, kept)
            log = Path(tmp) / f"bentoml-{run}.log"
            starts["bentoml-serve"].append(start_only(reference, env, log))
    report(args, loads, starts)
    print(f"benchmark took {time.perf_counter() - began:.0f}s")
    return 0 if sum(r.failures for *_, r in loads) == 0 else 1


def report(args: argparse.Namespace, loads: list[tuple[int, str, int, LoadResult]],
           starts: dict[str, list[float]]) -> None:  # fmt: skip
    """The loads, then each target's ratio and verdict (printed, not the exit status:
    timings on a shared machine are not pass/fail)."""
    print(f"{MODEL}, one JSON row per request, wrk -t2 for {args.seconds:g}s per row, "
          f"{args.runs} runs, {os.cpu_count()} cores shared by wrk and the server; "
          f"mlflow {version('mlflow')}, bentoml {version('bentoml')}, uvicorn"
          f" {version('uvicorn')}, 1 worker each unless named\n")  # fmt: skip
    print(f"{'run':>3}  {'server':<12}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'failures':>10}")  # fmt: skip
    for run, name, conns, r in loads:
        print(f"{run:>3}  {name:<12}{conns:>6}{r.rps:>9.0f}{r.p50_ms:>9.1f}{r.p95_ms:>9.1f}"
              f"{r.p99_ms:>9.1f}{r.failures:>10}")  # fmt: skip
    by = {(run, name, conns): r for run, name, conns, r in loads}
    runs = range(1, args.runs + 1)
    verdicts: list[bool] = []

    def judged(label: str, values: list[float], target: float, at_least: bool) -> None:
        median = statistics.median(values)
        ok = median >= target if at_least else median <= target
        verdicts.append(ok)
        listed = ", ".join(f"{v:.2f}x" for v in values)
        bound = ">=" if at_least else "<="
        print(f"  {label:<34} runs {listed}; median {median:.2f}x ({bound} {target}x):"
              f" {'ok' if ok else 'MISS'}")  # fmt: skip

    print("\nratios measured in the same run")
    for conns in args.connections:
        for ours in ("ours", "ours+nginx"):
            judged(f"{ours} / bare req/s, c{conns}",
                   [by[r, ours, conns].rps / by[r, "bare", conns].rps for r in runs], FLOOR,
                   True)  # fmt: skip
        judged(f"ours+nginx / mlflow req/s, c{conns}",
               [by[r, "ours+nginx", conns].rps / by[r, "mlflow", conns].rps for r in runs],
               TARGET, True)  # fmt: skip
    for conns in args.connections:
        ratios = [by[r, "ours-2w", conns].rps / by[r, "ours", conns].rps for r in runs]
        print(f"  {'ours 2 workers / 1 worker, c' + str(conns):<34} runs "
              f"{', '.join(f'{v:.2f}x' for v in ratios)}; median"
              f" {statistics.median(ratios):.2f}x (reported)")  # fmt: skip
    tail = min(args.connections, key=lambda c: abs(c - 16))
    judged(
        f"ours / bare p99, c{tail}",
        [by[r, "ours", tail].p99_ms / by[r, "bare", tail].p99_ms for r in runs],
        TAIL,
        False,
    )
    for name in ("ours", "ours+nginx"):
        p95 = statistics.median(by[r, name, tail].p95_ms for r in runs)
        held = p95 <= SLO_P95_MS
        verdicts.append(held)
        print(f"  {name + f' p95, c{tail}':<34} median {p95:.1f} ms (the manifest's SLO:"
              f" <= {SLO_P95_MS:g} ms): {'ok' if held else 'MISS'}")  # fmt: skip
    med = {name: statistics.median(values) for name, values in starts.items()}
    cold = med["ours"] < COLD_START_S and med["ours"] <= med["mlflow"] / 2
    verdicts.append(cold)
    print(f"\nstart to ready (median): ours {med['ours']:.1f}s, bare {med['bare']:.1f}s,"
          f" mlflow {med['mlflow']:.1f}s (target: ours under {COLD_START_S:g}s and at most"
          f" half of mlflow's): {'ok' if cold else 'MISS'}; the same service under"
          f" `bentoml serve` {med['bentoml-serve']:.1f}s (reported)")  # fmt: skip
    failures = sum(r.failures for *_, r in loads)
    print(f"failed requests, all runs: {failures}")
    print(f"targets: {sum(verdicts)} of {len(verdicts)} met")


if __name__ == "__main__":
    sys.exit(main())
