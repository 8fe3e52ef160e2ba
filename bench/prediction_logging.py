"""Benchmark: what the prediction log costs in serving throughput, logging on against off.

Target (the issue's limit): with MLOPS_SERVE_PREDICTION_LOGS set, our service answers under 5%
fewer requests per second than without it, measured in the same run. breast-cancer
(StandardScaler + LogisticRegression, 30 features) is trained once into a scratch repository's
embedded MLflow store, and our service (`python -m mlops.serving.launcher`, one worker) is
called directly on loopback, one JSON row per request, by wrk (2 threads), so that a router's
share of each request does not dilute the log's.

Two servers started alike answer at speeds 5-10% apart on this machine (where each process's
memory landed, its hash seed, its core, the machine's load at the moment), more than the cost
judged, so one pair of servers cannot tell that cost from luck. Hence:

- Many pairs, each two servers started afresh: A/B pairs (one logs, one does not) and A/A
  pairs (neither logs: the "on" server is set up exactly as in A/B, without the log),
  interleaved in one run so that both kinds see the same background load. A/A is the noise
  floor, measured beside the figure it judges.
- Every server runs with the same hash seed and without address-space randomisation
  (`setarch -R`), with environments of equal size, so both of a pair lay out their memory
  alike. Both servers of a pair share one core and wrk (with this script) the other; the
  cores swap every second pair of a kind, and so does which server starts first.
- Both servers are checked with one request and warmed up the same way. Each round loads
  one and then the other for `--seconds` ("in turn", the order alternating between rounds:
  ABBA), each alone on its core; then both at the same moment, each by its own wrk, on the
  core they share ("together"): both see exactly the same machine, so a change of its speed
  between two loads (other programs: 10-25% here, more than the cost) cannot pass for it.
- Per pair and per way of loading, three figures of the "on" server against the "off" one:
  its drop in requests per second (wrk's), the drop its CPU time per request implies (its
  processes' time from /proc: one worker bound by its CPU answers 1 / (CPU per request)
  requests per second on a core of its own), and how much more CPU time it had.
- Over the pairs, each figure's mean with its 95% t-interval; a drop is judged "target
  met" when the whole interval is under 5%, "missed" when it is all over 5%, else
  undecided, naming the noise floor (the A/A interval's half-width). The A/A interval
  should hold 0.

The figure judged is the drop CPU per request implies, loaded together. Loaded in turn,
the machine's speed changes between the two loads (the A/A interval of req/s in turn is
±9% here); loaded together, the two servers' requests per second also depend on how the
kernel shares their core between them (a server that logs has one more thread), which a
server on a core of its own does not see. wrk's requests per second are shown beside it.
Fixing the layout narrows the noise but leaves one layout's luck in every pair:
`--random-layout` (and `--unpinned`) measure as deployed, with a wider interval.

The write path alone (`PredictionLog.write` of the same row, configured as the service
configures it) is also timed in this process, best of 7 rounds, and shown as a share of the
server's CPU per request: the drop it alone would cause a CPU-bound server.

Correctness, not timing, decides the exit status: it is non-zero when a request failed,
when logging on wrote no line, when a log line is not a whole record, or when the lines a
load added to the log do not match the requests wrk counted. A request's line is written
within the flush interval of its answer, and the count is read after a pause longer than it,
so there are at least as many lines as answered requests, and at most one more per
connection: requests in flight when wrk stopped were still answered and logged.

    python bench/prediction_logging.py [--seconds 2] [--runs 5] [--rounds 2] [--connections 16]
                                       [--control] [--unpinned] [--random-layout]
"""

from __future__ import annotations

import argparse
import os
import platform
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

from intervals import Interval, judge
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
SETTLE_SECONDS = 0.3  # for requests in flight when wrk stops to be answered and logged
LOGS_VARIABLE = "MLOPS_SERVE_PREDICTION_LOGS"
PAD_VARIABLE = "MLOPS_BENCH_PAD"  # gives a server that does not log an environment as large
HASH_SEED = "1"
WRITES = 2000  # per round of timing the write path in this process
KINDS = ("A/B", "A/A")


@dataclass(frozen=True)
class LogCount:
    """The prediction log's lines: whole records, and lines that are not one."""

    records: int = 0
    broken: int = 0


@dataclass(frozen=True)
class Placement:
    """Where a pair runs: its servers' core and the driver's, and how they are started."""

    server_cpu: int | None  # None: not pinned
    driver_cpu: int | None
    same_layout: bool  # one hash seed, no address-space randomisation

    def prefix(self) -> list[str]:
        pinned = ["taskset", "-c", str(self.server_cpu)] if self.server_cpu is not None else []
        return pinned + (["setarch", platform.machine(), "-R"] if self.same_layout else [])


@dataclass
class Server:
    """One started service: its process, URL and log folder (None: logging off)."""

    slot: str  # "on" or "off": in an A/A pair, "on" is the server that would log in A/B
    logging: bool
    pid: int
    url: str
    logs: Path | None
    warmup_failures: int = 0


@dataclass(frozen=True)
class Measured:
    """One load on one server: `lines` is what it added to the log (None: logging off)."""

    pair: int
    kind: str
    round: int
    slot: str
    logging: bool
    connections: int
    load: LoadResult
    cpu_seconds: float  # the server's, all its processes, during the load
    warmup_failures: int
    lines: LogCount | None
    together: bool = False  # loaded at the same moment as the other server

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


def server_env(root: Path, logs: Path, logging: bool, same_layout: bool) -> dict[str, str]:
    """The serving environment, logging to `logs` or not; a server that does not log gets a
    padding variable of the same size, so both lay out their memory alike."""
    env = serve_env(root)
    env.pop(LOGS_VARIABLE, None)
    if same_layout:
        env["PYTHONHASHSEED"] = HASH_SEED
    if logging:
        logs.mkdir()
        env[LOGS_VARIABLE] = str(logs)
    else:
        env[PAD_VARIABLE] = "x" * (len(LOGS_VARIABLE) - len(PAD_VARIABLE) + len(str(logs)))
    return env


def start(stack: ExitStack, root: Path, folder: Path, slot: str, logging: bool,
          placement: Placement) -> Server:  # fmt: skip
    """Start the service in `folder` (logging or not) where `placement` says."""
    folder.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(root, folder / "logs", logging, placement.same_layout)
    command = placement.prefix() + service_command(port)
    process, _ = stack.enter_context(server_process(command, f"{base}/readyz", env,
                                                    folder / "server.log"))  # fmt: skip
    return Server(slot, logging, process.pid, f"{base}/predict",
                  folder / "logs" if logging else None)  # fmt: skip


def load_once(server: Server, where: tuple[int, str, int], body: dict[str, Any],
              connections: int, seconds: float, together: bool = False) -> Measured:  # fmt: skip
    """One load on `server`, with the CPU it used and the lines it added to the log."""
    before = count_lines(server.logs) if server.logs is not None else LogCount()
    cpu = tree_cpu_seconds(server.pid)
    load = run_wrk(server.url, body, connections, seconds)
    cpu = tree_cpu_seconds(server.pid) - cpu
    time.sleep(SETTLE_SECONDS)
    lines = added(before, count_lines(server.logs)) if server.logs is not None else None
    return Measured(*where, server.slot, server.logging, connections, load, cpu,
                    server.warmup_failures, lines, together)  # fmt: skip


def load_both(servers: list[Server], where: tuple[int, str, int], body: dict[str, Any],
              connections: int, seconds: float) -> list[Measured]:  # fmt: skip
    """Both servers loaded at the same moment, each by its own wrk."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        loads = [pool.submit(load_once, server, where, body, connections, seconds, True)
                 for server in servers]  # fmt: skip
        return [load.result() for load in loads]


def placement_of(pair: int, args: argparse.Namespace) -> tuple[Placement, bool]:
    """Where pair `pair` runs, and whether its "on" server starts first. Pairs alternate
    A/B and A/A; every second pair of a kind swaps the cores, every fourth the order."""
    turn = pair // len(KINDS)
    server_cpu = None if args.unpinned or (os.cpu_count() or 1) < 2 else turn % 2
    driver_cpu = None if server_cpu is None else 1 - server_cpu
    return Placement(server_cpu, driver_cpu, not args.random_layout), turn // 2 % 2 == 0


def measure_pair(root: Path, folder: Path, pair: int, kind: str, body: dict[str, Any],
                 args: argparse.Namespace) -> tuple[list[Measured], dict[str, Any]]:  # fmt: skip
    """One pair of fresh servers, loaded in turn round after round at each concurrency; and
    one of their answers."""
    placement, on_first = placement_of(pair, args)
    everywhere = set(range(os.cpu_count() or 1))
    os.sched_setaffinity(0, everywhere if placement.driver_cpu is None
                         else {placement.driver_cpu})  # fmt: skip
    folder.mkdir()
    results = []
    with ExitStack() as stack:
        slots = ("on", "off") if on_first else ("off", "on")
        servers = [start(stack, root, folder / f"s{n}", slot, kind == "A/B" and slot == "on",
                         placement) for n, slot in enumerate(slots, 1)]  # fmt: skip
        for server in servers:  # the same warm-up for both, in the order they started
            answer = check_answer(f"pair {pair} {server.slot}", server.url, body)
            warmup = run_wrk(server.url, body, max(args.connections), WARMUP_SECONDS)
            server.warmup_failures = warmup.failures
        time.sleep(SETTLE_SECONDS)
        for round_ in range(1, args.rounds + 1):
            order = servers if round_ % 2 else servers[::-1]
            for conns in args.connections:
                for server in order:
                    results.append(load_once(server, (pair, kind, round_), body, conns,
                                             args.seconds))  # fmt: skip
                results += load_both(order, (pair, kind, round_), body, conns, args.seconds)
    os.sched_setaffinity(0, everywhere)
    return results, answer


def write_cost_us(root: Path, folder: Path, rows: list[dict[str, Any]],
                  predictions: list[dict[str, Any]]) -> float:  # fmt: skip
    """The microseconds `PredictionLog.write` takes for one request of `rows` in this process,
    configured as the service configures it (best of 7 rounds)."""
    from mlops.serving.config import load_config
    from mlops.serving.prediction_logs import PredictionLog

    config = load_config(server_env(root, folder, True, True))
    writer = PredictionLog(folder, config.environment, config.model, config.version,
                           config.protection, flush_every=config.log_flush_ms / 1000)  # fmt: skip
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
    parser.add_argument("--seconds", type=float, default=2.0, help="load per measurement")
    parser.add_argument("--runs", type=int, default=5,
                        help="pairs of fresh servers of each kind (A/B and A/A)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2, help="loads of each server per pair")
    parser.add_argument("--connections", type=int, nargs="+", default=[16])
    parser.add_argument(
        "--control",
        action="store_true",
        help="A/A pairs only: neither server logs (the machine's noise floor)",
    )
    parser.add_argument(
        "--unpinned",
        action="store_true",
        help="let servers and wrk run on any core (to compare the spread)",
    )
    parser.add_argument(
        "--random-layout",
        action="store_true",
        help="random hash seeds and address-space layouts, as deployed",
    )
    args = parser.parse_args()
    wrk_path()  # fail before training when wrk is missing
    kinds = ("A/A",) if args.control else KINDS
    began = time.perf_counter()
    measured: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-logging-") as tmp:
        root = trained_repository(Path(tmp) / "repo")
        body = {"rows": holdout_rows(root, 1)}
        answer: dict[str, Any] = {}
        for pair in range(args.runs * len(kinds)):
            kind = kinds[pair % len(kinds)]
            loads, answer = measure_pair(root, Path(tmp) / f"pair{pair}", pair, kind, body, args)
            measured += loads
        cost = write_cost_us(root, Path(tmp) / "write-cost", body["rows"], answer["predictions"])
    report(args, kinds, measured, cost, time.perf_counter() - began)
    return verdict(measured)


def pair_drops(measured: list[Measured], kind: str, conns: int, together: bool
               ) -> list[tuple[float, float, float]]:  # fmt: skip
    """Per pair of `kind`: the percent fewer requests per second of the "on" server than the
    "off" one, the throughput drop its CPU per request implies, and the percent more CPU
    time it had (loaded together: more of the core they share)."""
    out = []
    for pair in sorted({m.pair for m in measured if m.kind == kind}):
        loads = [m for m in measured if (m.pair, m.connections, m.together) ==
                 (pair, conns, together)]  # fmt: skip
        requests, seconds, cpu = {}, {}, {}
        for slot in ("on", "off"):
            mine = [m for m in loads if m.slot == slot]
            requests[slot] = sum(m.load.requests for m in mine)
            seconds[slot] = sum(m.load.requests / m.load.rps for m in mine)
            cpu[slot] = sum(m.cpu_seconds for m in mine)
        rps = {slot: requests[slot] / seconds[slot] for slot in requests}
        per_request = {slot: cpu[slot] / requests[slot] for slot in requests}
        out.append(((1 - rps["on"] / rps["off"]) * 100,
                    (1 - per_request["off"] / per_request["on"]) * 100,
                    (cpu["on"] / cpu["off"] - 1) * 100))  # fmt: skip
    return out


FIGURES = ("req/s drop", "CPU-per-request drop", "more CPU time")
JUDGED = (True, 1)  # loaded together, CPU per request: see the module docstring


def report(args: argparse.Namespace, kinds: tuple[str, ...], measured: list[Measured],
           cost_us: float, elapsed: float) -> None:  # fmt: skip
    pinned = ("unpinned" if args.unpinned else "both servers of a pair on one core, wrk on the"
              " other, swapped every second pair")  # fmt: skip
    layout = ("random layouts" if args.random_layout else
              f"PYTHONHASHSEED={HASH_SEED}, setarch -R")  # fmt: skip
    print(f"{MODEL}, one JSON row per request, wrk -t2 for {args.seconds:g}s per load;"
          f" {args.runs} pairs of fresh servers per kind ({', '.join(kinds)}, interleaved),"
          f" {args.rounds} rounds each (ABBA); {pinned}; {layout}; {os.cpu_count()} cores;"
          f" bentoml {version('bentoml')}, 1 worker, called directly\n")  # fmt: skip
    print(f"{'pair':>4}{'kind':>5}{'round':>6}  {'slot':<10}{'logs':>5}{'conns':>6}{'req/s':>8}"
          f"{'p50 ms':>8}{'p99 ms':>8}{'cpu ms/req':>11}{'failed':>7}{'requests':>9}"
          f"{'lines':>7}")  # fmt: skip
    for m in measured:
        r = m.load
        lines = "-" if m.lines is None else str(m.lines.records)
        slot = m.slot + (" (both)" if m.together else "")
        print(f"{m.pair:>4}{m.kind:>5}{m.round:>6}  {slot:<10}{'yes' if m.logging else 'no':>5}"
              f"{m.connections:>6}{r.rps:>8.0f}{r.p50_ms:>8.1f}{r.p99_ms:>8.1f}{m.cpu_ms:>11.3f}"
              f"{r.failures:>7}{r.requests:>9}{lines:>7}")  # fmt: skip
    print(f'\nper pair, the "on" server against the "off" one: req/s drop / drop implied by CPU'
          f' per request / more CPU time (target: under {TARGET_DROP:g}% drop)')  # fmt: skip
    for conns in args.connections:
        for together in (False, True):
            print(f"  c{conns}, loaded {'together' if together else 'in turn'}:")
            summaries = {}
            for kind in kinds:
                drops = pair_drops(measured, kind, conns, together)
                listed = ", ".join("/".join(f"{x:+.1f}" for x in drop) for drop in drops)
                print(f"    {kind} pairs: {listed}")
                summaries[kind] = [Interval.of([d[i] for d in drops]) for i in range(3)]
            for index, figure in enumerate(FIGURES):
                for kind in kinds:
                    print(f"    {kind} {figure:<21} {summaries[kind][index].text()}")
                if "A/B" in summaries and index < 2:
                    noise = summaries["A/A"][index] if "A/A" in summaries else None
                    judged = " (THE FIGURE JUDGED)" if (together, index) == JUDGED else ""
                    said = judge(summaries["A/B"][index], TARGET_DROP, noise)
                    print(f"    => {figure}{judged}: {said}"
                          + ("" if noise is None else f" (A/B mean minus A/A mean:"
                             f" {summaries['A/B'][index].mean - noise.mean:+.2f}%)"))  # fmt: skip
    print(f"the write path alone: {cost_us:.1f} us per request (timed in this process, best"
          f" of 7 x {WRITES}); as a share of the server's CPU per request, the drop it costs"
          " a CPU-bound server")  # fmt: skip
    for conns in args.connections:
        off = [m.cpu_ms for m in measured if m.connections == conns and not m.logging
               and not m.together]  # fmt: skip
        off_ms = statistics.median(off)
        share = cost_us / (cost_us + off_ms * 1000) * 100
        print(f"  c{conns:<4} {share:.2f}% of {off_ms:.3f} ms (median with logging off)"
              f" + {cost_us / 1000:.3f} ms")  # fmt: skip
    print(f"\nbenchmark took {elapsed:.0f}s")


def verdict(measured: list[Measured]) -> int:
    """0 when every request was answered and logged as expected; else say what was not."""
    problems = []
    for m in measured:
        where = f"pair {m.pair} ({m.kind}), round {m.round}, {m.slot}, c{m.connections}"
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
