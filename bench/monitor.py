"""Benchmark: `mlops monitor` on logged predictions of breast-cancer against Evidently's own
report on the same frames, in one run.

Target (the issue's limit): the wall time of `mlops monitor` (a whole process: read the day
partitions of JSON-lines logs, check them against the feature schema, fetch the reference,
score it with the model for prediction drift, compute the statistics with Evidently, write
the HTML report and summary, record an MLflow run) is under 1.5x that of
bench/monitor_evidently.py: one process that reads the same current and reference frames
from flat Parquet and runs the same Evidently metrics. Peak RSS of both is shown.

breast-cancer is trained and promoted in a scratch repository; N predictions (its training
rows resampled with 1% noise, in requests of 100 rows) are written by the serving process's
own log writer, untimed. Each path runs `--runs` times, alternating; the best time is kept.

    python bench/monitor.py [--rows 1000000] [--quick] [--runs 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch import trained_repository
from train_overhead import ENV, MODEL, run

TARGET = 1.5
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
    """`rows` logged predictions an hour ago, and the current frame as flat Parquet."""
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
    when = datetime.now(UTC) - timedelta(hours=1)
    for start in range(0, rows, 100):
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
        print(f"writing {rows:,} logged predictions ...", flush=True)
        current = write_logs(root, work / "logs", rows)
        reference = work / "reference.parquet"
        import pandas as pd

        train = pd.read_csv(root / f"models/{MODEL}/data/train.csv")
        train.assign(prediction=(train["mean_radius"] > 15).astype(int)).to_parquet(reference)
        ours = [sys.executable, "-m", "mlops", "monitor", MODEL, "--logs", str(work / "logs"),
                "--out", str(work / "out")]  # fmt: skip
        peer = [sys.executable, str(PEER), str(reference), str(current), str(work / "peer.html"),
                "psi", "0.2", *WATCHED, "prediction"]  # fmt: skip
        times: dict[str, list[float]] = {"mlops monitor": [], "Evidently alone": []}
        rss: dict[str, float] = {"mlops monitor": 0.0, "Evidently alone": 0.0}
        for _ in range(runs):
            for name, command in (("mlops monitor", ours), ("Evidently alone", peer)):
                print(f"  {name} on {rows:,} rows ...", end=" ", flush=True)
                seconds, peak = measure(command, root, work / "rss")
                times[name].append(seconds)
                rss[name] = max(rss[name], peak)
                print(f"{seconds:.1f}s, {peak:,.0f} MB", flush=True)
    best = {name: min(values) for name, values in times.items()}
    ratio = best["mlops monitor"] / best["Evidently alone"]
    print(f"\n{rows:,} logged predictions of {MODEL}, best of {runs}, 2 cores")
    for name in times:
        print(f"  {name:16} {best[name]:7.2f} s  {rss[name]:8,.0f} MB")
    verdict = "ok" if ratio < TARGET else "MISS"
    print(f"target: mlops monitor / Evidently alone = {ratio:.2f}x (< {TARGET}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
