"""Benchmark: `mlops validate`, `mlops plan` and `mlops --help` on a generated 500-model repository.

Targets (the issue's limits): validate < 2 s, plan (3-model change) < 1 s, --help < 0.5 s.
Each is measured beside a peer or floor in the same run, and printed as ratios:
- validate vs check-jsonschema validating the same manifests (schema only, no rules);
- plan vs the bare `git diff --name-only` it is built on;
- --help vs a bare Python start-up.
Timings are medians of several runs of the real console script in a subprocess.
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
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "breast-cancer"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def generate(root: Path, models: int) -> None:
    """A repository with `models` copies of the example model, all in the registry."""
    shutil.copytree(ROOT / "policies", root / "policies")
    source = ROOT / "models" / EXAMPLE
    manifest = (source / "model.yaml").read_text()
    registry = ["schema_version: 1", "models:"]
    for i in range(models):
        name = f"model-{i:04d}"
        folder = root / "models" / name
        folder.mkdir(parents=True)
        (folder / "model.yaml").write_text(manifest.replace(f"name: {EXAMPLE}", f"name: {name}"))
        for entry in ("train.py", "predict.py", "params.yaml"):
            shutil.copy2(source / entry, folder / entry)
        registry += [f"  {name}:", "    versions: {}", "    stages: {}"]
    (root / "registry.yaml").write_text("\n".join(registry) + "\n")


FORMAT = "{:<24}{:>9}{:>8}{:>13} {:<5}{:<22}{:>10}{:>11}"


class Row(NamedTuple):
    name: str
    target: float
    ours: float
    peer_name: str
    peer: float | None


def git(root: Path, *args: str) -> None:
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


def timed(
    command: list[str], cwd: Path, runs: int, ok: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
) -> float:  # fmt: skip
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
        if done.returncode not in ok:
            sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    mlops = [sys.executable, "-m", "mlops"]
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        root = Path(tmp)
        generate(root, args.models)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "base")
        git(root, "checkout", "-q", "-b", "change")
        for i in (3, args.models // 3, args.models - 7):
            with (root / "models" / f"model-{i:04d}" / "params.yaml").open("a") as fh:
                fh.write("# changed\n")
        git(root, "commit", "-q", "-am", "change three models")

        manifests = sorted(str(p) for p in root.glob("models/*/model.yaml"))
        schema = str(root / "policies" / "schemas" / "model.schema.json")
        checker = bindir / "check-jsonschema"
        rows = [
            Row("validate", 2.0, timed([*mlops, "validate"], root, args.runs), "check-jsonschema",
                timed([str(checker), "--schemafile", schema, *manifests], root, args.runs)
                if checker.exists() else None),
            Row("plan (3 of N changed)", 1.0,
                timed([*mlops, "plan", "--base", "main", "--json"], root, args.runs),
                "git diff --name-only",
                timed(["git", "diff", "--name-only", "main...change"], root, args.runs)),
            Row("--help", 0.5, timed([*mlops, "--help"], root, args.runs),
                "python -c pass", timed([sys.executable, "-c", "pass"], root, args.runs)),
        ]  # fmt: skip
    print(f"{args.models} models, median of {args.runs} runs, {os.cpu_count()} cores\n")
    header = ("command", "ours", "target", "ours/target", "", "peer", "peer time", "ours/peer")
    print(FORMAT.format(*header))
    for row in rows:
        peer = f"{row.peer:.3f}s" if row.peer else "n/a"
        ratio = f"{row.ours / row.peer:.2f}x" if row.peer else ""
        verdict = "ok" if row.ours < row.target else "OVER"
        print(FORMAT.format(
            row.name, f"{row.ours:.3f}s", f"{row.target:.1f}s", f"{row.ours / row.target:.2f}x",
            verdict, row.peer_name, peer, ratio,
        ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
