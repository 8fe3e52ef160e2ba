"""Benchmark: a blue/green switch, a rollback by `git revert` and a canary, under a steady load.

Targets: zero failed requests while production switches from v1 to v2, back, and splits
traffic with a canary, and from the revert commit to v1 serving again under 10 s on the
`local` target (30 s on `docker`).

breast-cancer versions 1 and 2 are trained into a scratch git repository; production serves
v1 on `--replicas` instances (2 by default) through its nginx port. Then, each with its own
bounded steady load (keep-alive clients POSTing one row to `/breast-cancer/predict` through
nginx over HTTPS, verified with the deploy folder's CA, every status checked):

1. switch: registry.yaml puts v2 in production, commit, `mlops reconcile --apply`;
2. rollback: `git revert` that commit, `mlops reconcile --apply`, timed from the revert until
   nginx answers with v1;
3. canary: v2 takes 25% of production beside v1, commit, `mlops reconcile --apply` (with
   standby on, v2's standby replicas become the canary: the extra one is unrouted and stops).

Requests sent and failed (with reasons) are printed per phase, and the durations against the
targets. Everything started is stopped at the end.

The benchmark checks what it claims and exits 1, naming what was wrong, when production did
not answer as breast-cancer version 1 before the switch, version 2 after it, version 1 after
the revert and both versions after the canary (several requests each, read from the model and
version in the response body), when a request failed during any move, or when a load
stopped at its request budget before its move ended (it then did not watch the whole move).
The durations are measurements against their targets, printed, never a reason to fail.

    python bench/rollout.py [--target local|docker] [--threads 4] [--replicas 2] [--no-standby]

With standby (the default) the version traffic left keeps running unrouted, so the revert only
switches nginx; `--no-standby` measures the cold start of the old version instead.
"""

from __future__ import annotations

import argparse
import json
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
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
CHECKS = 5  # requests that must all name the expected version after each move


def mlops(root: Path, *args: str) -> float:
    return run([sys.executable, "-m", "mlops", *args], root)


def set_production(root: Path, version: str) -> None:
    path = root / "registry.yaml"
    data = yaml.safe_load(path.read_text())
    data["models"][MODEL]["stages"] = {"staging": version, "production": version}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def set_canary(root: Path, version: str, weight: int) -> None:
    path = root / "registry.yaml"
    data = yaml.safe_load(path.read_text())
    data["models"][MODEL]["stages"]["canary"] = {"version": version, "weight": weight}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def set_replicas(root: Path, replicas: int) -> None:
    path = root / "models" / MODEL / "model.yaml"
    manifest = yaml.safe_load(path.read_text())
    manifest["serving"]["api"]["replicas"] = {"production": replicas}
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def repository(root: Path, target: str, port: int, standby: bool, replicas: int) -> None:
    """Two trained and registered versions; production serving v1 on `replicas` instances
    through nginx."""
    prepare(root)
    set_replicas(root, replicas)
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
            mlops(root, "build", MODEL, version, "--apply")
    set_production(root, "1")
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", "production v1"], root)
    mlops(root, "reconcile", "--env", "production", "--apply")


def served(url: str, body: Any, headers: dict[str, str], context: ssl.SSLContext) -> str:
    """`v<version>` as production's answer names it, or what it answered instead (over
    HTTPS, the router verified with `context`)."""
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json", **headers})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return f"no answer ({type(error).__name__})"
    if not isinstance(answer, dict) or answer.get("model") != MODEL or "version" not in answer:
        return f"not a {MODEL} answer: {json.dumps(answer)[:200]}"
    return f"v{answer['version']}"


def check_serving(
    url: str, body: Any, headers: dict[str, str], context: ssl.SSLContext, when: str,
    version: str,
) -> tuple[list[str], str | None]:  # fmt: skip
    """Ask production CHECKS times (four times that for a split): what it answered, and a
    problem unless the answers named exactly the versions of `version` ("1" or "1+2")."""
    expected = {f"v{v}" for v in version.split("+")}
    answers = [served(url, body, headers, context) for _ in range(CHECKS * len(expected) ** 2)]
    if set(answers) == expected:
        return answers, None
    named = " and ".join(sorted(expected))
    return answers, f"{when} production should answer with {named}; it answered {answers}"


def check_load(name: str, counts: Counts) -> list[str]:
    """Problems with what the load saw during one move: failures, or a load that did not run
    through the move."""
    problems = []
    if counts.requests == 0:
        problems.append(f"{name}: the load sent no request, so it measured nothing")
    elif counts.requests >= MAX_REQUESTS:
        problems.append(f"{name}: the load stopped at its budget of {MAX_REQUESTS} requests"
                        " before the move ended, so it did not watch all of it")  # fmt: skip
    if counts.failures:
        first = counts.failures[0]
        problems.append(
            f"{name}: {len(counts.failures)} of {counts.requests} requests failed (target 0);"
            f" the first at {first.at:.2f} s: {first.reason} {first.detail[:200]}".rstrip()
        )
    return problems


def under_load(
    url: str, body: Any, headers: dict[str, str], context: ssl.SSLContext, threads: int,
    move: Callable[[], float],
) -> tuple[float, Counts]:  # fmt: skip
    """Run `move` while `threads` clients keep POSTing; its result and what the clients saw."""
    stop = threading.Event()
    result: dict[str, Counts] = {}
    loader = threading.Thread(target=lambda: result.setdefault(
        "counts", steady_load(url, body, threads, stop, MAX_REQUESTS, headers,
                              context=context)))  # fmt: skip
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
        "from mlops.flows.rollout import stop_all\n"
        "stop_all(load_settings(Path(sys.argv[1])))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(root)], cwd=root, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=sorted(TARGETS), default="local")
    parser.add_argument("--threads", type=int, default=4, help="clients of the steady load")
    parser.add_argument("--replicas", type=int, default=2, help="production's instances")
    parser.add_argument(
        "--no-standby",
        dest="standby",
        action="store_false",
        help="stop the old version after a switch (a revert cold-starts it)",
    )
    args = parser.parse_args()
    port = free_port()
    url = f"https://127.0.0.1:{port}/{MODEL}/predict"
    with tempfile.TemporaryDirectory(prefix="mlops-bench-rollout-") as tmp:
        root = Path(tmp) / "repo"
        try:
            repository(root, args.target, port, args.standby, args.replicas)
            headers = _headers(root)
            context = _trusted(root)
            body = {"rows": holdout_rows(root, 1)}
            first, problem = check_serving(url, body, headers, context, "after the first deploy",
                                           "1")  # fmt: skip
            if problem:
                sys.exit(f"{problem}: nothing to measure")
            checked = {"after the first deploy": first}

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
                while served(url, body, headers, context) != "v1" and reconcile.poll() is None:
                    time.sleep(0.05)
                elapsed = time.perf_counter() - start
                _, err = reconcile.communicate()
                if reconcile.returncode != 0:
                    sys.exit(f"the rollback's reconcile failed:\n{err[-2000:]}")
                return elapsed

            def canary() -> float:
                set_canary(root, "2", 25)
                run(["git", "commit", "-q", "-am", "v2 as a 25% canary"], root)
                return mlops(root, "reconcile", "--env", "production", "--apply")

            phases: list[tuple[str, float, Counts]] = []
            problems: list[str] = []
            for name, move, when, version in (
                ("switch", switch, "after the switch", "2"),
                ("rollback", rollback, "after the revert", "1"),
                ("canary", canary, "after the canary", "1+2"),
            ):
                seconds, counts = under_load(url, body, headers, context, args.threads, move)
                phases.append((name, seconds, counts))
                problems += check_load(name, counts)
                checked[when], problem = check_serving(url, body, headers, context, when,
                                                       version)  # fmt: skip
                if problem:  # a rollback from a switch that did not happen measures nothing
                    problems.append(problem)
                    break
        finally:
            teardown(root)
    report(args, phases, checked)
    if problems:
        print("\nNOT VERIFIED: the benchmark did not measure what it claims", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


def _trusted(root: Path) -> ssl.SSLContext:
    """A client context trusting the routers of `root`'s deploy folder (its local CA)."""
    from mlops.adapters.settings import load_settings
    from mlops.flows.rollout import trust

    return trust(load_settings(root))


def _headers(root: Path) -> dict[str, str]:
    key = root / ".mlops" / "deploy" / "api-key"
    return {"Authorization": f"Bearer {key.read_text().strip()}"} if key.is_file() else {}


def report(
    args: argparse.Namespace,
    phases: list[tuple[str, float, Counts]],
    checked: dict[str, list[str]],
) -> None:
    target = TARGETS[args.target]
    mode = "standby on" if args.standby else "standby off"
    print(f"{MODEL} on the {args.target} target ({mode}), {args.replicas} replica(s),"
          f" {args.threads} keep-alive clients through nginx")  # fmt: skip
    print(f"{'phase':<10}{'seconds':>9}{'sent':>9}{'failed':>8}  reasons")
    for name, seconds, counts in phases:
        reasons = ", ".join(f"{r} x{n}" for r, n in counts.reasons.items()) or "-"
        print(f"{name:<10}{seconds:>9.2f}{counts.requests:>9}{len(counts.failures):>8}  {reasons}")
    print()
    for when, answers in checked.items():
        named = ", ".join(f"{answer} x{n}" for answer, n in Counter(answers).items())
        print(f"{when} production answered: {named}")
    failed = sum(len(counts.failures) for _, _, counts in phases)
    moves = ", ".join(name for name, _, _ in phases)
    print(f"failed requests during the {moves}: {failed} (target 0):"
          f" {'ok' if not failed else 'MISS'}")  # fmt: skip
    for name, rolled, _ in phases:
        if name == "rollback":
            verdict = "ok" if rolled < target else "MISS"
            print(f"revert commit -> v1 serving: {rolled:.2f} s (target < {target:g} s): {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
