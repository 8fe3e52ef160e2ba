"""Benchmark: a blue/green switch and a rollback by `git revert`, under a steady load.

Targets: zero failed requests while production switches from v1 to v2 and back, and from the
revert commit to v1 serving again under 10 s on the `local` target (30 s on `docker`).

breast-cancer versions 1 and 2 are trained into a scratch git repository; production serves
v1 through its nginx port. Then, each with its own bounded steady load (keep-alive clients
POSTing one row to `/breast-cancer/predict` through nginx, every answer checked):

1. switch: registry.yaml puts v2 in production, commit, `mlops reconcile --apply`;
2. rollback: `git revert` that commit, `mlops reconcile --apply`, timed from the revert until
   nginx answers with v1.

Requests sent and failed (with reasons) are printed per phase, and the durations against the
targets. Everything started is stopped at the end.

    python bench/rollout.py [--target local|docker] [--threads 4] [--no-standby]

With standby (the default) the version traffic left keeps running unrouted, so the revert only
switches nginx; `--no-standby` measures the cold start of the old version instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from load import Counts, steady_load
from scratch import free_port, holdout_rows
from train_overhead import ENV, MODEL, prepare, run, set_c

TARGETS = {"local": 10.0, "docker": 30.0}
MAX_REQUESTS = 200_000
SETTLE = 1.0  # seconds of load before and after each move


def mlops(root: Path, *args: str) -> float:
    return run([sys.executable, "-m", "mlops", *args], root)


def set_production(root: Path, version: str) -> None:
    path = root / "registry.yaml"
    data = yaml.safe_load(path.read_text())
    data["models"][MODEL]["stages"] = {"staging": version, "production": version}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def repository(root: Path, target: str, port: int, standby: bool) -> None:
    """Two trained and registered versions; production serving v1 through nginx."""
    prepare(root)
    base = '\nbase_images = { python = "local/python:3.11-bookworm" }' if target == "docker" else ""
    (root / "pyproject.toml").write_text(
        f'[tool.mlops.deploy]\ntarget = "{target}"\nports = {{ staging = {free_port()}, '
        f"production = {port} }}\nstandby = {str(standby).lower()}{base}\n"
    )
    for c, version in ((1.0, "1"), (0.5, "2")):
        set_c(root, c)
        mlops(root, "train", MODEL)
        mlops(root, "promote", MODEL, version, "--to", "staging", "--apply")
    if target == "docker":
        for version in ("1", "2"):  # images exist before the clock starts, as after a merge
            mlops(root, "build", MODEL, version)
    set_production(root, "1")
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", "production v1"], root)
    mlops(root, "reconcile", "--env", "production", "--apply")


def served(url: str, body: Any, headers: dict[str, str]) -> str | None:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json", **headers})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["version"])
    except OSError:
        return None


def under_load(
    url: str, body: Any, headers: dict[str, str], threads: int, move: Callable[[], float]
) -> tuple[float, Counts]:
    """Run `move` while `threads` clients keep POSTing; its result and what the clients saw."""
    stop = threading.Event()
    result: dict[str, Counts] = {}
    loader = threading.Thread(target=lambda: result.setdefault(
        "counts", steady_load(url, body, threads, stop, MAX_REQUESTS, headers)))  # fmt: skip
    loader.start()
    time.sleep(SETTLE)
    try:
        elapsed = move()
        time.sleep(SETTLE)
    finally:
        stop.set()
        loader.join()
    return elapsed, result["counts"]


def teardown(root: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from mlops.adapters.settings import load_settings\n"
        "from mlops.commands.rollout import stop_all\n"
        "stop_all(load_settings(Path(sys.argv[1])))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(root)], cwd=root, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=sorted(TARGETS), default="local")
    parser.add_argument("--threads", type=int, default=4, help="clients of the steady load")
    parser.add_argument(
        "--no-standby",
        dest="standby",
        action="store_false",
        help="stop the old version after a switch (a revert cold-starts it)",
    )
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/{MODEL}/predict"
    with tempfile.TemporaryDirectory(prefix="mlops-bench-rollout-") as tmp:
        root = Path(tmp) / "repo"
        try:
            repository(root, args.target, port, args.standby)
            headers = _headers(root)
            body = {"rows": holdout_rows(root, 1)}
            if served(url, body, headers) != "1":
                sys.exit("production does not serve v1 after the first deploy")

            def switch() -> float:
                set_production(root, "2")
                run(["git", "commit", "-q", "-am", "production v2"], root)
                return mlops(root, "reconcile", "--env", "production", "--apply")

            def rollback() -> float:
                """From the revert commit until nginx answers with v1 (reconcile may still
                be moving the MLflow aliases then)."""
                start = time.perf_counter()
                run(["git", "revert", "--no-edit", "HEAD"], root)
                command = [sys.executable, "-m", "mlops", "reconcile", "--env", "production",
                           "--apply"]  # fmt: skip
                reconcile = subprocess.Popen(command, cwd=root, env=ENV, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE, text=True)  # fmt: skip
                while served(url, body, headers) != "1" and reconcile.poll() is None:
                    time.sleep(0.05)
                elapsed = time.perf_counter() - start
                _, err = reconcile.communicate()
                if reconcile.returncode != 0 or served(url, body, headers) != "1":
                    sys.exit(f"the rollback failed:\n{err[-2000:]}")
                return elapsed

            switched, during_switch = under_load(url, body, headers, args.threads, switch)
            now = served(url, body, headers)
            rolled, during_rollback = under_load(url, body, headers, args.threads, rollback)
        finally:
            teardown(root)
    report(args, switched, during_switch, now, rolled, during_rollback)
    return 0


def _headers(root: Path) -> dict[str, str]:
    key = root / ".mlops" / "deploy" / "api-key"
    return {"Authorization": f"Bearer {key.read_text().strip()}"} if key.is_file() else {}


def report(
    args: argparse.Namespace, switched: float, switch: Counts, now: str | None,
    rolled: float, rollback: Counts,
) -> None:  # fmt: skip
    target = TARGETS[args.target]
    mode = "standby on" if args.standby else "standby off"
    print(f"{MODEL} on the {args.target} target ({mode}), {args.threads} keep-alive clients"
          " through nginx")  # fmt: skip
    print(f"{'phase':<10}{'seconds':>9}{'sent':>9}{'failed':>8}  reasons")
    for name, seconds, counts in (("switch", switched, switch), ("rollback", rolled, rollback)):
        reasons = ", ".join(f"{r} x{n}" for r, n in counts.reasons.items()) or "-"
        print(f"{name:<10}{seconds:>9.2f}{counts.requests:>9}{len(counts.failures):>8}  {reasons}")
    print(f"\nafter the switch production served v{now}")
    failed = len(switch.failures) + len(rollback.failures)
    print(
        f"failed requests during both moves: {failed} (target 0): {'ok' if not failed else 'MISS'}"
    )
    verdict = "ok" if rolled < target else "MISS"
    print(f"revert commit -> v1 serving: {rolled:.2f} s (target < {target:g} s): {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
