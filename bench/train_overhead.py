"""Benchmark: `mlops train` on the Python example against its bare commands, in one run.

Targets (the issue's limits): an unchanged model (every DVC stage skipped, nothing to
register) under 3 s; the overhead of `mlops train` over the bare training command under 5 s.
Floors measured beside them: `dvc repro` alone with nothing to do, and `python train.py`
(plus `python evaluate.py`, which the pipeline also reruns) with the same parameters.
The store is created by a first, unmeasured training.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "breast-cancer"
COPIED = ("policies", "registry.yaml", ".dvc/config", ".dvcignore", ".gitignore")
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@localhost",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
}  # fmt: skip


def run(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def prepare(root: Path) -> None:
    for name in COPIED:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
    shutil.copytree(
        ROOT / "models" / MODEL, root / "models" / MODEL,
        ignore=shutil.ignore_patterns("model", "*.csv", "__pycache__"),
    )  # fmt: skip
    text = f"schema_version: 1\nmodels:\n  {MODEL}:\n    versions: {{}}\n    stages: {{}}\n"
    (root / "registry.yaml").write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        run(["git", *args], root)


def set_c(root: Path, value: float) -> None:
    params = root / "models" / MODEL / "params.yaml"
    lines = [f"  c: {value}" if line.startswith("  c: ") else line
             for line in params.read_text().splitlines()]  # fmt: skip
    params.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    mlops = [sys.executable, "-m", "mlops", "train", MODEL]
    with tempfile.TemporaryDirectory(prefix="mlops-bench-train-") as tmp:
        root = Path(tmp) / "repo"
        prepare(root)
        first = run(mlops, root)
        unchanged = [run(mlops, root) for _ in range(args.runs)]
        noop = [run([sys.executable, "-m", "dvc", "repro", f"models/{MODEL}/dvc.yaml"], root)
                for _ in range(args.runs)]  # fmt: skip
        folder = root / "models" / MODEL
        ours, bare, bare_eval = [], [], []
        for value in (0.5, 0.25, 2.0, 4.0, 0.75)[: args.runs]:
            set_c(root, value)
            ours.append(run(mlops, root))
            bare.append(run([sys.executable, "train.py", "--c", str(value), "--model-dir",
                             "/tmp/mlops-bench-model", "--metrics", "/tmp/mlops-bench-m.json"],
                            folder))  # fmt: skip
            bare_eval.append(
                run([sys.executable, "evaluate.py", "--metrics", "/tmp/mlops-bench-e.json"], folder)
            )
    med = statistics.median
    print(f"{MODEL}, median of {args.runs} runs, {os.cpu_count()} cores")
    print(f"first train (creates the tracking store): {first:.2f}s\n")
    print(f"{'measure':<42}{'ours':>9}{'floor':>9}{'target':>9}  verdict")
    print(f"{'unchanged model (vs dvc repro no-op)':<42}{med(unchanged):>8.2f}s{med(noop):>8.2f}s"
          f"{'3.0s':>9}  {'ok' if med(unchanged) < 3 else 'OVER'}")  # fmt: skip
    overhead = med(ours) - med(bare)
    print(
        f"{'retrain (vs bare python train.py)':<42}{med(ours):>8.2f}s{med(bare):>8.2f}s"
        f"{'':>9}  overhead {overhead:.2f}s (target 5.0s): {'ok' if overhead < 5 else 'OVER'}"
    )
    context = med(ours) - med(bare) - med(bare_eval)
    print(f"{'  of which the evaluate stage it reruns':<42}{'':>9}{med(bare_eval):>8.2f}s"
          f"{'':>9}  overhead beyond train+evaluate {context:.2f}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
