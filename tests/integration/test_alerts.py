"""`mlops monitor --alert`: a breach opens one GitHub issue (local GitHub server), later runs
comment on it while it lasts, recovery closes it; e-mail (a local SMTP server) and a webhook
hear of each change once; a GitHub that loses answers or is down never yields two issues.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from deploying import REPO
from mailbox_server import Mailbox, smtp_server
from support import promoted_repository

from mlops.adapters.batch_model import BatchModel
from mlops.adapters.settings import load_settings
from mlops.core.prediction_log import Protection
from mlops.serving.prediction_logs import PredictionLog
from mlops.testing.github_server import GitHubServer

MODEL = "breast-cancer"
HOOK = "ALERT_WEBHOOK_URL"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """breast-cancer promoted, its alert channels: a GitHub issue, an e-mail and a webhook."""
    root = promoted_repository(tmp_path_factory.mktemp("alerts") / "repo", MODEL)
    manifest = root / f"models/{MODEL}/model.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["monitoring"]["alerts"]["channels"].append({"type": "webhook", "url_secret": HOOK})
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with smtp_server() as (box, settings):
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        yield box


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(HOOK, f"http://127.0.0.1:{server.server_port}/hooks/ml")
    yield received
    server.shutdown()
    server.server_close()


def logged(root: Path, folder: Path, environment: str, shift: float) -> Path:
    """300 served rows like the training data (the drift-watched features times `shift`)."""
    train = pd.read_csv(root / f"models/{MODEL}/data/train.csv").drop(columns=["malignant"])
    frame = train.sample(300, replace=True, random_state=11).reset_index(drop=True)
    frame = frame * np.random.default_rng(11).normal(1, 0.01, frame.shape)
    for name in ("mean_radius", "worst_area"):
        frame[name] = frame[name] * shift
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    labels, probability = BatchModel(f"models:/{MODEL}/1", classifier=True).predict(frame)
    answers = [{"prediction": int(a), "probability": float(b)}
               for a, b in zip(labels, probability, strict=True)]  # fmt: skip
    writer = PredictionLog(folder, environment, MODEL, "1", Protection())
    rows = frame.to_dict(orient="records")
    when = datetime.now(UTC) - timedelta(hours=1)
    for start in range(0, len(rows), 10):
        writer.write(f"r{start}", 4.0, rows[start : start + 10], answers[start : start + 10], when)
    writer.close()
    return folder


def monitor(cli: Any, root: Path, logs: Path, environment: str = "production") -> Any:
    return cli("--repo", root, "monitor", MODEL, "--env", environment, "--logs", logs,
               "--out", logs.parent / f"out-{logs.name}", "--alert")  # fmt: skip


def alert_issues(gh: GitHubServer) -> list[Any]:
    (repository,) = [r for r in gh.data.repositories if r.full_name == REPO]
    return [i for i in repository.issues if "mlops-alert" in i.labels]


def test_a_breach_opens_one_issue_updates_it_while_it_lasts_and_closes_it_on_recovery(
    root: Path, tmp_path: Path, cli, deploy_gh: GitHubServer, mailbox: Mailbox,
    webhook: list[dict[str, Any]],
) -> None:  # fmt: skip
    """Drift twice, then none: one issue (the manifest's labels and the platform's), a
    comment from the second run, a recovery comment and closed by the third; e-mail and the
    webhook hear `firing` once and `resolved` once."""
    drifted = logged(root, tmp_path / "drifted", "production", 1.6)
    first = monitor(cli, root, drifted)
    assert first.code == 1
    assert "alerts not delivered" not in first.err
    (issue,) = alert_issues(deploy_gh)
    assert issue.title == f"{MODEL}: drift alert in production"
    assert set(issue.labels) == {"mlops-alert", "model-alert", "breast-cancer"}
    assert f"<!-- mlops-alert: {MODEL}/production/drift -->" in issue.body
    assert "mean_radius psi" in issue.body
    assert mailbox.subjects == [f"[firing] {MODEL}: drift alert in production"]
    assert str(mailbox.messages[0]["To"]) == "clinical-ml@acme.example"
    assert [(h["kind"], h["status"]) for h in webhook] == [("drift", "firing")]

    again = monitor(cli, root, drifted)
    assert again.code == 1
    assert alert_issues(deploy_gh) == [issue] and issue.state == "open"
    assert [c.body.splitlines()[0] for c in issue.comments] == ["Still firing:"]
    assert len(mailbox.messages) == 1 and len(webhook) == 1  # no change, no message

    calm = monitor(cli, root, logged(root, tmp_path / "calm", "production", 1.0))
    assert calm.code == 0, calm.err
    assert issue.state == "closed"
    assert issue.comments[-1].body.startswith("Recovered: the latest monitoring run of version 1")
    assert mailbox.subjects[-1] == f"[resolved] {MODEL}: drift alert in production"
    assert [(h["kind"], h["status"]) for h in webhook] == [("drift", "firing"),
                                                          ("drift", "resolved")]  # fmt: skip
    assert all(h["model"] == MODEL and h["environment"] == "production" for h in webhook)


def test_a_lost_answer_is_retried_without_a_second_issue_and_an_outage_is_reported(
    root: Path, tmp_path: Path, cli, deploy_gh: GitHubServer, mailbox: Mailbox,
    webhook: list[dict[str, Any]],
) -> None:  # fmt: skip
    """GitHub creates the issue but its answer is lost: the retry finds it, one issue. Then
    GitHub answers every write with 502 for the next model run: exit 1 naming the failure,
    e-mail and webhook still told."""
    drifted = logged(root, tmp_path / "drifted", "staging", 1.6)
    deploy_gh.fail("POST", f"/repos/{REPO}/issues", after=True)
    first = monitor(cli, root, drifted, "staging")
    assert first.code == 1
    assert "alerts not delivered" not in first.err
    posts = [status for method, path, status in deploy_gh.requests
             if (method, path) == ("POST", f"/repos/{REPO}/issues")]  # fmt: skip
    assert posts == [502]  # created, answer lost; the retry found it instead of posting again
    assert len(alert_issues(deploy_gh)) == 1

    calm = monitor(cli, root, logged(root, tmp_path / "calm", "staging", 1.0), "staging")
    assert calm.code == 0, calm.err
    deploy_gh.fail("POST", f"/repos/{REPO}/issues", times=10)
    before = len(mailbox.messages)
    down = monitor(cli, root, drifted, "staging")
    assert down.code == 1
    assert "alerts not delivered: github-issue breast-cancer/staging/drift" in down.err
    assert "502" in down.err
    assert len([i for i in alert_issues(deploy_gh) if i.state == "open"]) == 0
    assert len(mailbox.messages) == before + 1
    assert webhook[-1]["status"] == "firing"


def test_alerting_without_a_repository_says_so_and_still_mails(
    root: Path, tmp_path: Path, cli, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--alert with no GitHub repository configured: the issue channel is reported as not
    delivered (exit 1), and the e-mail still goes out."""
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv(HOOK, raising=False)
    monitor(cli, root, logged(root, tmp_path / "calm", "staging", 1.0), "staging")  # clear first
    mailbox.messages.clear()
    result = monitor(cli, root, logged(root, tmp_path / "drifted", "staging", 1.6), "staging")
    assert result.code == 1
    assert "alerts not delivered: github-issue: no repository" in result.err
    assert f"webhook: the secret {HOOK} is not set in this environment" in result.err
    assert mailbox.subjects == [f"[firing] {MODEL}: drift alert in staging"]
