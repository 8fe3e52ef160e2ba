"""Benchmark: `mlops monitor` on logged predictions of breast-cancer against Evidently's own
report on the same frames, in one run.

Target (the issue's limit): the wall time of `mlops monitor` (a whole process: read a week of
prediction logs, check them against the feature schema, fetch the reference, score it with
the model for prediction drift, compute the statistics with Evidently, write the HTML report
and summary, record an MLflow run) is under 1.5x that of bench/monitor_evidently.py: one
process that reads the same current and reference frames from flat Parquet and runs the same
Evidently metrics. Peak RSS of both is shown (of the largest process: `mlops monitor` runs
Evidently in a worker process of its own).

breast-cancer is trained and promoted in a scratch repository; N predictions (its training
rows resampled with 1% noise, in requests of 100 rows) are written by the serving process's
own log writer, untimed, spread evenly over the seven days of monitor's window, as a deploy
host holds them. The judged path is the host's steady state: the daily `mlops retention
--apply` (timed and shown, not counted: it runs once a day, not once per monitor) has
compacted the closed days into Parquet, and today's lines are JSON. The same logs never
compacted, all JSON lines, are timed too and shown beside it: what the first run after
installing pays. Each path runs `--runs` times, in turn; the best time is kept.

    python bench/monitor.py [--rows 1000000] [--quick] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch import trained_repository
from train_overhead import ENV, MODEL, run

TARGET = 1.5
DAYS = 7  # breast-cancer's monitoring.drift.window_days
WATCHED = [
    "mean_radius",
    "mean_texture",
    "mean_concave_points",
    "worst_area",
    "worst_concavity",
]  # fmt: skip (breast-cancer's monitoring.drift.features)
PEER = Path(__file__).with_name("monitor_evidently.py")
TIME = Path("/usr/bin/time")


def write_logs(root: Path, logs: Path, rows: int) -> Path:
    """`rows` logged predictions, a seventh of them on each of the last seven days (today's
    a minute ago, the others at this time of their day), and the current frame as flat
    Parquet."""
    import numpy as np
    import pandas as pd

    from mlops.core.prediction_log import Protection
    from mlops.serving.prediction_logs import PredictionLog

    train = pd.read_csv(root / f"models/{MODEL}/data/train.csv").drop(columns=["malignant"])
    frame = train.sample(rows, replace=True, random_state=1).reset_index(drop=True)
    frame = frame * np.random.default_rng(1).normal(1, 0.01, frame.shape)
    frame["prediction"] = (frame["mean_radius"] > 15).astype(int)
    records = frame.drop(columns=["prediction"]).to_dict(orient="records")
    answers = [{"prediction": int(p), "probability": 0.5} for p in frame["prediction"]]
    writer = PredictionLog(logs, "production", MODEL, "1", Protection())
    now = datetime.now(UTC) - timedelta(minutes=1)
    for start in range(0, rows, 100):
        when = now - timedelta(days=start * DAYS // rows)
        writer.write(f"r{start}", 5.0, records[start : start + 100], answers[start : start + 100],
                     when)  # fmt: skip
    writer.close()
    current = logs.parent / "current.parquet"
    frame.to_parquet(current)
    return current


def measure(command: list[str], cwd: Path, rss_file: Path) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run([str(TIME), "-f", "%M", "-o", str(rss_file), *command], cwd=cwd,
                          env=ENV, capture_output=True, text=True, check=False)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: a breach, which is an answer
        raise SystemExit(f"{' '.join(command[:4])} failed ({done.returncode}):\n"
                         f"{done.stderr[-3000:]}")  # fmt: skip
    return seconds, int(rss_file.read_text().split()[-1]) / 1024


def compact(root: Path, logs: Path) -> None:
    """The closed days of `logs` compacted by `mlops retention --apply`, timed and shown."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlops", "retention", "--logs", str(logs),
                           "--apply", "--json"], cwd=root, env=ENV, capture_output=True,
                          text=True, check=False)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mlops retention failed ({done.returncode}):\n{done.stderr[-3000:]}")
    compacted = [c for c in json.loads(done.stdout)["compacted"] if c["kept"] is None]
    rows = sum(c["rows"] for c in compacted)
    before = sum(c["bytes"] for c in compacted) / 1e6
    after = sum(c["compacted_bytes"] for c in compacted) / 1e6
    print(f"  mlops retention --apply compacted {len(compacted)} closed day(s), {rows:,} rows:"
          f" {before:,.0f} MB of JSON lines into {after:,.0f} MB of Parquet in {seconds:.1f}s"
          " (daily, untimed below)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows, one run")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    rows, runs = (100_000, 1) if args.quick else (args.rows, args.runs)
    with tempfile.TemporaryDirectory(prefix="mlops-bench-monitor-") as scratch:
        work = Path(scratch)
        root = trained_repository(work / "repo")
        for stage in ("staging", "production"):
            run([sys.executable, "-m", "mlops", "promote", MODEL, "1", "--to", stage,
                 "--apply"], root)  # fmt: skip
        print(f"writing {rows:,} logged predictions over {DAYS} days ...", flush=True)
        current = write_logs(root, work / "logs", rows)
        shutil.copytree(work / "logs", work / "logs-json")
        compact(root, work / "logs")
        reference = work / "reference.parquet"
        import pandas as pd

        train = pd.read_csv(root / f"models/{MODEL}/data/train.csv")
        train.assign(prediction=(train["mean_radius"] > 15).astype(int)).to_parquet(reference)
        paths = {
            "mlops monitor": [sys.executable, "-m", "mlops", "monitor", MODEL, "--logs",
                              str(work / "logs"), "--out", str(work / "out")],
            "  all JSON lines": [sys.executable, "-m", "mlops", "monitor", MODEL, "--logs",
                                 str(work / "logs-json"), "--out", str(work / "out-json")],
            "Evidently alone": [sys.executable, str(PEER), str(reference), str(current),
                                str(work / "peer.html"), "psi", "0.2", *WATCHED, "prediction"],
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in paths}
        rss: dict[str, float] = dict.fromkeys(paths, 0.0)
        for _ in range(runs):
            for name, command in paths.items():
                print(f"  {name.strip()} on {rows:,} rows ...", end=" ", flush=True)
                seconds, peak = measure(command, root, work / "rss")
                times[name].append(seconds)
                rss[name] = max(rss[name], peak)
                print(f"{seconds:.1f}s, {peak:,.0f} MB", flush=True)
    best = {name: min(values) for name, values in times.items()}
    peer = best["Evidently alone"]
    print(f"\n{rows:,} logged predictions of {MODEL} over {DAYS} days, best of {runs}, 2 cores")
    for name in paths:
        ratio = "" if name == "Evidently alone" else f"  {best[name] / peer:.2f}x"
        print(f"  {name:18} {best[name]:7.2f} s  {rss[name]:8,.0f} MB{ratio}")
    ratio = best["mlops monitor"] / peer
    verdict = "ok" if ratio < TARGET else "MISS"
    print(f"target: mlops monitor (closed days compacted) / Evidently alone = {ratio:.2f}x"
          f" (< {TARGET}x): {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
