"""`mlops.serving.service:ModelService`: real server processes on loopback.

breast-cancer is trained once into a module-wide repository's embedded MLflow store; each
server is started as deployments start it (`python -m mlops.serving.launcher`), configured
only by environment variables, and stopped by its own process group.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from servers import wait_until_answers
from serving_process import (
    BENTOML,
    MODEL,
    SERVICE,
    Server,
    holdout_rows,
    serve_env,
    serving,
)  # fmt: skip
from support import make_repository, require_system, run_cli, runtime_present

from mlops.adapters import processes
from mlops.adapters.probes import free_port
from mlops.core.api_keys import digest
from mlops.serving import launcher
from mlops.testing.process_groups import stop_group


def _train(root: Path, model: str) -> None:
    assert run_cli("--repo", root, "train", model) == 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repository(tmp_path_factory.mktemp("serving") / "repo", (MODEL,))
    _train(root, MODEL)
    return root


@pytest.fixture(scope="module")
def server(trained: Path) -> Iterator[Server]:
    """breast-cancer version 1 with prediction logs and no API key."""
    logs = trained.parent / "predictions"
    logs.mkdir()
    env = serve_env(trained, MODEL, MLOPS_SERVE_PREDICTION_LOGS=str(logs),
                    MLOPS_SERVE_ENVIRONMENT="staging")  # fmt: skip
    with serving(trained, env) as up:
        yield up


def test_predictions_equal_the_cli_and_the_platforms_probabilities(
    trained: Path, server: Server, cli, tmp_path: Path
) -> None:
    """Labels equal `mlops predict` for the same rows; probabilities equal the positive-class
    probability evaluation uses; the response names model, version and request id."""
    rows = holdout_rows(trained, MODEL, "malignant", 8)
    reply = server.call("/predict", {"rows": rows}, {"X-Request-ID": "client-42"})
    assert reply.status == 200, reply.body
    assert reply.headers["x-request-id"] == "client-42"
    assert {k: reply.body[k] for k in ("model", "version", "request_id")} == {
        "model": MODEL, "version": "1", "request_id": "client-42"
    }  # fmt: skip
    inputs = tmp_path / "rows.json"
    inputs.write_text(json.dumps(rows))
    expected = cli(
        "--repo", trained, "predict", MODEL, "--version", "1", "--input", inputs, "--json"
    )
    assert expected.code == 0, expected.err
    predictions = reply.body["predictions"]
    assert [p["prediction"] for p in predictions] == [
        r["prediction"] for r in json.loads(expected.out)
    ]

    import pandas as pd

    from mlops.adapters import scoring, tracking
    from mlops.adapters.settings import load_settings

    tracking.connect(load_settings(trained))
    features = list(rows[0])
    scored = scoring.score(f"models:/{MODEL}/1", pd.DataFrame(rows), features, "classification")
    assert scored.scores is not None
    assert [p["probability"] for p in predictions] == pytest.approx(scored.scores, abs=1e-12)


def test_the_tabular_form_and_integer_values_are_accepted(trained: Path, server: Server) -> None:
    """columns/data give the same answer as rows; a whole number where the model takes
    doubles is converted rather than refused by MLflow's schema check."""
    rows = holdout_rows(trained, MODEL, "malignant", 2)
    by_rows = server.call("/predict", {"rows": rows}).body["predictions"]
    table = {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}
    assert server.call("/predict", table).body["predictions"] == by_rows
    whole = [{k: round(v) for k, v in row.items()} for row in rows]
    assert server.call("/predict", {"rows": whole}).status == 200


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"mean_radius": None}, "mean_radius", "required feature is missing"),
        ({"mean_texture": "twelve"}, "mean_texture", "got a string ('twelve')"),
        ({"mean_area": -1.0}, "mean_area", "-1 is below the minimum 0"),
        ({"mean_colour": 3.0}, "mean_colour", "unknown field"),
    ],
)
def test_bad_rows_are_refused_naming_row_and_field(
    trained: Path, server: Server, change: dict[str, Any], field: str, message: str
) -> None:
    """A missing feature, a string for a number, a value below its minimum and an unknown
    field: 422, the row index and field named, never a 5xx."""
    rows = holdout_rows(trained, MODEL, "malignant", 2)
    bad = {k: v for k, v in {**rows[1], **change}.items() if v is not None}
    reply = server.call("/predict", {"rows": [rows[0], bad]})
    assert reply.status == 422, reply.body
    (problem,) = reply.body["problems"]
    assert (problem["row"], problem["field"]) == (1, field)
    assert problem["message"].startswith(message)
    assert reply.body["error"].startswith(f"row 1, field '{field}': {message}")
    assert reply.headers["x-request-id"] == reply.body["request_id"]


def test_a_malformed_request_is_a_400_with_a_request_id(server: Server) -> None:
    """No rows, rows that are not a list, and a body that is not JSON: 400s."""
    for body in ({}, {"rows": "all"}):
        reply = server.call("/predict", body)
        assert reply.status == 400 and "rows" in reply.body["error"]
    request = urllib.request.Request(server.url + "/predict", b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    assert caught.value.headers["X-Request-ID"]


def test_health_is_json_and_metrics_count_requests(server: Server) -> None:
    """/healthz and /readyz answer JSON naming the version; /metrics has BentoML's request
    counters for /predict."""
    assert server.call("/healthz").body == {"status": "alive", "model": MODEL, "version": "1"}
    assert server.call("/readyz").body == {"ready": True, "model": MODEL, "version": "1"}
    server.call("/predict", {})
    metrics = server.call("/metrics").body
    counters = [line for line in metrics.splitlines()
                if line.startswith("bentoml_service_request_total{") and '"/predict"' in line]  # fmt: skip
    assert counters, metrics[:2000]
    assert any('http_response_code="400"' in line for line in counters)


def test_every_answered_row_is_one_prediction_log_line(trained: Path, server: Server) -> None:
    """One JSON line per predicted row, in today's partition of the environment and model:
    time, request id, row index, model, version, latency, features and the answer; refused
    requests are not logged."""
    rows = holdout_rows(trained, MODEL, "malignant", 3)
    before = datetime.now(UTC).date().isoformat()
    answers = [server.call("/predict", {"rows": rows[: n + 1]}, {"X-Request-ID": f"log-{n}"})
               for n in range(2)]  # fmt: skip
    server.call("/predict", {"rows": [{}]}, {"X-Request-ID": "log-refused"})
    today = datetime.now(UTC).date().isoformat()
    deadline = time.monotonic() + 10  # lines wait up to MLOPS_SERVE_LOG_FLUSH_MS (50 ms)
    while len(records := logged(trained.parent / "predictions" / "staging" / MODEL)) < 3:
        assert time.monotonic() < deadline, records
        time.sleep(0.05)
    folders = sorted((trained.parent / "predictions" / "staging" / MODEL).iterdir())
    assert {f.name for f in folders} <= {f"date={before}", f"date={today}"}  # midnight between
    assert [(r["request_id"], r["row"]) for r in records] == [
        ("log-0", 0), ("log-1", 0), ("log-1", 1)
    ]  # fmt: skip
    for record in records:
        n, row = int(record["request_id"][-1]), record["row"]
        assert record["time"][:10] in (before, today) and record["time"].endswith("Z")
        assert (record["environment"], record["model"], record["version"]) == (
            "staging", MODEL, "1"
        )  # fmt: skip
        assert record["features"] == rows[row]
        answer = answers[n].body["predictions"][row]
        assert (record["prediction"], record["probability"]) == (
            answer["prediction"], answer["probability"]
        )  # fmt: skip
        assert 0 < record["latency_ms"] < 60_000
        assert "masked" not in record


def logged(folder: Path) -> list[dict[str, Any]]:
    """The records of requests with ids `log-...` in the server's own log file, checked to
    be in their own day's partition."""
    records = []
    for day in sorted(folder.iterdir()) if folder.is_dir() else []:
        (log,) = day.iterdir()  # this process's own file
        assert log.name.startswith("v1-") and log.suffix == ".jsonl"
        for record in map(json.loads, log.read_text().splitlines()):
            assert day.name == f"date={record['time'][:10]}"  # logged in its own day
            if record["request_id"].startswith("log-"):
                records.append(record)
    return records


def test_a_graceful_stop_writes_the_log_lines_still_held(trained: Path, tmp_path: Path) -> None:
    """Lines held for an hour (MLOPS_SERVE_LOG_FLUSH_MS) are not written while the server
    runs, and all of them are once SIGTERM stops it: a replaced instance loses no line."""
    logs = tmp_path / "held"
    logs.mkdir()
    env = serve_env(trained, MODEL, MLOPS_SERVE_PREDICTION_LOGS=str(logs),
                    MLOPS_SERVE_LOG_FLUSH_MS="60000")  # fmt: skip
    rows = holdout_rows(trained, MODEL, "malignant", 1)
    with serving(trained, env) as up:
        for n in range(5):
            assert up.call("/predict", {"rows": rows}, {"X-Request-ID": f"log-{n}"}).status == 200
        time.sleep(0.5)
        assert logged(logs / "local" / MODEL) == []
    assert [r["request_id"] for r in logged(logs / "local" / MODEL)] == [
        f"log-{n}" for n in range(5)
    ]


def test_an_api_key_guards_predict_but_not_health_or_metrics(trained: Path) -> None:
    """Without a key or with a wrong one 401, with the key (either header) 200, named
    `platform` to the router; /healthz, /readyz and /metrics stay open."""
    env = serve_env(trained, MODEL, MLOPS_SERVE_API_KEY="k3y-for-tests")
    rows = holdout_rows(trained, MODEL, "malignant", 1)
    with serving(trained, env) as guarded:
        missing = guarded.call("/predict", {"rows": rows})
        assert missing.status == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert "API key is required" in missing.body["error"]
        wrong = guarded.call("/predict", {"rows": rows}, {"X-API-Key": "nope"})
        assert wrong.status == 401 and "x-mlops-key-id" not in wrong.headers
        for header in ({"Authorization": "Bearer k3y-for-tests"}, {"X-API-Key": "k3y-for-tests"}):
            answered = guarded.call("/predict", {"rows": rows}, header)
            assert answered.status == 200 and answered.headers["x-mlops-key-id"] == "platform"
        for path in ("/healthz", "/readyz", "/metrics"):
            assert guarded.call(path).status == 200


def client_key(path: Path, key_id: str, models: list[str], **times: str) -> str:
    """Append a client's key to the keys file at `path` (rewritten whole, as reconcile
    writes it) and return the key."""
    secret = "s" * 43
    key = f"mlk_{key_id}_{secret}"
    found = json.loads(path.read_text()) if path.exists() else {"keys": []}
    found["keys"] = [k for k in found["keys"] if k["id"] != key_id]
    found["keys"].append({"id": key_id, "client": f"client-{key_id}", "sha256": digest(key)[7:],
                          "models": models, "environments": ["local"],
                          "created": "2026-01-01T00:00:00Z", **times})  # fmt: skip
    fresh = path.with_suffix(".new")
    fresh.write_text(json.dumps(found))
    fresh.replace(path)
    return key


def test_client_keys_are_scoped_and_a_revoked_one_is_refused_at_once(
    trained: Path, tmp_path: Path
) -> None:
    """A client's key from the keys file calls within its scope (200, its id to the router),
    another model's key is 403; revoking it in the file refuses it from the next request,
    in the same process; an expired key is 401; no key reaches the server's log."""
    keys = tmp_path / "keys.json"
    ours = client_key(keys, "0a0b0c0d", [MODEL])
    theirs = client_key(keys, "1a1b1c1d", ["fuel-efficiency"])
    old = client_key(keys, "2a2b2c2d", ["*"], expires="2026-02-01T00:00:00Z")
    env = serve_env(trained, MODEL, MLOPS_SERVE_API_KEY="k3y-for-tests",
                    MLOPS_SERVE_KEYS=str(keys), MLOPS_SERVE_ACCESS_LOG="on")  # fmt: skip
    rows = holdout_rows(trained, MODEL, "malignant", 1)
    with serving(trained, env) as guarded:
        answered = guarded.call("/predict", {"rows": rows}, {"Authorization": f"Bearer {ours}"})
        assert answered.status == 200 and answered.headers["x-mlops-key-id"] == "0a0b0c0d"
        scoped = guarded.call("/predict", {"rows": rows}, {"X-API-Key": theirs})
        assert scoped.status == 403 and scoped.body["error"] == (
            f"API key 1a1b1c1d may not call {MODEL} in local"
        )
        expired = guarded.call("/predict", {"rows": rows}, {"X-API-Key": old})
        assert expired.status == 401 and "expired at 2026-02-01T00:00:00Z" in expired.body["error"]
        client_key(keys, "0a0b0c0d", [MODEL], revoked="2026-03-01T00:00:00Z")
        revoked = guarded.call("/predict", {"rows": rows}, {"X-API-Key": ours})
        assert revoked.status == 401 and revoked.body["error"] == "API key 0a0b0c0d was revoked"
        keys.write_text("{not json")  # a half-written copy keeps the keys read before
        assert guarded.call("/predict", {"rows": rows}, {"X-API-Key": ours}).status == 401
        log = guarded.log.read_text()
    assert "s" * 43 not in log and "k3y-for-tests" not in log
    assert "cannot read the keys file" in log


def test_the_manifests_workers_and_limits_are_what_the_instance_runs(trained: Path,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    """serving.api.resources.workers worker processes serve the model. serving.api.limits:
    more rows than max_rows, and a body over max_body (declared by Content-Length, or sent
    in chunks without one), are refused with 413 naming the limit, before the body is
    parsed; a request within both is answered."""
    import http.client

    import yaml

    manifest = yaml.safe_load((trained / "models" / MODEL / "model.yaml").read_text())
    manifest["serving"]["api"]["limits"] = {"max_rows": 3, "max_body": "8Ki"}
    manifest["serving"]["api"]["resources"]["workers"] = 2
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    rows = holdout_rows(trained, MODEL, "malignant", 4)
    with serving(trained, serve_env(trained, MODEL, MLOPS_SERVE_MANIFEST=str(path))) as limited:
        assert limited.workers() == 2
        assert limited.call("/predict", {"rows": rows[:1]}).status == 200
        many = limited.call("/predict", {"rows": rows})
        assert many.status == 413, many.body
        assert many.body["error"].startswith("field 'rows': 4 rows; the limit is 3 per request")
        assert "serving.api.limits.max_rows" in many.body["error"]
        large = limited.call("/predict", {"rows": rows[:1], "padding": "x" * 9000})
        assert large.status == 413, large.body
        assert large.body["limit"] == "8Ki" and "serving.api.limits.max_body" in large.body["error"]
        assert large.headers["x-request-id"] == large.body["request_id"]
        host, port = limited.url.removeprefix("http://").split(":")
        chunks = [b'{"rows": [', json.dumps(rows[0]).encode(), b"], ", b'"pad": "' +
                  b"y" * 9000 + b'"}']  # fmt: skip
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.request("POST", "/predict", iter(chunks), encode_chunked=True,
                               headers={"Content-Type": "application/json"})  # fmt: skip
            answer = connection.getresponse()
            assert answer.status == 413
            assert json.loads(answer.read())["limit"] == "8Ki"
        finally:
            connection.close()


def test_a_model_that_cannot_load_is_not_ready_and_says_why(trained: Path, tmp_path: Path) -> None:
    """A manifest that lacks a feature the model takes: /healthz answers, /readyz is 503 with
    the reason, /predict is 503 rather than a wrong answer."""
    manifest = tmp_path / "model.yaml"
    text = (trained / "models" / MODEL / "model.yaml").read_text()
    manifest.write_text(
        "\n".join(line for line in text.splitlines() if "name: mean_radius," not in line)
    )
    env = serve_env(trained, MODEL, MLOPS_SERVE_MANIFEST=str(manifest))
    with serving(trained, env, ready=False) as broken:
        ready = broken.call("/readyz")
        assert ready.status == 503 and ready.body["ready"] is False
        assert ready.body["failed"] is True  # final: a deployer stops waiting
        assert "the model takes mean_radius, not in model.yaml" in ready.body["reason"]
        assert broken.call("/predict", {"rows": [{}]}).status == 503


@pytest.mark.parametrize("starter", ["launcher", "bentoml serve"])
def test_a_version_that_is_not_pinned_refuses_to_start(trained: Path, starter: str) -> None:
    """`latest` stops the service with one clear line and a non-zero exit, whether our
    launcher or `bentoml serve` starts it."""
    env = serve_env(trained, MODEL, version="latest")
    port = free_port()
    command = (launcher.command(port) if starter == "launcher" else
               [*BENTOML, "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)])  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=trained.parent,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode != 0
    assert "MLOPS_SERVE_VERSION='latest' is not a pinned version" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_launcher_starts_a_dead_worker_again_and_stops_cleanly(
    trained: Path, tmp_path: Path
) -> None:
    """Of two workers, one killed after the service was ready is started again while the
    other keeps answering; SIGTERM then stops the launcher (exit 0) and every worker."""
    env = serve_env(trained, MODEL, MLOPS_SERVE_WORKERS="2")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "launcher.log"
    with log.open("w") as sink:
        process = subprocess.Popen(launcher.command(port), stdout=sink, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)  # fmt: skip
    try:
        wait_until_answers(f"{url}/readyz", process, 120, log.read_text, "the launcher")
        first = processes.children(process.pid)
        assert len(first) == 2, first
        victim = min(first)
        os.kill(victim[0], signal.SIGKILL)
        # SIGKILL lands a moment later: until the launcher has seen the worker exit, it may
        # still accept a connection and die with it (a reset the test would blame on the other)
        deadline = time.monotonic() + 30
        while "exited with -9" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        row = holdout_rows(trained, MODEL, "malignant", 1)
        for _ in range(5):  # the other worker answers meanwhile
            assert Server(url, log).call("/predict", {"rows": row}).status == 200
        deadline = time.monotonic() + 120
        while len(now := processes.children(process.pid)) < 2 or victim in now:
            assert process.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        wait_until_answers(f"{url}/readyz", process, 120, log.read_text, "the launcher")
        assert "exited with -9; starting it again in 1 s" in log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        assert not any(processes.running(worker) for worker in now)
    finally:
        stop_group(process, 10)


def test_the_launcher_names_a_port_it_cannot_listen_on(trained: Path) -> None:
    """A port already taken: one line naming it, exit 1, no worker started."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(launcher.command(port), capture_output=True, text=True,
                              env=serve_env(trained, MODEL), timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")


def test_numeric_rows_reach_the_estimator_as_one_array_with_the_pyfuncs_answers(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scikit-learn model whose features are all numbers is called on one float array in
    its fitted column order, answering what the pyfunc answers for a DataFrame; a
    row with a missing value goes the DataFrame way."""
    from mlops.serving.config import load_config
    from mlops.serving.predictor import Predictor
    from mlops.serving.requests import check_request

    env = serve_env(trained, MODEL)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    predictor = Predictor(load_config(env))
    assert predictor.direct is not None
    _, order = predictor.direct
    rows = holdout_rows(trained, MODEL, "malignant", 40)
    checked = check_request({"rows": [dict(reversed(r.items())) for r in rows]},
                            predictor.features, 100)  # fmt: skip
    direct = predictor(checked)
    predictor.direct = None
    by_frame = predictor(checked)
    assert [p["prediction"] for p in direct] == [p["prediction"] for p in by_frame]
    assert [p["probability"] for p in direct] == pytest.approx(
        [p["probability"] for p in by_frame], abs=1e-12
    )  # the same sums in another order
    assert {p["prediction"] for p in direct} == {0, 1}
    assert predictor.matrix([{**checked[0], "mean_radius": None}], order) is None


def test_one_failing_request_does_not_fail_the_others_in_its_batch() -> None:
    """Requests waiting together are merged into one model call; when that call fails each is
    scored alone, so only the request that broke it gets the error."""
    from mlops.serving.service import Batcher

    calls: list[int] = []

    def score(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        calls.append(len(rows))
        if any(row["x"] < 0 for row in rows):
            raise ValueError("negative")
        return [{"prediction": row["x"] * 2} for row in rows]

    async def scenario() -> list[Any]:
        batcher = Batcher(score)
        requests = [[{"x": 1}], [{"x": -1}], [{"x": 2}, {"x": 3}]]
        return await asyncio.gather(*(batcher.score(r) for r in requests), return_exceptions=True)

    good, bad, pair = asyncio.run(scenario())
    assert good == [{"prediction": 2}] and pair == [{"prediction": 4}, {"prediction": 6}]
    assert isinstance(bad, ValueError)
    assert calls == [4, 1, 1, 2]  # all four rows in one call, then each request alone


@pytest.mark.parametrize("log_fails", [False, True])
def test_a_batch_is_logged_before_any_of_its_requests_is_answered(
    log_fails: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The prediction log sees a batch's requests (rows, results and tags) in one call
    before any of them is answered; when logging fails, that is logged and the answers
    stand."""
    from mlops.serving.service import Batcher

    events: list[Any] = []

    def score(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"prediction": row["x"] * 2} for row in rows]

    def scored(batch: list[Any]) -> None:
        events.append(batch)
        if log_fails:
            raise OSError("no space left on device")

    async def request(batcher: Batcher, rows: list[dict[str, Any]], tag: str) -> Any:
        answer = await batcher.score(rows, tag)
        events.append(("answered", tag))
        return answer

    async def scenario() -> list[Any]:
        batcher = Batcher(score, scored=scored)
        return await asyncio.gather(request(batcher, [{"x": 1}], "a"),
                                    request(batcher, [{"x": 2}, {"x": 3}], "b"))  # fmt: skip

    one, two = asyncio.run(scenario())
    assert one == [{"prediction": 2}] and two == [{"prediction": 4}, {"prediction": 6}]
    assert events == [
        [([{"x": 1}], one, "a"), ([{"x": 2}, {"x": 3}], two, "b")],
        ("answered", "a"),
        ("answered", "b"),
    ]
    assert ("after scoring 2 requests" in caplog.text) is log_fails


@pytest.mark.system
def test_an_r_model_is_served_the_same_way(tmp_path: Path, cli) -> None:
    """The R example behind its worker-backed pyfunc: the same endpoint and response shape,
    the same predictions as `mlops predict`."""
    require_system("R", runtime_present("r"))
    root = make_repository(tmp_path / "repo", ("fuel-efficiency",))
    _train(root, "fuel-efficiency")
    holdout = root / "models/fuel-efficiency/data/holdout.csv"
    rows = holdout_rows(root, "fuel-efficiency", "mpg", 1000)
    with serving(root, serve_env(root, "fuel-efficiency")) as r_server:
        reply = r_server.call("/predict", {"rows": rows})
    assert reply.status == 200, reply.body
    assert (reply.body["model"], reply.body["version"]) == ("fuel-efficiency", "1")
    # The CLI reads the CSV (JSON whole numbers in a double column would fail MLflow's check).
    expected = cli("--repo", root, "predict", "fuel-efficiency", "--version", "1", "--input",
                   holdout, "--json")  # fmt: skip
    assert expected.code == 0, expected.err
    wanted = [r["prediction"] for r in json.loads(expected.out)]
    assert [p["prediction"] for p in reply.body["predictions"]] == pytest.approx(wanted)
