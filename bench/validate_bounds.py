"""Benchmark: `mlops validate` on bad input of any size answers in time and output close to a
normal repository's.

Each case is a generated repository with one model, validated by the real console entry point
in a subprocess; the baseline is the same repository with its normal, valid manifest. Printed
per case: the median time, the ratio to the baseline, the lines printed and the exit code.

- unknown keys at the limit: the manifest filled up to the manifest size limit (1 MiB) with
  unknown top-level keys (about 43,000): listed up to the cap, the rest counted;
- unknown keys, 4 MB: about 160,000 unknown keys, over the limit: refused before parsing;
- bad list items: `owners` holding 100,000 integers (one schema error each): counting stops;
- distinct mappings: `owners` holding 3,000 different mappings (jsonschema compares every pair);
- registry 200 x 50: a valid registry.yaml with 200 models of 50 fully filled versions each
  (its size is printed: it is what the registry size limit is measured against), beside
  its 200 manifests; the baseline for this row is the same repository with empty versions.

Timings are medians of several runs and are compared only within one run (ratios).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from cli_speed import generate

MANIFEST_LIMIT = 1024 * 1024  # the manifest size limit (mlops.core.bounds.MANIFEST_BYTES)
FORMAT = "{:<40}{:>12}{:>9}{:>10}{:>10}{:>7}"


def run(root: Path, runs: int) -> tuple[float, int, int]:
    """Median seconds of `mlops validate`, the lines it printed and its exit code."""
    samples, lines, code = [], 0, 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "mlops", "validate"], cwd=root, capture_output=True
        )
        samples.append(time.perf_counter() - start)
        lines = len((done.stdout + done.stderr).splitlines())
        code = done.returncode
        if code not in (0, 1) or b"Traceback" in done.stderr:
            sys.exit(f"validate failed ({code}):\n{done.stderr.decode()[-2000:]}")
    return statistics.median(samples), lines, code


def manifest_of(root: Path) -> Path:
    return root / "models" / "model-0000" / "model.yaml"


def unknown_keys(size: int) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        manifest = manifest_of(root)
        text = manifest.read_text()
        extra, n = [], 0
        while len(text) + 24 * (n + 1) <= size:
            extra.append(f"unknown_field_{n:06d}: 1\n")
            n += 1
        manifest.write_text(text + "".join(extra))

    return change


def owners(items: list[str]) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        manifest = manifest_of(root)
        lines = manifest.read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("owners:"))
        end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith((" ", "-")))
        lines[start:end] = ["owners: [" + ", ".join(items) + "]"]
        manifest.write_text("\n".join(lines) + "\n")

    return change


def _hex(text: str, digits: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:digits]


def registry(models: int, versions: int) -> dict[str, object]:
    """A valid registry with every version field filled, as `mlops promote` writes them."""
    entries: dict[str, object] = {}
    for m in range(models):
        name = f"model-{m:04d}"
        entries[name] = {
            "versions": {
                str(v): {
                    "run_id": _hex(f"{name}{v}r", 32),
                    "model_uri": f"models:/{name}/{v}",
                    "git_commit": _hex(f"{name}{v}g", 40),
                    "dvc_hashes": {
                        "data/train.csv": _hex(f"{name}{v}d", 32),
                        "data/holdout.csv": _hex(f"{name}{v}h", 32),
                        "data/reference": _hex(f"{name}{v}f", 32) + ".dir",
                    },
                    "params_hash": "sha256:" + _hex(f"{name}{v}p", 64),
                    "metrics": {"roc_auc": 0.912345678, "accuracy": 0.8765, "f1": 0.81234},
                    "artifact_sha256": _hex(f"{name}{v}a", 64),
                    "model_sha256": _hex(f"{name}{v}m", 64),
                    "bento_tag": f"{name}:v{v}-{_hex(f'{name}{v}b', 12)}",
                    "image_digest": "sha256:" + _hex(f"{name}{v}i", 64),
                    "created": "2025-02-03T04:05:06.123456+00:00",
                }
                for v in range(1, versions + 1)
            },
            "stages": {"staging": str(versions), "production": str(versions - 1)},
        }
    return {"schema_version": 1, "models": entries}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--registry-models", type=int, default=200)
    parser.add_argument("--registry-versions", type=int, default=50)
    args = parser.parse_args()
    cases: list[tuple[str, Callable[[Path], None]]] = [
        ("unknown keys at the limit (1 MiB)", unknown_keys(MANIFEST_LIMIT)),
        ("unknown keys, 4 MB", unknown_keys(4_000_000)),
        ("bad list items (100,000)", owners(["1"] * 100_000)),
        ("distinct mappings, unique list (3,000)", owners([f"{{a: {i}}}" for i in range(3_000)])),
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        base = Path(tmp) / "base"
        generate(base, 1)
        baseline = run(base, args.runs)
        rows.append(("one normal manifest (baseline)", manifest_of(base).stat().st_size,
                     baseline, baseline[0]))  # fmt: skip
        for name, change in cases:
            root = Path(tmp) / f"case-{len(rows)}"
            shutil.copytree(base, root)
            change(root)
            rows.append((name, manifest_of(root).stat().st_size, run(root, args.runs),
                         baseline[0]))  # fmt: skip

        big = Path(tmp) / "registry"
        generate(big, args.registry_models)
        empty = run(big, args.runs)
        text = yaml.safe_dump(
            registry(args.registry_models, args.registry_versions),
            sort_keys=False, default_flow_style=False,
        )  # fmt: skip
        (big / "registry.yaml").write_text(text)
        label = f"registry {args.registry_models} x {args.registry_versions}"
        rows.append((label, len(text.encode()), run(big, args.runs), empty[0]))

    print(f"mlops validate, median of {args.runs} runs, {os.cpu_count()} cores\n")
    print(FORMAT.format("case", "file bytes", "time", "x base", "lines", "exit"))
    for name, size, (seconds, lines, code), reference in rows:
        ratio = f"{seconds / reference:.2f}x"
        print(FORMAT.format(name, size, f"{seconds:.3f}s", ratio, lines, code))
    print(f"\n(the registry row's base: the same {args.registry_models} models, no versions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
