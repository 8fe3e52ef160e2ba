"""Benchmark: what the prediction log costs in serving throughput, logging on against off.

Target (the issue's limit): with MLOPS_SERVE_PREDICTION_LOGS set, our service answers under 5%
fewer requests per second than without it, measured in the same run. breast-cancer
(StandardScaler + LogisticRegression, 30 features) is trained once into a scratch repository's
embedded MLflow store. Each run starts our service (`python -m mlops.serving.launcher`, as
deployments start it; one worker) twice on loopback, one logging to a fresh temporary folder and
one not, checks each with one request and warms both up. Then, round after round, it loads one
and then the other with wrk (2 threads) at each concurrency for `--seconds`, one JSON row per
request, the order alternating between rounds; then it loads both at the same moment, each
with its own wrk, so that both see the same machine at the same time (a change of the
machine's speed between two loads cannot pass for the log's cost). The ratio of their requests
per second is the log's cost; the median over every round of every run of the loads at the
same moment is the figure judged. Servers started at different moments answer at different
speeds on a shared machine (5-10% here), which one load per start cannot tell from the log's
cost: use several runs. `--control` makes an A/A run, in which the "on" server does not log
either: its ratios are the noise floor of the machine, against which the log's cost is read.
The service is called directly, not behind nginx, so that the router's share of each request
does not dilute the log's. Requests per second, p50/p99
latency and failed requests are printed per load.

Two more figures check the ratios. Each load records the server's CPU milliseconds per
request (its processes' time from /proc): when it differs between loads of the same mode,
the machine was busy. And the write path alone (`PredictionLog.write` of the same row,
configured as the service configures it) is timed in this process, best of 7 rounds, and
shown as a share of the server's CPU per request: the server is one worker bound by its CPU,
so that share is the drop in throughput the log causes on a quiet machine.

Correctness, not timing, decides the exit status: it is non-zero when a request failed,
when logging on wrote no line, when a log line is not a whole record, or when the lines a
load added to the log do not match the requests wrk counted. A request's line is written
within the flush interval of its answer, and the count is read after a pause longer than it,
so there are at least as many lines as answered requests, and at most one more per
connection: requests in flight when wrk stopped were still answered and logged.

wrk runs on the same 2 cores as the server it measures, so absolute numbers move with the
machine; compare the two modes measured in the same round.

    python bench/prediction_logging.py [--seconds 5] [--runs 2] [--rounds 3] [--connections 16]
                                       [--control]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import timeit
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from load import LoadResult, run_wrk, wrk_path
from scratch import (
    check_answer,
    holdout_rows,
    serve_env,
    server_process,
    service_command,
    trained_repository,
    tree_cpu_seconds,
)
from train_overhead import MODEL

from mlops.adapters.probes import free_port
from mlops.core.prediction_log import LOG_FILES, parse_line

TARGET_DROP = 5.0  # percent fewer requests per second with logging on
WARMUP_SECONDS = 2.0
SETTLE_SECONDS = 0.5  # for requests still in flight when wrk stops to be answered and logged
LOGS_VARIABLE = "MLOPS_SERVE_PREDICTION_LOGS"
WRITES = 2000  # per round of timing the write path in this process
CONTROL = False  # --control: neither server logs (an A/A run)


@dataclass(frozen=True)
class LogCount:
    """The prediction log's lines: whole records, and lines that are not one."""

    records: int = 0
    broken: int = 0


@dataclass(frozen=True)
class Measured:
    """One load on one server: `lines` is what it added to the log (None: logging off)."""

    run: int
    round: int
    logging: bool
    connections: int
    load: LoadResult
    cpu_seconds: float  # the server's, all its processes, during the load
    warmup_failures: int
    lines: LogCount | None
    together: bool = False  # loaded at the same moment as the other server

    @property
    def mode(self) -> str:
        return ("on" if self.logging else "off") + (" (both)" if self.together else "")

    @property
    def cpu_ms(self) -> float:
        """The server's CPU milliseconds per answered request."""
        return self.cpu_seconds * 1000 / max(self.load.requests, 1)

    def log_problem(self) -> str | None:
        """Why the log does not account for this load's requests, or None."""
        if self.lines is None:
            return None
        if self.lines.broken:
            return f"{self.lines.broken} lines are not whole log records"
        if self.lines.records == 0:
            return "no line was logged"
        low, high = self.load.requests, self.load.requests + self.connections
        if not low <= self.lines.records <= high:
            return f"{self.lines.records} lines for {low} requests: expected {low} to {high}"
        return None


def count_lines(folder: Path) -> LogCount:
    """The lines of every prediction log under `folder`, each checked as a record."""
    records = broken = 0
    for path in folder.rglob(LOG_FILES):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                record, _ = parse_line(line)
                if record is None or not line.endswith("\n"):
                    broken += 1
                else:
                    records += 1
    return LogCount(records, broken)


def added(before: LogCount, after: LogCount) -> LogCount:
    return LogCount(after.records - before.records, after.broken - before.broken)


def server_env(root: Path, logs: Path | None) -> dict[str, str]:
    """The serving environment, logging to `logs` or (None) not at all."""
    if logs is None:
        env = serve_env(root)
        env.pop(LOGS_VARIABLE, None)
        return env
    logs.mkdir()
    return serve_env(root, **{LOGS_VARIABLE: str(logs)})


@dataclass
class Server:
    """One started service: its process, URL and log folder (None: logging off)."""

    logging: bool
    pid: int
    url: str
    logs: Path | None
    warmup_failures: int = 0

    @property
    def mode(self) -> str:
        return "on" if self.logging else "off"


def start(stack: ExitStack, root: Path, folder: Path, logging: bool, body: dict[str, Any],
          connections: int) -> tuple[Server, dict[str, Any]]:  # fmt: skip
    """Start the service in `folder`, logging or not, check one answer and warm it up."""
    folder.mkdir()
    logs = folder / "logs" if logging and not CONTROL else None
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process, _ = stack.enter_context(server_process(
        service_command(port), f"{base}/readyz", server_env(root, logs), folder / "server.log"
    ))  # fmt: skip
    server = Server(logging, process.pid, f"{base}/predict", logs)
    answer = check_answer(f"logging {server.mode}", server.url, body)
    server.warmup_failures = run_wrk(server.url, body, connections, WARMUP_SECONDS).failures
    return server, answer


def load_once(server: Server, run: int, round_: int, body: dict[str, Any], connections: int,
              seconds: float, together: bool = False) -> Measured:  # fmt: skip
    """One load on `server`, with the CPU it used and the lines it added to the log."""
    time.sleep(SETTLE_SECONDS)
    before = count_lines(server.logs) if server.logs is not None else LogCount()
    cpu = tree_cpu_seconds(server.pid)
    load = run_wrk(server.url, body, connections, seconds)
    cpu = tree_cpu_seconds(server.pid) - cpu
    time.sleep(SETTLE_SECONDS)
    lines = added(before, count_lines(server.logs)) if server.logs is not None else None
    return Measured(run, round_, server.logging, connections, load, cpu,
                    server.warmup_failures, lines, together)  # fmt: skip


def load_both(servers: tuple[Server, Server], run: int, round_: int, body: dict[str, Any],
              connections: int, seconds: float) -> list[Measured]:  # fmt: skip
    """Both servers loaded at the same moment, each by its own wrk: the machine is the same
    for both, so a change of its speed while they run cannot tell one from the other."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        loads = [pool.submit(load_once, server, run, round_, body, connections, seconds, True)
                 for server in servers]  # fmt: skip
        return [load.result() for load in loads]


def measure_run(root: Path, folder: Path, run: int, body: dict[str, Any], args: argparse.Namespace
                ) -> tuple[list[Measured], dict[str, Any]]:  # fmt: skip
    """Both servers of one run, loaded in turn round after round at each concurrency."""
    folder.mkdir()
    results = []
    with ExitStack() as stack:
        off, _ = start(stack, root, folder / "off", False, body, max(args.connections))
        on, answer = start(stack, root, folder / "on", True, body, max(args.connections))
        for round_ in range(1, args.rounds + 1):
            order = (off, on) if (run + round_) % 2 else (on, off)
            for conns in args.connections:
                for server in order:
                    results.append(load_once(server, run, round_, body, conns, args.seconds))
                results += load_both(order, run, round_, body, conns, args.seconds)
    return results, answer


def write_cost_us(root: Path, folder: Path, rows: list[dict[str, Any]],
                  predictions: list[dict[str, Any]]) -> float:  # fmt: skip
    """The microseconds `PredictionLog.write` takes for one request of `rows` in this process,
    configured as the service configures it (best of 7 rounds)."""
    from mlops.serving.config import load_config
    from mlops.serving.prediction_logs import PredictionLog

    config = load_config(server_env(root, folder))
    writer = PredictionLog(folder, config.environment, config.model, config.version,
                           config.protection)  # fmt: skip
    try:
        rounds = timeit.repeat(lambda: writer.write("0" * 32, 1.0, rows, predictions),
                               number=WRITES, repeat=7)  # fmt: skip
    finally:
        writer.close()
    return min(rounds) / WRITES * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="load per measurement")
    parser.add_argument("--runs", type=int, default=2, help="start both servers this often")
    parser.add_argument("--rounds", type=int, default=3, help="loads of each server per run")
    parser.add_argument("--connections", type=int, nargs="+", default=[16])
    parser.add_argument("--control", action="store_true",
                        help="an A/A run: the 'on' server does not log either, so its ratios"
                        " show the machine's noise floor")  # fmt: skip
    args = parser.parse_args()
    global CONTROL
    CONTROL = args.control
    wrk_path()  # fail before training when wrk is missing
    began = time.perf_counter()
    measured: list[Measured] = []
    answer: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-logging-") as tmp:
        root = trained_repository(Path(tmp) / "repo")
        body = {"rows": holdout_rows(root, 1)}
        for run in range(1, args.runs + 1):
            loads, answer = measure_run(root, Path(tmp) / f"run{run}", run, body, args)
            measured += loads
        cost = write_cost_us(root, Path(tmp) / "write-cost", body["rows"], answer["predictions"])
    report(args, measured, cost, time.perf_counter() - began)
    return verdict(measured)


def report(args: argparse.Namespace, measured: list[Measured], cost_us: float, elapsed: float
           ) -> None:  # fmt: skip
    if CONTROL:
        print("A/A control: neither server logs; every ratio below is the machine's noise\n")
    print(f"{MODEL}, one JSON row per request, wrk -t2 for {args.seconds:g}s per load, "
          f"{args.runs} runs of {args.rounds} rounds, {os.cpu_count()} cores shared by wrk and"
          f" the server; bentoml {version('bentoml')}, 1 worker, called directly\n")  # fmt: skip
    print(f"{'run':>3}{'round':>6}  {'logging':<8}{'conns':>6}{'req/s':>9}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'cpu ms/req':>12}{'failures':>10}{'requests':>10}"
          f"{'log lines':>11}")  # fmt: skip
    for m in measured:
        r = m.load
        lines = "-" if m.lines is None else str(m.lines.records)
        print(f"{m.run:>3}{m.round:>6}  {m.mode:<8}{m.connections:>6}{r.rps:>9.0f}"
              f"{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{m.cpu_ms:>12.3f}{r.failures:>10}"
              f"{r.requests:>10}{lines:>11}")  # fmt: skip
    by = {(m.run, m.round, m.logging, m.connections): m for m in measured if not m.together}
    both = {(m.run, m.round, m.logging, m.connections): m for m in measured if m.together}
    pairs = [(run, round_) for run in range(1, args.runs + 1)
             for round_ in range(1, args.rounds + 1)]  # fmt: skip
    print(f"\nthroughput logging on / off, per round (target: under {TARGET_DROP:g}% fewer"
          " req/s)")  # fmt: skip
    for conns in args.connections:
        ratios = [by[*pair, True, conns].load.rps / by[*pair, False, conns].load.rps
                  for pair in pairs]  # fmt: skip
        drop = statistics.median((1 - ratio) * 100 for ratio in ratios)
        listed = ", ".join(f"{ratio:.3f}x" for ratio in ratios)
        print(f"  c{conns:<4} {listed}; median drop {drop:.2f}% (one after the other)")
        cpu = {mode: statistics.median(by[*pair, mode, conns].cpu_ms for pair in pairs)
               for mode in (False, True)}  # fmt: skip
        print(f"  c{conns:<4} server CPU per request, median: {cpu[False]:.3f} ms off,"
              f" {cpu[True]:.3f} ms on ({(cpu[True] / cpu[False] - 1) * 100:+.1f}%)")  # fmt: skip
    print("both servers loaded at the same moment (sharing the cores), on / off per round;"
          " the figure judged")  # fmt: skip
    for conns in args.connections:
        ratios = [both[*pair, True, conns].load.rps / both[*pair, False, conns].load.rps
                  for pair in pairs]  # fmt: skip
        drop = statistics.median((1 - ratio) * 100 for ratio in ratios)
        listed = ", ".join(f"{ratio:.3f}x" for ratio in ratios)
        print(f"  c{conns:<4} {listed}; median drop {drop:.2f}%: "
              f"{'ok' if drop < TARGET_DROP else 'MISS'}")  # fmt: skip
    print(f"the write path alone: {cost_us:.1f} us per request (timed in this process, best"
          f" of 7 x {WRITES}); as a share of the server's CPU per request, the drop it costs"
          " a CPU-bound server")  # fmt: skip
    for conns in args.connections:
        off_ms = statistics.median(by[*pair, False, conns].cpu_ms for pair in pairs)
        share = cost_us / (cost_us + off_ms * 1000) * 100
        print(f"  c{conns:<4} {share:.2f}% of {off_ms:.3f} ms (median with logging off)"
              f" + {cost_us / 1000:.3f} ms")  # fmt: skip
    print(f"\nbenchmark took {elapsed:.0f}s")


def verdict(measured: list[Measured]) -> int:
    """0 when every request was answered and logged as expected; else say what was not."""
    problems = []
    for m in measured:
        where = f"run {m.run}, round {m.round}, logging {m.mode}, c{m.connections}"
        if m.load.failures or m.warmup_failures:
            problems.append(f"{where}: {m.load.failures} failed requests {m.load.errors},"
                            f" {m.warmup_failures} while warming up")  # fmt: skip
        log_problem = m.log_problem()
        if log_problem:
            problems.append(f"{where}: {log_problem}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("every request answered 200; logging on logged each one's row as a whole line")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
