"""Service-level objectives on a real Prometheus and Alertmanager.

breast-cancer version 1 is served as deployments serve it (the launcher) and scraped by
Prometheus (targets written by the function `mlops reconcile` uses); the rules are those `mlops
alerts render` writes, with the windows cut to seconds. The manifest's objective is 1 ms at p95,
which every real answer breaks, so load makes this version a slow one: the alert fires,
Alertmanager posts it to `mlops alerts receive`, and one GitHub issue opens on the local GitHub
server; `mlops monitor` reads the same breach from Prometheus. When the load stops the alert
resolves and the issue is closed. With Prometheus down, monitor's service health is unknown, not
a pass.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploying import REPO
from mailbox_server import smtp_server
from monitoring_servers import alertmanager, binary, prometheus, receiver
from serving_process import MODEL, Server, holdout_rows, serve_env, serving
from support import promoted_repository, run_cli

from mlops.adapters import atomic
from mlops.adapters.probes import free_port
from mlops.core.alert_rules import RULES_PATH, scrape_targets
from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # prometheus, prometheus-alertmanager
MARKER = f"<!-- mlops-alert: {MODEL}/production/slo -->"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """breast-cancer v1 in production, its objective 1 ms at p95, the rules rendered."""
    for name in ("prometheus", "prometheus-alertmanager", "promtool"):
        binary(name)
    root = promoted_repository(tmp_path_factory.mktemp("slo") / "repo", MODEL)
    manifest = root / f"models/{MODEL}/model.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["serving"]["api"]["slo"]["p95_latency_ms"] = 1
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_cli("--repo", str(root), "alerts", "render") == 0
    return root


def fast_rules(root: Path, folder: Path) -> Path:
    """The rendered rules over 20 s windows, firing after 2 s (not 5 minutes)."""
    text = (root / RULES_PATH).read_text()
    assert text.count("[5m]") == 3 and text.count("for: 5m") == 2
    assert 'p95{model=\\"breast-cancer\\"} > 0.001"' in text  # 1 ms, in seconds
    path = folder / "rules.yml"
    path.write_text(text.replace("[5m]", "[20s]").replace("for: 5m", "for: 2s"))
    return path


@contextmanager
def load(server: Server, rows: list[dict[str, Any]], limit: int = 4000) -> Iterator[list[int]]:
    """Requests from two threads until the block ends or `limit` are sent; yields the
    statuses."""
    statuses: list[int] = []
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set() and len(statuses) < limit:
            statuses.append(server.call("/predict", {"rows": rows}).status)
            time.sleep(0.01)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def slo_issues(gh: GitHubServer) -> list[Any]:
    (repository,) = [r for r in gh.data.repositories if r.full_name == REPO]
    return [i for i in repository.issues if MARKER in (i.body or "")]


def wait_for(what: str, check: Callable[[], bool], timeout: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}"
                              for p in sorted(logs.glob("*.log")))  # fmt: skip
            raise AssertionError(f"{what} within {timeout:.0f} s\n{tails}")
        time.sleep(0.5)


def firing(prometheus_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/alerts", timeout=5) as response:
        alerts = json.loads(response.read())["data"]["alerts"]
    return [a for a in alerts if a["state"] == "firing"]


def test_load_on_a_slow_version_opens_one_issue_and_its_end_closes_it(
    root: Path, tmp_path: Path, cli, deploy_gh: GitHubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While load lasts: the latency alert fires in Prometheus, exactly one issue opens
    with the manifest's labels, Alertmanager's repeats do not open another, and `mlops
    monitor` finds version 1's p95 above the objective (exit 1). After: resolved, closed.
    The e-mail channel hears of the start and the end, once each."""
    targets = tmp_path / "targets"
    targets.mkdir()
    rows = holdout_rows(root, MODEL, "malignant", 5)
    env = serve_env(root, MODEL, "1", MLOPS_SERVE_ENVIRONMENT="production")
    with (
        smtp_server() as (mailbox, smtp),
        serving(root, env) as server,
        receiver(root, tmp_path, smtp) as hook,
        alertmanager(tmp_path, hook) as manager,
        prometheus(tmp_path, fast_rules(root, tmp_path), targets, manager) as prom,
    ):
        address = server.url.removeprefix("http://")
        atomic.write_text(targets / "production.json",  # as reconcile writes it: whole
                          scrape_targets([("production", MODEL, "1", address)]))  # fmt: skip
        with load(server, rows) as statuses:
            wait_for("the SLO issue opened", lambda: bool(slo_issues(deploy_gh)), 120, tmp_path)
            alerts = firing(prom)
            assert {(a["labels"]["alertname"], a["labels"]["version"]) for a in alerts} == {
                ("ModelLatencySLO", "1")
            }
            time.sleep(4)  # Alertmanager repeats the group every second (group_interval)
            monkeypatch.setenv("MLOPS_PROMETHEUS_URL", prom)
            result = cli("--repo", root, "monitor", MODEL, "--window", "1h", "--logs",
                         tmp_path / "no-logs", "--out", tmp_path / "out", "--json")  # fmt: skip
        assert set(statuses) == {200} and len(statuses) >= 20
        (issue,) = slo_issues(deploy_gh)
        assert issue.state == "open"
        assert {"mlops-alert", "model-alert", MODEL} <= set(issue.labels)
        assert "ModelLatencySLO" in (issue.body or "") and "on version 1" in (issue.body or "")
        assert result.code == 1, result.out + result.err
        service = json.loads(result.out)["service"]
        assert service["status"] == "breach", service
        (version,) = service["versions"]
        assert version["version"] == "1" and version["requests"] >= 20
        assert version["p95_ms"] > 1 and version["error_rate"] == 0
        assert any(r.startswith("service: p95 latency of version 1") for r in
                   json.loads(result.out)["reasons"])  # fmt: skip
        wait_for("the SLO issue closed", lambda: slo_issues(deploy_gh)[0].state == "closed",
                 120, tmp_path)  # fmt: skip
        (issue,) = slo_issues(deploy_gh)
        assert issue.comments[-1].body.startswith("Recovered")
        # the issue closes first; the e-mails go after it, in the same delivery
        wait_for("the recovery e-mail", lambda: len(mailbox.subjects) >= 2, 30, tmp_path)
        assert mailbox.subjects == [f"[firing] {MODEL}: slo alert in production",
                                    f"[resolved] {MODEL}: slo alert in production"]  # fmt: skip


def test_prometheus_down_is_service_health_unknown_not_a_pass(
    root: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_PROMETHEUS_URL", f"http://127.0.0.1:{free_port()}")
    result = cli("--repo", root, "monitor", MODEL, "--logs", tmp_path / "no-logs", "--out",
                 tmp_path / "out", "--json")  # fmt: skip
    summary = json.loads(result.out)
    service = summary["service"]
    assert service["status"] == "unknown"
    assert service["note"].startswith("service health unknown: Prometheus at http://127.0.0.1:")
    assert "did not answer" in service["note"]
    monkeypatch.delenv("MLOPS_PROMETHEUS_URL")
    result = cli("--repo", root, "monitor", MODEL, "--logs", tmp_path / "no-logs", "--out",
                 tmp_path / "out2")  # fmt: skip
    assert "service health: unknown" in result.out
    assert "no Prometheus is configured" in result.out


def post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_receiver_refuses_what_alertmanager_would_not_send_and_opens_nothing(
    root: Path, tmp_path: Path, deploy_gh: GitHubServer
) -> None:
    """Not JSON, not a webhook message, an unknown model: 400 naming what is wrong; an
    alert with no model label is ignored by name; no issue is opened."""

    def alert(**labels: str) -> dict[str, Any]:
        return {"status": "firing", "labels": labels, "annotations": {}}

    unknown = {"alerts": [alert(model="nope", environment="production")]}
    other = {"alerts": [alert(alertname="DiskFull", instance="db")]}
    with receiver(root, tmp_path, {}) as hook:
        assert post(hook, b"{not json") == (400, {"error": "the body is not JSON at line 1"
                                                           " column 2"})  # fmt: skip
        assert post(hook, b"[]") == (400, {"error": "$: expected a JSON object (Alertmanager's"
                                                    " webhook message)"})  # fmt: skip
        status, answer = post(hook, json.dumps(unknown).encode())
        assert status == 400
        assert answer["error"].startswith("$.alerts[].labels.model: no model named 'nope'")
        assert post(hook, json.dumps(other).encode()) == (200, {"ignored": ["DiskFull"],
                                                                "delivered": []})  # fmt: skip
        assert post(hook.replace("/alertmanager", "/elsewhere"), b"{}")[0] == 404
    (repository,) = [r for r in deploy_gh.data.repositories if r.full_name == REPO]
    assert repository.issues == []


def test_a_github_outage_is_a_502_and_the_retry_opens_exactly_one_issue(
    root: Path, tmp_path: Path, deploy_gh: GitHubServer
) -> None:
    """While GitHub fails, the receiver answers 502 (Alertmanager sends again); the first
    message after it recovers opens the issue, and a repeat only comments on it."""
    message = json.dumps({"alerts": [{
        "status": "firing",
        "labels": {"alertname": "ModelErrorRateSLO", "model": MODEL, "kind": "slo",
                   "environment": "production", "version": "1"},
        "annotations": {"summary": "share of failed requests is above its objective"},
    }]}).encode()  # fmt: skip
    deploy_gh.fail("POST", f"/repos/{REPO}/issues", times=10)
    with receiver(root, tmp_path, {}) as hook:
        status, answer = post(hook, message)
        assert status == 502
        assert answer["delivered"][0]["failures"][0].startswith(
            f"github-issue {MODEL}/production/slo: "
        )
        assert slo_issues(deploy_gh) == []
        deploy_gh.outages.clear()
        assert post(hook, message)[0] == 200
        status, answer = post(hook, message)
        assert (status, answer["delivered"][0]["updated"]) == (
            200, [f"#1 {MODEL}: slo alert in production"]
        )  # fmt: skip
    assert len(slo_issues(deploy_gh)) == 1
