"""Benchmark: `mlops train` on the Python example against its bare commands, in one run.

Targets (the issue's limits): an unchanged model (every DVC stage skipped, nothing to
register) under 3 s; the overhead of `mlops train` over the bare training command under 5 s.
A retrain runs two of the model's own commands: `python train.py` and, because the model
changed, the evaluate stage's `python evaluate.py`. The overhead is shown against both: over
train.py alone, and over the model's own commands together, which is what the platform adds
(DVC, MLflow, lineage, the push). `dvc repro` of the same change, without the platform's
tracking, is shown beside them. The store is created by a first, unmeasured training.
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


def prepare(root: Path, models: tuple[str, ...] = (MODEL,)) -> None:
    """`root` as a git repository of the platform files and `models` (no data, no model)."""
    for name in COPIED:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
    for model in models:
        shutil.copytree(
            ROOT / "models" / model, root / "models" / model,
            ignore=shutil.ignore_patterns("model", "*.csv", "__pycache__"),
        )  # fmt: skip
    entries = "".join(f"  {model}:\n    versions: {{}}\n    stages: {{}}\n" for model in models)
    (root / "registry.yaml").write_text(f"schema_version: 1\nmodels:\n{entries}")
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
        ours, bare, bare_eval, pipeline = [], [], [], []
        values = iter((0.5, 0.25, 2.0, 4.0, 0.75, 1.5, 3.0, 0.6, 0.3, 5.0))
        for _ in range(args.runs):
            value = next(values)
            set_c(root, value)
            ours.append(run(mlops, root))
            bare.append(run([sys.executable, "train.py", "--c", str(value), "--model-dir",
                             "/tmp/mlops-bench-model", "--metrics", "/tmp/mlops-bench-m.json"],
                            folder))  # fmt: skip
            bare_eval.append(
                run([sys.executable, "evaluate.py", "--metrics", "/tmp/mlops-bench-e.json"], folder)
            )
            set_c(root, next(values))  # a change the tracked runs have not seen
            pipeline.append(run([sys.executable, "-m", "dvc", "repro", f"models/{MODEL}/dvc.yaml"],
                                root))  # fmt: skip
    med = statistics.median
    print(f"{MODEL}, median of {args.runs} runs, {os.cpu_count()} cores")
    print(f"first train (creates the tracking store): {first:.2f}s\n")
    print(f"{'measure':<44}{'ours':>8}{'floor':>8}{'overhead':>10}{'target':>8}  verdict")
    verdict = {True: "ok", False: "OVER"}
    print(f"{'unchanged model (vs dvc repro no-op)':<44}{med(unchanged):>7.2f}s{med(noop):>7.2f}s"
          f"{'':>10}{3.0:>7.1f}s  {verdict[med(unchanged) < 3]}")  # fmt: skip
    own = [t + e for t, e in zip(bare, bare_eval, strict=True)]
    for label, floor, target in (
        ("retrain vs python train.py", bare, 5.0),
        ("retrain vs train.py + evaluate.py", own, 5.0),
        ("retrain vs dvc repro (no tracking)", pipeline, None),
    ):
        over = med(ours) - med(floor)
        judged = f"{target:>7.1f}s  {verdict[over < target]}" if target else ""
        print(f"{label:<44}{med(ours):>7.2f}s{med(floor):>7.2f}s{over:>9.2f}s{judged}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
