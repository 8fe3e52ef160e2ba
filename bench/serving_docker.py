"""Benchmark: cold start on the docker target, beside `mlflow models serve` in the same run.

Target: from starting a container to its `/readyz` answering 200 under 5 s, and at most half
of `mlflow models serve`'s start to ready (measured on the host in the same run: our images
carry mlflow-skinny, which has no scoring server).

breast-cancer version 1 is trained into a scratch repository and its image built by `mlops
build --apply` on the offline base image (untimed, as a deploy host has the image before it
starts it). Then each run starts, one at a time and in rotating order, each until it answers
ready, checks it with one prediction, and stops it:

- ours: a container of the image running what the docker target runs
  (`bento_layout.serve_command` for the image's labels: our launcher);
- bentoml-serve: the same image running its entrypoint's `serve` (`bentoml serve
  $BENTO_PATH`), as images served before the launcher;
- mlflow: `mlflow models serve -m models:/breast-cancer/1 --env-manager local` on the host.

    python bench/serving_docker.py [--runs 3]

Needs the Docker engine (scripts/start-docker) and the Python base image
(scripts/build-base-images). Exits non-zero when a server answered wrongly or did not start;
the timings are printed against the target, never a reason to fail.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from scratch import check_answer, holdout_rows, serve_env, trained_repository
from serving import COLD_START_S, mlflow_server, start_only
from train_overhead import MODEL, run

from mlops.adapters import containers, images
from mlops.adapters.bento_layout import serve_command
from mlops.adapters.probes import free_port

BASE_IMAGE = "local/python:3.11-bookworm"
TIMEOUT = 120.0


def build(root: Path) -> str:
    """Version 1's image, built as `mlops build` builds it: its local reference."""
    (root / "pyproject.toml").write_text(
        f'[tool.mlops.deploy]\ntarget = "docker"\nbase_images = {{ python = "{BASE_IMAGE}" }}\n'
    )
    mlops = [sys.executable, "-m", "mlops"]
    run([*mlops, "promote", MODEL, "1", "--to", "staging", "--apply"], root)  # registered
    run([*mlops, "build", MODEL, "1", "--apply"], root)
    return images.image_name(MODEL, "1")


def container(image: str, launcher: bool, body: dict[str, object]) -> float:
    """Start one container of `image` (with our launcher or with `bentoml serve`), wait for
    /readyz, check one answer, stop it: the seconds from start to ready."""
    port = free_port()
    labels = images.image_labels(image) or {}
    command, working_dir = serve_command(port, labels if launcher else {})
    name = f"mlops-bench-cold-{port}"
    engine = containers.engine()
    started = time.perf_counter()
    engine.containers.run(image, command=command, working_dir=working_dir, name=name,
                          network_mode="host", init=True, detach=True)  # fmt: skip
    try:
        logs = lambda: bytes(engine.containers.get(name).logs(tail=30))  # noqa: E731
        ready = wait_ready(f"http://127.0.0.1:{port}/readyz", started, logs)
        check_answer("ours" if launcher else "bentoml-serve",
                     f"http://127.0.0.1:{port}/predict", body)  # fmt: skip
        return ready
    finally:
        containers.stop_container(name)


def wait_ready(url: str, started: float, logs: Callable[[], bytes]) -> float:
    deadline = started + TIMEOUT
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)  # start-to-ready is measured to this step
    sys.exit(f"{url} did not answer ready in {TIMEOUT:g} s:\n{logs().decode(errors='replace')}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="start every server this often")
    args = parser.parse_args()
    starts: dict[str, list[float]] = {"ours": [], "bentoml-serve": [], "mlflow": []}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-docker-") as tmp:
        root = trained_repository(Path(tmp) / "repo")
        image = build(root)
        rows = holdout_rows(root, 1)
        body = {"rows": rows}
        env = serve_env(root)
        servers: list[tuple[str, Callable[[int], float]]] = [
            ("ours", lambda _: container(image, True, body)),
            ("bentoml-serve", lambda _: container(image, False, body)),
            ("mlflow", lambda run: start_only(mlflow_server(free_port(), rows), env,
                                              Path(tmp) / f"mlflow-{run}.log")),
        ]  # fmt: skip
        for number in range(1, args.runs + 1):
            shift = (number - 1) % len(servers)
            for name, start in servers[shift:] + servers[:shift]:
                starts[name].append(start(number))
    report(starts)
    return 0


def report(starts: dict[str, list[float]]) -> None:
    print(f"{MODEL} version 1, start to ready in seconds ({len(starts['ours'])} runs each)")
    for name, values in starts.items():
        listed = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:<14} {listed}; median {statistics.median(values):.2f}")
    ours, mlflow = statistics.median(starts["ours"]), statistics.median(starts["mlflow"])
    ok = ours < COLD_START_S and ours <= mlflow / 2
    print(f"ours / mlflow: {ours / mlflow:.2f}x (target: under {COLD_START_S:g} s and at most"
          f" 0.5x): {'ok' if ok else 'MISS'}; ours / bentoml-serve:"
          f" {ours / statistics.median(starts['bentoml-serve']):.2f}x (reported)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
