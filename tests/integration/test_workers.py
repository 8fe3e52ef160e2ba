"""Prediction workers: the JSON-lines protocol, its failure modes, and R and Julia models as pyfuncs.

Every test runs real processes: a small Python worker for the protocol's edge cases, then the
example R and Julia models trained in a scratch copy and logged to a temporary MLflow store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cloudpickle
import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.exceptions import MlflowException
from support import ROOT, require_system, runtime_present

from mlops.adapters.workers import (
    InvalidRequest,
    RuntimeMissing,
    Worker,
    WorkerError,
    WorkerModel,
    check_runtime,
    log_worker_model,
    runtime_command,
)

# A worker speaking the protocol; its first argument picks a misbehaviour.
FAKE_WORKER = r"""
import json, sys, time
mode = sys.argv[1]
if mode == "noisy":
    sys.stderr.write(("x" * 1023 + "\n") * 1500)  # 1.5 MB before ready
    sys.stderr.flush()
if mode == "never-ready":
    print("loading a very large model...", file=sys.stderr, flush=True)
    time.sleep(600)
print(json.dumps({"ready": True}), flush=True)
for count, line in enumerate(sys.stdin, start=1):
    request = json.loads(line)
    if mode == "dies" and count == 2:
        print("fatal: cannot allocate vector of size 9 GB", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "hangs":
        time.sleep(600)
    if mode == "garbage":
        print("Warning: package 'x' was built under R 4.3 " + "!" * 500, flush=True)
        continue
    if "boom" in request["columns"]:
        print(json.dumps({"error": "unknown column 'boom'"}), flush=True)
        continue
    print(json.dumps({"predictions": [sum(row) for row in request["data"]]}), flush=True)
"""


@pytest.fixture
def fake(tmp_path: Path):
    """A factory of fake workers: fake(mode, **timeouts) -> Worker (closed after the test)."""
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    workers: list[Worker] = []

    def make(mode: str = "normal", **timeouts: float) -> Worker:
        worker = Worker([sys.executable, str(script), mode], tmp_path, **timeouts)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def test_worker_answers_requests(fake) -> None:
    """It starts the worker, sends each request as one line and returns the parsed answer."""
    with fake() as worker:
        assert worker.predict(["a", "b"], [[1, 2], [3, 4.5]]) == {"predictions": [3, 7.5]}
        assert worker.predict(["a"], []) == {"predictions": []}
        assert worker.starts == 1


def test_error_response_raises_and_worker_keeps_serving(fake) -> None:
    """An {"error"} answer is a WorkerError with the worker's message; the next request works."""
    with fake() as worker:
        with pytest.raises(WorkerError, match=r"unknown column 'boom'"):
            worker.predict(["boom"], [[1]])
        pid = worker.process.pid
        assert worker.predict(["a"], [[2]]) == {"predictions": [2]}
        assert worker.process.pid == pid


def test_dead_worker_reports_exit_code_and_stderr_then_restarts(fake) -> None:
    """A worker that dies mid-stream yields its exit code and stderr; the next call restarts it."""
    worker = fake("dies", request_timeout=10)
    assert worker.predict(["a"], [[1]]) == {"predictions": [1]}
    started = time.monotonic()
    with pytest.raises(WorkerError) as caught:
        worker.predict(["a"], [[2]])
    assert time.monotonic() - started < 5
    assert "exited with code 3 while answering a request" in caught.value.message
    assert "cannot allocate vector of size 9 GB" in caught.value.message
    assert worker.predict(["a"], [[5]]) == {"predictions": [5]}
    assert worker.starts == 2


def test_worker_that_never_gets_ready_times_out(fake) -> None:
    """A worker without a ready line is killed after ready_timeout; the error shows its stderr."""
    worker = fake("never-ready", ready_timeout=2)
    started = time.monotonic()
    with pytest.raises(WorkerError) as caught:
        worker.start()
    assert 2 <= time.monotonic() - started < 5
    assert "did not answer within 2 s while starting; killed it" in caught.value.message
    assert "loading a very large model..." in caught.value.message
    assert worker.process is None


def test_hanging_request_times_out_and_kills_the_worker(fake) -> None:
    """A request unanswered within request_timeout is a WorkerError; the worker is killed."""
    worker = fake("hangs", request_timeout=1)
    worker.start()
    process = worker.process
    started = time.monotonic()
    with pytest.raises(WorkerError, match=r"did not answer within 1 s while answering a request"):
        worker.predict(["a"], [[1]])
    assert 1 <= time.monotonic() - started < 4
    assert process.returncode == -signal.SIGKILL


def test_garbage_output_is_an_error_naming_the_line(fake) -> None:
    """A stdout line that is not a response is a WorkerError quoting it, clipped."""
    with fake("garbage") as worker, pytest.raises(WorkerError) as caught:
        worker.predict(["a"], [[1]])
    assert "answered \"Warning: package 'x' was built under R 4.3 !!!" in caught.value.message
    assert '...", not {"predictions": [...]} or {"error": ...}' in caught.value.message
    assert len(caught.value.message) < 400


def test_lots_of_stderr_does_not_block(fake) -> None:
    """Megabytes of stderr before ready are drained; the worker starts and answers."""
    with fake("noisy", ready_timeout=10) as worker:
        assert worker.predict(["a"], [[1, 1]]) == {"predictions": [2]}


def test_concurrent_predicts_get_their_own_answers(fake) -> None:
    """Requests from many threads are serialised: each thread gets the answer to its request."""
    with fake() as worker:

        def ask(n: int) -> tuple[int, list[float]]:
            return n, worker.predict(["a", "b"], [[n, 0.5], [n, n]])["predictions"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(ask, range(200)))
    assert answers == [(n, [n + 0.5, 2 * n]) for n in range(200)]


def test_runtime_commands_and_missing_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runtimes default to Python/Rscript/julia, MLOPS_* overrides them, a missing one is named."""
    monkeypatch.delenv("MLOPS_RSCRIPT", raising=False)
    assert runtime_command("python") == [sys.executable]
    assert runtime_command("r") == ["Rscript"]
    monkeypatch.setenv("MLOPS_JULIA", "env LD_LIBRARY_PATH='/opt/a b' julia --startup-file=no")
    assert runtime_command("julia") == [
        "env",
        "LD_LIBRARY_PATH=/opt/a b",
        "julia",
        "--startup-file=no",
    ]
    monkeypatch.setenv("MLOPS_RSCRIPT", "env A=1 no-such-rscript")
    with pytest.raises(RuntimeMissing) as caught:
        check_runtime("r")
    assert caught.value.message == (
        "cannot run r models: 'no-such-rscript' is not installed or not on PATH"
    )
    assert "scripts/bootstrap" in caught.value.hint and "MLOPS_RSCRIPT" in caught.value.hint


def test_worker_model_pickles_without_its_process(fake, tmp_path: Path) -> None:
    """The pyfunc pickles to its configuration only; unpickled, it starts a worker on first use."""
    (tmp_path / "fake_worker.py").write_text(FAKE_WORKER)  # "--model-dir" is not a misbehaviour
    model = WorkerModel("python", "fake_worker.py", ["a", "b"])
    with pytest.raises(WorkerError, match=r"load it with mlflow\.pyfunc\.load_model"):
        model.predict(None, {"a": 1, "b": 2})
    model.code_dir, model.model_dir = str(tmp_path), str(tmp_path)
    frame = pd.DataFrame({"b": [2.0, float("nan")], "a": [1, 3]}, index=[10, 11])
    clone = cloudpickle.loads(cloudpickle.dumps(model))
    try:
        assert model.predict(None, frame.head(1)).to_dict() == {"prediction": {10: 3.0}}
        assert clone.worker is None and clone.features == ["a", "b"]
        assert clone.predict(None, [{"a": 1, "b": 2}])["prediction"].tolist() == [3]
        assert clone.worker.process.pid != model.worker.process.pid
        with pytest.raises(WorkerError, match="unsupported operand"):  # NaN is sent as null
            clone.predict(None, frame)
    finally:
        model.close()
        clone.close()


# ---------------------------------------------------------------------------- real R and Julia


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One MLflow SQLite store for the module (creating it takes seconds): an experiment id."""
    root = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
        yield mlflow.create_experiment("workers", artifact_location=str(root / "artifacts"))
        mlflow.set_tracking_uri(previous)


CASES = {
    "fuel-efficiency": ("r", "predict.R", [["{run}", "ingest.R"], ["{run}", "train.R"]]),
    "disease-progression": ("julia", "predict.jl", [["{py}", "ingest.py"], ["{run}", "train.jl"]]),
}


@pytest.mark.parametrize("model_name", list(CASES))
@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer column")
@pytest.mark.system
def test_real_model_as_pyfunc(
    model_name: str, tracking: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trained in a scratch copy, logged and loaded through MLflow, the model predicts exactly
    what its own evaluate stage scores, in any column order; a dead worker is replaced."""
    language, entry, stages = CASES[model_name]
    require_system({"r": "Rscript", "julia": "julia"}[language], runtime_present(language))
    runtime = check_runtime(language)
    folder = tmp_path / model_name
    shutil.copytree(
        ROOT / "models" / model_name,
        folder,
        ignore=shutil.ignore_patterns("data", "model", "*.json", "__pycache__", ".dvc"),
    )
    programs = {"{run}": runtime, "{py}": [sys.executable]}
    for stage in [*stages, ["{run}", entry.replace("predict", "evaluate")]]:
        command = [word for part in stage for word in programs.get(part, [part])]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command}: {done.stderr}"
    manifest = yaml.safe_load((folder / "model.yaml").read_text())
    features = [f["name"] for f in manifest["data"]["features"]]
    target = manifest["data"]["target"]["name"]
    holdout = pd.read_csv(folder / "data" / "holdout.csv")
    expected = json.loads((folder / "evaluation.json").read_text())

    with mlflow.start_run(experiment_id=tracking):
        info = log_worker_model(
            name="model",
            language=language,
            entry=entry,
            features=features,
            code_dir=folder,
            model_dir=folder / "model",
            input_example=holdout[features].head(3),
        )
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    model = loaded.unwrap_python_model()
    try:
        predictions = loaded.predict(holdout[features])["prediction"]
        errors = holdout[target] - predictions
        r2 = 1 - (errors**2).sum() / ((holdout[target] - holdout[target].mean()) ** 2).sum()
        assert round(r2, 6) == expected["r2"]
        assert len(predictions) == expected["n_rows"]

        shuffled = holdout[features[::-1]]
        assert loaded.predict(shuffled)["prediction"].tolist() == predictions.tolist()
        assert loaded.predict(holdout[features].head(0))["prediction"].tolist() == []
        with pytest.raises(MlflowException, match=rf"missing inputs \['{features[1]}'\]"):
            loaded.predict(holdout.drop(columns=features[1]))
        with pytest.raises(InvalidRequest, match=rf"lacks feature column\(s\) {features[1]} "):
            model.predict(None, holdout.drop(columns=features[1]))

        process = model.worker.process
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        started = time.monotonic()
        again = loaded.predict(holdout[features].head(2))["prediction"]
        assert time.monotonic() - started < 30
        assert again.tolist() == predictions.head(2).tolist()
        assert model.worker.process.pid != process.pid and model.worker.starts == 2
    finally:
        model.close()
