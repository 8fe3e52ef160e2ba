"""Prometheus, Alertmanager and `mlops alerts receive` as the tests start them: real
processes on free loopback ports, configured from the repository's own files in
policies/prometheus/ with test-sized intervals, stopped by their process groups."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from servers import wait_until_answers
from support import ROOT, require_system

from mlops.adapters.probes import free_port
from mlops.testing.process_groups import stop_group

POLICIES = ROOT / "policies" / "prometheus"


def binary(name: str) -> str:
    found = shutil.which(name)
    require_system(f"{name} (Debian's prometheus and prometheus-alertmanager)", found is not None)
    assert found is not None
    return found


@contextmanager
def _process(command: list[str], ready: str, log: Path, what: str,
             env: dict[str, str] | None = None) -> Iterator[None]:  # fmt: skip
    """`command` running until the block ends, once `ready` answers 200."""
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True, env={**os.environ, **(env or {})})  # fmt: skip
    try:
        wait_until_answers(ready, process, 60, log.read_text, what)
        yield
    finally:
        stop_group(process, 20)


@contextmanager
def receiver(root: Path, folder: Path, env: dict[str, str]) -> Iterator[str]:
    """`mlops alerts receive` for `root` with `env` added to this process's environment
    (GitHub and SMTP settings); yields its webhook URL."""
    port = free_port()
    command = [sys.executable, "-m", "mlops", "--repo", str(root), "alerts", "receive",
               "--port", str(port)]  # fmt: skip
    with _process(command, f"http://127.0.0.1:{port}/healthz", folder / "receiver.log",
                  "mlops alerts receive", env):  # fmt: skip
        yield f"http://127.0.0.1:{port}/alertmanager"


@contextmanager
def alertmanager(folder: Path, webhook: str) -> Iterator[str]:
    """Alertmanager with policies/prometheus/alertmanager.yml, posting to `webhook`, grouping
    within a second; clustering off (it would listen on every address)."""
    config = yaml.safe_load((POLICIES / "alertmanager.yml").read_text())
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1m")
    config["receivers"][0]["webhook_configs"][0]["url"] = webhook
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    command = [binary("prometheus-alertmanager"), f"--config.file={path}",
               f"--storage.path={folder / 'alertmanager-data'}",
               f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    with _process(command, f"http://127.0.0.1:{port}/-/ready", folder / "alertmanager.log",
                  "alertmanager"):  # fmt: skip
        yield f"http://127.0.0.1:{port}"


@contextmanager
def prometheus(folder: Path, rules: Path, targets: Path, alertmanager_url: str) -> Iterator[str]:
    """Prometheus with policies/prometheus/prometheus.yml: `rules`, the file-based targets
    in the folder `targets`, alerts to `alertmanager_url`; scraping and evaluating every
    second."""
    config = yaml.safe_load((POLICIES / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    config["scrape_configs"][0]["file_sd_configs"] = [
        {"files": [str(targets / "*.json")], "refresh_interval": "1s"}
    ]
    address = alertmanager_url.removeprefix("http://")
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [address]}]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    check = subprocess.run([binary("promtool"), "check", "config", str(path)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    command = [binary("prometheus"), f"--config.file={path}",
               f"--storage.tsdb.path={folder / 'prometheus-data'}",
               f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with _process(command, f"http://127.0.0.1:{port}/-/ready", folder / "prometheus.log",
                  "prometheus"):  # fmt: skip
        yield f"http://127.0.0.1:{port}"
