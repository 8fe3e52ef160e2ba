"""Benchmark: our model server against `mlflow models serve` on the same model, in one run.

Target: our deployed endpoint (the service behind the environment's nginx, called at
/breast-cancer/predict) reaches at least 1.5x the requests per second of `mlflow models serve`
at the same concurrency. breast-cancer (StandardScaler + LogisticRegression, 30 features) is
trained once into a scratch repository's embedded MLflow store; then, for each run, each
server is started alone on loopback with its default single worker (`mlflow models serve -m
models:/breast-cancer/1 --env-manager local` and `bentoml serve
mlops.serving.service:ModelService`), checked with one request, warmed up, and loaded with
wrk (2 threads) at each concurrency for `--seconds`, one JSON row per request in each
server's own format. The order of the two servers alternates between runs. Requests per
second, p50/p99 latency and failed requests (non-2xx and socket errors) are printed per run,
then the ratio ours/mlflow per run and its median.

wrk runs on the same 2 cores as the server it measures, so absolute numbers move with the
machine; compare the ratio of servers measured in the same run.

    python bench/serving.py [--seconds 5] [--runs 2] [--connections 16 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

from load import LoadResult, run_wrk, wrk_path
from scratch import (
    bentoml_command,
    check_answer,
    holdout_rows,
    serve_env,
    server,
    trained_repository,
)
from train_overhead import MODEL

from mlops.adapters.probes import free_port

TARGET = 1.5
WARMUP_SECONDS = 2.0


@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    probe: str
    url: str
    body: dict[str, Any]


def mlflow_server(port: int, rows: list[dict[str, Any]]) -> Server:
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}/1",
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
    return Server("mlflow", command, f"{base}/ping", f"{base}/invocations",
                  {"dataframe_records": rows})  # fmt: skip


def our_server(port: int, rows: list[dict[str, Any]]) -> Server:
    """Our service as deployed: `bentoml serve` behind the environment's nginx, which clients
    call at /<model>/predict (`fronted` starts the router)."""
    base = f"http://127.0.0.1:{port}"
    return Server("ours", bentoml_command(port), f"{base}/readyz", f"{base}/predict",
                  {"rows": rows})  # fmt: skip


@contextmanager
def fronted(target: Server, folder: Path) -> Iterator[Server]:
    """`target` behind an nginx router, as `mlops reconcile` deploys it."""
    from mlops.adapters.nginx import Router
    from mlops.core.routing import Backend, RouteTable

    backend = target.url.removeprefix("http://").removesuffix("/predict")
    port = free_port()
    router = Router(folder / "nginx", port)
    router.apply(RouteTable("bench", port, {MODEL: (Backend("1", backend, 100),)}))
    try:
        yield replace(target, url=f"http://127.0.0.1:{port}/{MODEL}/predict")
    finally:
        router.stop()


def measure(
    target: Server, env: dict[str, str], log: Path, connections: list[int], seconds: float
) -> tuple[float, dict[int, LoadResult]]:
    """Start `target` alone, warm it up, and load it at each concurrency."""
    with server(target.command, target.probe, env, log) as started, ExitStack() as stack:
        if target.name == "ours":
            target = stack.enter_context(fronted(target, log.parent / f"{log.stem}-router"))
        check_answer(target.name, target.url, target.body)
        run_wrk(target.url, target.body, max(connections), WARMUP_SECONDS)
        results = {c: run_wrk(target.url, target.body, c, seconds) for c in connections}
    return started, results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="load per measurement")
    parser.add_argument("--runs", type=int, default=2, help="start both servers this often")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    wrk_path()  # fail before training when wrk is missing
    began = time.perf_counter()
    rows_out: list[tuple[int, str, int, LoadResult]] = []
    starts: dict[str, list[float]] = {"mlflow": [], "ours": []}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-serving-") as tmp:
        root = trained_repository(Path(tmp) / "repo")
        rows = holdout_rows(root, 1)
        env = serve_env(root)
        for run in range(1, args.runs + 1):
            order = [mlflow_server, our_server]
            for make in order if run % 2 else order[::-1]:
                target = make(free_port(), rows)
                log = Path(tmp) / f"{target.name}-{run}.log"
                started, results = measure(target, env, log, args.connections, args.seconds)
                starts[target.name].append(started)
                rows_out += [(run, target.name, c, r) for c, r in results.items()]
    report(args, rows_out, starts, time.perf_counter() - began)
    return 0


def report(
    args: argparse.Namespace,
    rows: list[tuple[int, str, int, LoadResult]],
    starts: dict[str, list[float]],
    elapsed: float,
) -> None:
    print(f"{MODEL}, one JSON row per request, wrk -t2 for {args.seconds:g}s per row, "
          f"{args.runs} runs, {os.cpu_count()} cores shared by wrk and the server; "
          f"mlflow {version('mlflow')}, bentoml {version('bentoml')}, 1 worker each\n")  # fmt: skip
    print(f"{'run':>3}  {'server':<7}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'failures':>10}")  # fmt: skip
    for run, name, conns, r in rows:
        print(f"{run:>3}  {name:<7}{conns:>6}{r.rps:>9.0f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}"
              f"{r.failures:>10}")  # fmt: skip
    by = {(run, name, conns): r for run, name, conns, r in rows}
    print(f"\nthroughput ours / mlflow (target {TARGET}x)")
    verdicts = []
    for conns in args.connections:
        ratios = [by[run, "ours", conns].rps / by[run, "mlflow", conns].rps
                  for run in range(1, args.runs + 1)]  # fmt: skip
        median = statistics.median(ratios)
        verdicts.append(median >= TARGET)
        listed = ", ".join(f"{r:.2f}x" for r in ratios)
        print(f"  c{conns:<4} runs {listed}; median {median:.2f}x: "
              f"{'ok' if median >= TARGET else 'MISS'}")  # fmt: skip
    failures = sum(r.failures for *_, r in rows)
    med = statistics.median
    print(f"\nfailed requests, all runs: {failures}"
          f"\nstart to ready (median): mlflow {med(starts['mlflow']):.1f}s, "
          f"ours {med(starts['ours']):.1f}s"
          f"\ntarget {TARGET}x: {'ok' if all(verdicts) else 'MISS'}; "
          f"benchmark took {elapsed:.0f}s")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
