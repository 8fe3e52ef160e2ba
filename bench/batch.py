"""Benchmark: `mlops score` on 1M and 5M Parquet rows against the raw limit and `mlflow models
predict` on the same rows, in one run.

Targets (the issue's limits), each printed as a ratio beside its target:
1. the throughput of `mlops score` is at least 0.8x the raw limit at every size. The raw limit
   is bench/batch_raw.py, one plain Python process that loads the estimator from the model's
   downloaded `model.pkl` (without importing mlflow; its docstring says why), reads the whole
   Parquet, calls `model.predict` on everything and writes Parquet;
2. it is at least 3x `mlflow models predict -m models:/breast-cancer/1 -t csv --env-manager
   local` on the same rows (a CSV copy, converted once and not timed). The peer runs at a
   larger size only when its rate at the smallest size says both runs fit `--peer-seconds`;
   otherwise the report says it ran at the smallest size only;
3. the peak RSS of `mlops score` at the largest size is within 1.2x of its peak at the smallest
   (streaming keeps memory flat; the raw limit's grows with the input);
4. the Spark engine: when `mlops score --help` lists `--engine`, `--engine spark` is timed at
   1M rows and on a 1-row input (its start-up cost) beside the local engine.

Every path is a whole process, timed from outside and wrapped in `/usr/bin/time -f %M` for its
peak RSS (a fresh process per measurement): `python -m mlops --repo ROOT score breast-cancer
--input X --output Y`, `python bench/batch_raw.py ...`, `python -m mlflow models predict ...`.
Throughput is input rows over wall seconds, start-up included. Each is run `--runs` times, in
alternating order, and the best time is kept (the largest peak RSS seen is shown). The machine
has 2 cores and is often shared: compare ratios from one run, not absolute numbers.

breast-cancer (StandardScaler + LogisticRegression, 30 float features) is trained and promoted
to production in a scratch repository, as bench/train_overhead.py and bench/scratch.py do. The
inputs are its holdout rows repeated, each value multiplied by N(1, 0.02) noise (seeded) and
rounded to the holdout's own decimals, written once per run as Parquet into a temporary folder
that is removed at the end.

    python bench/batch.py [--rows 1000000,5000000] [--quick] [--runs 2] [--peer-seconds 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from scratch import tracking_uri, trained_repository
from train_overhead import ENV, MODEL, run

from mlops.testing.process_groups import stop_group

ROWS = (1_000_000, 5_000_000)
QUICK_ROWS = (20_000, 100_000)
RAW_TARGET, PEER_TARGET, RSS_TARGET = 0.8, 3.0, 1.2
SPARK_ROWS = 1_000_000
JITTER, SEED, CHUNK_ROWS = 0.02, 20240601, 250_000
TIMEOUT = 900.0
RAW = Path(__file__).with_name("batch_raw.py")
TIME = Path("/usr/bin/time")
# Without GNU time: a small parent reports its child's peak RSS (it adds a Python start-up).
RSS_PARENT = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
              "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN)"
              ".ru_maxrss)); sys.exit(code)")  # fmt: skip
MLOPS_ENV = {k: v for k, v in ENV.items() if k != "MLFLOW_TRACKING_URI"}  # the repo's own store


class Failed(Exception):
    """A measured process failed or ran out of time."""


@dataclass
class Measured:
    rows: int
    path: str
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def rate(self) -> float:
        return self.rows / self.best

    @property
    def peak(self) -> float:
        return max(self.rss_mb)


def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one run of `command` in a fresh process."""
    rss = log.with_suffix(".rss")
    wrapped = ([str(TIME), "-f", "%M", "-o", str(rss), *command] if TIME.exists()
               else [sys.executable, "-c", RSS_PARENT, str(rss), *command])  # fmt: skip
    start = time.perf_counter()
    with log.open("w") as sink:
        process = subprocess.Popen(wrapped, stdout=sink, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)  # fmt: skip
    try:
        code = process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_group(process, 10)
        raise Failed(f"timed out after {TIMEOUT:.0f}s") from None
    except BaseException:  # interrupted: the child runs in its own session, stop it too
        stop_group(process, 10)
        raise
    elapsed = time.perf_counter() - start
    if code != 0:
        raise Failed(f"exit {code}:\n{log.read_text()[-2000:]}")
    return elapsed, int(rss.read_text().split()[-1]) / 1024


def write_inputs(holdout: Path, sizes: list[int], folder: Path) -> dict[int, Path]:
    """Parquet inputs of each size: holdout rows repeated, with multiplicative noise, each
    column rounded to as many decimals as the holdout's own values (measurements stay as
    precise as the instrument's: a realistic share of repeated values for Parquet's encoders)."""
    import csv

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    with holdout.open() as fh:
        records = list(csv.DictReader(fh))
    names = [n for n in records[0] if n != "malignant"]
    values = np.array([[float(r[n]) for n in names] for r in records])
    decimals = [max(len(r[n].partition(".")[2]) for r in records) for n in names]
    schema = pa.schema([(n, pa.float64()) for n in names])
    rng = np.random.default_rng(SEED)
    paths = {}
    for size in sizes:
        paths[size] = folder / f"rows-{size}.parquet"
        with pq.ParquetWriter(paths[size], schema) as writer:
            for start in range(0, size, CHUNK_ROWS):
                count = min(CHUNK_ROWS, size - start)
                block = values[np.arange(start, start + count) % len(values)]
                block = block * rng.normal(1.0, JITTER, block.shape)
                columns = [np.round(block[:, i], d) for i, d in enumerate(decimals)]
                writer.write_table(pa.table(columns, schema=schema))
    return paths


def csv_copy(parquet: Path) -> Path:
    """The same rows as CSV, for the peer (which reads CSV or JSON only)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    target = parquet.with_suffix(".csv")
    source = pq.ParquetFile(parquet)
    with pacsv.CSVWriter(target, source.schema_arrow) as writer:
        for batch in source.iter_batches():
            writer.write_batch(batch)
    return target


def model_file(root: Path, folder: Path) -> Path:
    """`model.pkl` of version 1, downloaded from the tracking store as `mlops score` does."""
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import mlflow
    import yaml

    mlflow.set_tracking_uri(tracking_uri(root))
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/1", dst_path=str(folder)))
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
    if flavor.get("serialization_format") not in ("cloudpickle", "pickle"):
        sys.exit(f"bench/batch_raw.py reads pickles; the model is {flavor}")
    return local / flavor["pickled_model"]


def row_count(parquet: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(parquet).num_rows)


class Bench:
    """The scratch repository, its inputs and every measurement taken so far."""

    def __init__(self, root: Path, work: Path, model: Path) -> None:
        self.root, self.work, self.model = root, work, model
        self.results: dict[tuple[int, str], Measured] = {}
        self.count = 0

    def measure(self, rows: int, path: str, command: list[str], env: dict[str, str],
                output: Path) -> Measured:  # fmt: skip
        self.count += 1
        print(f"  {path} on {rows:,} rows ...", end=" ", file=sys.stderr, flush=True)
        seconds, rss = timed(command, env, self.work / f"run-{self.count}.log")
        print(f"{seconds:.1f}s, {rss:,.0f} MB", file=sys.stderr, flush=True)
        if output.suffix == ".parquet" and row_count(output) != rows:
            raise Failed(f"{path} wrote {row_count(output)} rows of {rows}")
        if output.suffix == ".json" and output.stat().st_size < 2 * rows:  # "0, " per row
            raise Failed(f"{path} wrote {output.stat().st_size} bytes for {rows} rows")
        for produced in output.parent.glob(f"{output.name}*"):
            produced.unlink()  # the next run starts from nothing, and the disk stays free
        result = self.results.setdefault((rows, path), Measured(rows, path))
        result.seconds.append(seconds)
        result.rss_mb.append(rss)
        return result

    def raw(self, rows: int, source: Path) -> Measured:
        out = self.work / "raw.parquet"
        return self.measure(rows, "raw limit", [sys.executable, str(RAW), str(self.model),
                                                str(source), str(out)], ENV, out)  # fmt: skip

    def score(self, rows: int, source: Path, engine: str | None = None) -> Measured:
        out = self.work / "scored.parquet"
        command = [sys.executable, "-m", "mlops", "--repo", str(self.root), "score", MODEL,
                   "--input", str(source), "--output", str(out)]  # fmt: skip
        if engine:
            command += ["--engine", engine]
        label = f"mlops score --engine {engine}" if engine else "mlops score"
        return self.measure(rows, label, command, MLOPS_ENV, out)

    def peer(self, rows: int, source: Path) -> Measured:
        out = self.work / "peer.json"
        command = [sys.executable, "-m", "mlflow", "models", "predict",
                   "-m", f"models:/{MODEL}/1", "-i", str(source), "-t", "csv",
                   "--env-manager", "local", "-o", str(out)]  # fmt: skip
        env = {**ENV, "MLFLOW_TRACKING_URI": tracking_uri(self.root)}
        return self.measure(rows, "mlflow models predict", command, env, out)


def promoted_repository(root: Path) -> Path:
    """breast-cancer version 1 trained and holding production, as `mlops score` needs."""
    trained_repository(root)
    for stage in ("staging", "production"):
        run([sys.executable, "-m", "mlops", "promote", MODEL, "1", "--to", stage, "--apply"], root)
    return root


def sizes_from(text: str) -> list[int]:
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("expected row counts such as 200000,1000000")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=sizes_from, default=list(ROWS),
                        help="input sizes, comma-separated (default 1000000,5000000)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke sizes {QUICK_ROWS} instead of --rows")  # fmt: skip
    parser.add_argument("--runs", type=int, default=2, help="runs per path; the best is kept")
    parser.add_argument("--peer-seconds", type=float, default=300.0,
                        help="peer runs at a larger size only if they fit this")  # fmt: skip
    args = parser.parse_args()
    sizes = list(QUICK_ROWS) if args.quick else args.rows
    began, load = time.perf_counter(), os.getloadavg()[0]
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-batch-") as tmp:
        work = Path(tmp)
        print("training and promoting breast-cancer in a scratch repository ...", file=sys.stderr)
        root = promoted_repository(work / "repo")
        holdout = root / "models" / MODEL / "data" / "holdout.csv"
        spark_rows = SPARK_ROWS if SPARK_ROWS in sizes else sizes[0]
        inputs = write_inputs(holdout, sorted({1, *sizes, spark_rows}), work)
        csvs = {size: csv_copy(inputs[size]) for size in sizes}
        bench = Bench(root, work, model_file(root, work / "model"))
        peer_sizes = [sizes[0]]
        try:
            for number in range(args.runs):
                for size in sizes:
                    paths = [bench.raw, bench.score, bench.peer]
                    for measure in paths if number % 2 == 0 else paths[::-1]:
                        if measure == bench.peer and size not in peer_sizes:
                            continue
                        measure(size, csvs[size] if measure == bench.peer else inputs[size])
                    if number == 0 and size == sizes[0]:
                        peer_sizes += fitting(bench, sizes, args, notes)
                bench.score(1, inputs[1])
            spark = spark_section(bench, inputs, spark_rows, args.runs)
        except Failed as exc:
            sys.exit(f"a measured run failed: {exc}")
    report(bench, sizes, args, spark, notes, time.perf_counter() - began, load)
    return 0


def fitting(bench: Bench, sizes: list[int], args: argparse.Namespace, notes: list[str]
            ) -> list[int]:  # fmt: skip
    """The larger sizes at which the peer's runs, at its rate on the smallest, fit the budget."""
    rate = bench.results[sizes[0], "mlflow models predict"].rate
    fits = []
    for size in sizes[1:]:
        expected = size / rate * args.runs
        if expected <= args.peer_seconds:
            fits.append(size)
        else:
            notes.append(f"mlflow models predict ran at {sizes[0]:,} rows only: {size:,} rows "
                         f"would take about {expected:.0f}s for {args.runs} run(s) "
                         f"(--peer-seconds {args.peer_seconds:g})")  # fmt: skip
    return fits


# --- Spark engine -----------------------------------------------------------------------------
# `mlops score --engine spark` is being built beside this benchmark. When `mlops score --help`
# lists --engine, the same measurement runs for it: `spark_rows` (1M when measured) beside the
# local engine, and its start-up cost, the time to score a 1-row input. Until then the report
# says "spark engine: not available".


def spark_section(bench: Bench, inputs: dict[int, Path], rows: int, runs: int) -> str:
    """What became of it: not available, failed (why) or measured (into `bench.results`)."""
    help_text = subprocess.run(
        [sys.executable, "-m", "mlops", "score", "--help"], capture_output=True, text=True,
        env=MLOPS_ENV, check=False,
    ).stdout  # fmt: skip
    if "--engine" not in help_text:
        return "not available"
    try:
        for _ in range(runs):
            bench.score(rows, inputs[rows], engine="spark")
            bench.score(1, inputs[1], engine="spark")
    except Failed as exc:
        return f"failed: {str(exc)[-600:]}"
    return "measured"


def report(bench: Bench, sizes: list[int], args: argparse.Namespace, spark: str,
           notes: list[str], elapsed: float, load: float) -> None:  # fmt: skip
    results = bench.results
    print(f"\n{MODEL} (StandardScaler + LogisticRegression, 30 float64 features), Parquet in and "
          f"out, best of {args.runs} runs, {os.cpu_count()} cores; mlflow {version('mlflow')}, "
          f"scikit-learn {version('scikit-learn')}, pyarrow {version('pyarrow')}\n")  # fmt: skip
    print(f"{'rows':>10}  {'path':<36}{'seconds':>9}{'rows/s':>11}{'peak RSS MB':>13}  "
          "ratio vs target")  # fmt: skip
    lines = []
    for size in sorted({rows for rows, _ in results}, key=lambda r: (r == 1, r)):
        for (rows, path), m in results.items():
            if rows != size:
                continue
            mine = results.get((rows, "mlops score"))
            ratio = ""
            if path == "mlops score" and (rows, "raw limit") in results:
                ratio = f"{m.rate / results[rows, 'raw limit'].rate:.2f}x raw (>= {RAW_TARGET}x)"
            elif path == "mlflow models predict" and mine:
                ratio = f"mlops {mine.rate / m.rate:.2f}x this (>= {PEER_TARGET:g}x)"
            elif path.startswith("mlops score --engine") and mine:
                ratio = f"{m.rate / mine.rate:.2f}x the local engine"
            label, rate = (f"{path} (start-up)", "-") if rows == 1 else (path, f"{m.rate:,.0f}")
            lines.append(f"{rows:>10,}  {label:<36}{m.best:>9.2f}{rate:>11}{m.peak:>13,.0f}"
                         f"  {ratio}")  # fmt: skip
    print("\n".join(lines))
    verdict = {True: "ok", False: "MISS"}
    print("\ntargets")
    raw = {s: results[s, "mlops score"].rate / results[s, "raw limit"].rate for s in sizes}
    print(f"  1. mlops score / raw limit: {listed(raw)} (target >= {RAW_TARGET}x): "
          f"{verdict[min(raw.values()) >= RAW_TARGET]}")  # fmt: skip
    peer = {s: results[s, "mlops score"].rate / results[s, "mlflow models predict"].rate
            for s in sizes if (s, "mlflow models predict") in results}  # fmt: skip
    print(f"  2. mlops score / mlflow models predict: {listed(peer)} (target >= {PEER_TARGET:g}x): "
          f"{verdict[min(peer.values()) >= PEER_TARGET]}")  # fmt: skip
    ceiling = {s: results[s, "raw limit"].rate / results[s, "mlflow models predict"].rate
               for s in peer}  # fmt: skip
    print(f"     (the raw limit itself is {listed(ceiling)} mlflow models predict)")
    small, large = results[sizes[0], "mlops score"], results[sizes[-1], "mlops score"]
    growth = large.peak / small.peak
    print(f"  3. mlops score peak RSS, {sizes[-1]:,} / {sizes[0]:,} rows: {large.peak:,.0f} MB / "
          f"{small.peak:,.0f} MB = {growth:.2f}x (target <= {RSS_TARGET}x): "
          f"{verdict[growth <= RSS_TARGET]}")  # fmt: skip
    if spark != "measured":
        print(f"  4. spark engine: {spark}")
    else:
        engine = [m for (_, path), m in results.items() if path.startswith("mlops score --engine")]
        big = max(engine, key=lambda m: m.rows)
        start = next(m for m in engine if m.rows == 1)
        local, local_start = results[big.rows, "mlops score"], results[1, "mlops score"]
        print(f"  4. spark engine at {big.rows:,} rows: {big.rate:,.0f} rows/s beside local "
              f"{local.rate:,.0f} rows/s; start-up (1 row) {start.best:.1f}s beside local "
              f"{local_start.best:.1f}s")  # fmt: skip
    for note in notes:
        print(f"  note: {note}")
    busy = ": other work was using the cores, expect noise" if load > 0.5 else ""
    print(f"\nload average before the benchmark began {load:.1f}{busy}; it took {elapsed:.0f}s")


def listed(ratios: dict[int, float]) -> str:
    return ", ".join(f"{rows:,} rows {ratio:.2f}x" for rows, ratio in ratios.items())


if __name__ == "__main__":
    sys.exit(main())
