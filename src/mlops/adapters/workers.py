"""Prediction workers: R and Julia models behind one MLflow pyfunc interface.

Every model's `predict` entrypoint is a long-lived process speaking JSON lines (DESIGN 3.3):
it prints `{"ready": true}` once loaded, then answers each request line
`{"columns": [...], "data": [[...], ...]}` with one line `{"predictions": [...]}` (optionally
`"probabilities"`) or `{"error": "..."}`, and exits 0 on EOF. `Worker` owns one such process
and never hangs on it; `WorkerModel` is the pyfunc that drives it; `log_worker_model` logs one.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import math
import queue
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from mlops.adapters.runtimes import RUNTIMES, RuntimeMissing, check_runtime, runtime_command
from mlops.errors import MlopsError

__all__ = ["InvalidRequest", "RuntimeMissing", "Worker", "WorkerError", "WorkerModel",
           "check_runtime", "log_worker_model", "runtime_command"]  # fmt: skip

log = logging.getLogger(__name__)

STDERR_LINES = 20  # stderr lines kept for error messages
RAW_LINE_CHARS = 200  # how much of an unexpected stdout line an error message shows
CLOSE_GRACE = 5.0  # seconds a worker gets to exit after EOF before it is killed


class WorkerError(MlopsError):
    """A prediction worker failed: it refused a request, crashed, hung or spoke nonsense."""


class InvalidRequest(MlopsError):
    """The caller's input cannot be sent to the model (e.g. a feature column is missing)."""


SOURCE_SUFFIXES = {"python": (".py",), "r": (".R", ".r"), "julia": (".jl",)}


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _pump_lines(stream: IO[str], sink: Callable[[str | None], None]) -> None:
    """Feed each line of `stream` to `sink`, then None at end of file."""
    try:
        for line in stream:
            sink(line)
    except (OSError, ValueError):  # the pipe was closed under us
        pass
    finally:
        sink(None)


def _write_line(stream: IO[str], line: str) -> None:
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):  # broken pipe: the worker died, and reading says how
        pass


def _drain(stream: IO[str], tail: collections.deque[str]) -> None:
    """Read `stream` to its end, keeping its last lines (each clipped) in `tail`."""
    try:
        while chunk := stream.readline(4096):
            tail.append(chunk.rstrip("\n"))
    except (OSError, ValueError):
        pass


class Worker:
    """One long-lived prediction process: start it, send requests, restart it when it died."""

    def __init__(
        self,
        command: list[str],
        cwd: Path,
        *,
        ready_timeout: float = 120,
        request_timeout: float = 60,
        name: str | None = None,
    ) -> None:
        self.command = list(command)
        self.cwd = Path(cwd)
        self.ready_timeout = ready_timeout
        self.request_timeout = request_timeout
        self.name = name or shlex.join(self.command)[:80]
        self.starts = 0
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._threads: list[threading.Thread] = []

    @property
    def process(self) -> subprocess.Popen[str] | None:
        """The current process (None before start and after close)."""
        return self._process

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the process and wait for its ready line (restarts a running one)."""
        with self._lock:
            self._start()

    def predict(self, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
        """Send one request; return the parsed response. A dead worker is restarted first."""
        try:
            request = json.dumps({"columns": columns, "data": rows}, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"cannot encode the request as JSON: {exc}") from exc
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                if self.starts:
                    why = "was stopped" if process is None else _exit_status(process.returncode)
                    log.warning("worker %s %s; restarting it", self.name, why)
                self._start()
            return self._exchange(request)

    def close(self) -> None:
        """Close stdin so the worker exits; kill it if it has not after a short grace period."""
        with self._lock:
            self._stop(grace=CLOSE_GRACE)

    # -- inside the lock

    def _start(self) -> None:
        self._stop(grace=0)
        self.starts += 1
        log.info("starting worker %s (in %s)", self.name, self.cwd)
        try:
            process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            raise WorkerError(f"cannot start worker {self.name}: {exc}") from exc
        assert process.stdout is not None and process.stderr is not None
        self._process = process
        self._lines = queue.Queue()
        self._stderr = collections.deque(maxlen=STDERR_LINES)
        self._threads = [
            threading.Thread(target=_pump_lines, args=(process.stdout, self._lines.put)),
            threading.Thread(target=_drain, args=(process.stderr, self._stderr)),
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        line = self._read(self.ready_timeout, "starting")
        try:
            ready = json.loads(line)
        except ValueError:
            ready = None
        if ready != {"ready": True}:
            self._stop(grace=0)
            raise self._failure(f'printed {_clip(line)!r} instead of {{"ready": true}}')

    def _exchange(self, request: str) -> dict[str, Any]:
        process = self._process
        assert process is not None and process.stdin is not None
        # A worker that stops reading stdin must not block us on a full pipe: write in a thread.
        start = time.monotonic()
        writer = threading.Thread(target=_write_line, args=(process.stdin, request), daemon=True)
        writer.start()
        writer.join(timeout=self.request_timeout)
        if writer.is_alive():
            self._stop(grace=0)
            raise self._failure(
                f"did not read its request within {self.request_timeout:g} s; killed it"
            )
        remaining = max(self.request_timeout - (time.monotonic() - start), 0.001)
        line = self._read(remaining, "answering a request", self.request_timeout)
        try:
            response = json.loads(line)
        except ValueError:
            response = None
        if isinstance(response, dict) and "error" in response:
            raise WorkerError(f"{self.name}: {response['error']}")
        if not isinstance(response, dict) or not isinstance(response.get("predictions"), list):
            raise WorkerError(
                f'worker {self.name} answered {_clip(line)!r}, not {{"predictions": [...]}}'
                ' or {"error": ...}'
            )
        return response

    def _read(self, timeout: float, doing: str, limit: float | None = None) -> str:
        """The next stdout line; on timeout or exit, stop the worker and raise WorkerError."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self._stop(grace=0)
            seconds = timeout if limit is None else limit
            failure = self._failure(f"did not answer within {seconds:g} s while {doing}; killed it")
            raise failure from None
        if line is None:
            assert self._process is not None
            try:
                code = self._process.wait(timeout=CLOSE_GRACE)
            except subprocess.TimeoutExpired:
                self._stop(grace=0)
                raise self._failure(f"closed its output while {doing}; killed it") from None
            self._stop(grace=0)
            raise self._failure(f"{_exit_status(code)} while {doing}")
        return line.rstrip("\r\n")

    def _failure(self, what: str) -> WorkerError:
        for thread in self._threads[1:]:
            thread.join(timeout=1)  # let the stderr reader catch up with a dead process
        tail = list(self._stderr)
        stderr = "\n".join(["; its last stderr lines:", *tail]) if tail else "; no stderr output"
        return WorkerError(f"worker {self.name} {what}{stderr}")

    def _stop(self, grace: float) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if grace > 0:
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("worker %s ignored EOF for %g s; killing it", self.name, grace)
        if process.poll() is None:
            process.kill()
        process.wait()
        for thread in self._threads:
            thread.join(timeout=1)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _clip(line: str) -> str:
    return line if len(line) <= RAW_LINE_CHARS else line[:RAW_LINE_CHARS] + "..."


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unwrapped, NaN and missing values as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _as_frame(model_input: Any) -> Any:
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if isinstance(model_input, dict):
        if all(pd.api.types.is_scalar(v) for v in model_input.values()):
            return pd.DataFrame([model_input])  # one record
        return pd.DataFrame(model_input)
    if isinstance(model_input, list) and all(isinstance(r, dict) for r in model_input):
        return pd.DataFrame(model_input)
    raise InvalidRequest(
        "model input must be a pandas DataFrame, a list of records or a dict of columns,"
        f" not {type(model_input).__name__}"
    )


class WorkerModel(PythonModel):
    """The pyfunc of an R or Julia model: it drives that model's `predict` worker process."""

    def __init__(
        self,
        language: str,
        entry: str,
        features: list[str],
        *,
        ready_timeout: float = 120,
        request_timeout: float = 60,
    ) -> None:
        self.language = language
        self.entry = entry
        self.features = list(features)
        self.ready_timeout = ready_timeout
        self.request_timeout = request_timeout
        self.code_dir: str | None = None
        self.model_dir: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.worker: Worker | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """Configuration only: never a process, a pipe or a lock."""
        return {k: v for k, v in self.__dict__.items() if k not in ("worker", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def load_context(self, context: PythonModelContext) -> None:
        """Find the code and model directories among the artifacts and start the worker."""
        self.close()
        self.code_dir = context.artifacts["code"]
        self.model_dir = context.artifacts["model"]
        self._ensure_worker()

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Predictions for a DataFrame (or records, or a dict of columns) with every feature."""
        frame = _as_frame(model_input)
        missing = [name for name in self.features if name not in frame.columns]
        if missing:
            raise InvalidRequest(
                f"model input lacks feature column(s) {', '.join(missing)}"
                f" (expected: {', '.join(self.features)})"
            )
        if len(frame) == 0:
            return pd.DataFrame({"prediction": pd.Series([], dtype="float64")}, index=frame.index)
        rows = [
            [_plain(v) for v in row]
            for row in frame[self.features].itertuples(index=False, name=None)
        ]
        response = self._ensure_worker().predict(self.features, rows)
        if len(response["predictions"]) != len(rows):
            raise WorkerError(
                f"{self.entry} returned {len(response['predictions'])} predictions"
                f" for {len(rows)} rows"
            )
        result = pd.DataFrame({"prediction": response["predictions"]}, index=frame.index)
        if "probabilities" in response:
            result["probability"] = response["probabilities"]
        return result

    def close(self) -> None:
        """Stop the worker (the next prediction starts a new one)."""
        with self._lock:
            worker, self.worker = self.worker, None
        if worker is not None:
            worker.close()

    def _ensure_worker(self) -> Worker:
        with self._lock:
            if self.worker is None:
                if self.code_dir is None or self.model_dir is None:
                    raise WorkerError(
                        f"the {self.language} model has no artifacts: load it with"
                        " mlflow.pyfunc.load_model"
                    )
                command = check_runtime(self.language)
                worker = Worker(
                    [*command, self.entry, "--model-dir", self.model_dir],
                    Path(self.code_dir),
                    ready_timeout=self.ready_timeout,
                    request_timeout=self.request_timeout,
                    name=self.entry,
                )
                worker.start()
                self.worker = worker
            return self.worker


def _source_files(code_dir: Path, language: str) -> Iterable[Path]:
    """The language's source files and params.yaml, skipping data, model and hidden folders."""
    suffixes = SOURCE_SUFFIXES[language]
    for path in sorted(code_dir.rglob("*")):
        relative = path.relative_to(code_dir)
        if relative.parts[0] in ("data", "model") or any(p.startswith(".") for p in relative.parts):
            continue
        if path.is_file() and (path.suffix in suffixes or relative.as_posix() == "params.yaml"):
            yield relative


def log_worker_model(
    *,
    name: str,
    language: str,
    entry: str,
    features: list[str],
    code_dir: Path,
    model_dir: Path,
    input_example: Any = None,
) -> Any:
    """Log an R or Julia model as a pyfunc in the active MLflow run; returns its ModelInfo.

    The model carries two artifacts: `code` (the model folder's sources and params.yaml, no
    data or outputs) and `model` (the trained model directory). An input example also sets the
    input signature (inferred from the example alone, so logging starts no worker).
    """
    if language not in SOURCE_SUFFIXES:
        raise RuntimeMissing(f"unknown model language '{language}' (known: {', '.join(RUNTIMES)})")
    if not (code_dir / entry).is_file():
        raise MlopsError(f"{code_dir / entry}: no such file (the model's predict entrypoint)")
    if not model_dir.is_dir():
        raise MlopsError(f"{model_dir}: no such directory (train the model first)")
    signature = None
    if input_example is not None:
        signature = infer_signature(_as_frame(input_example))
    with tempfile.TemporaryDirectory(prefix="mlops-code-") as tmp:
        code_copy = Path(tmp) / "code"
        for relative in _source_files(code_dir, language):
            (code_copy / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(code_dir / relative, code_copy / relative)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=WorkerModel(language, entry, features),
            artifacts={"code": str(code_copy), "model": str(model_dir)},
            input_example=input_example,
            signature=signature,
            pip_requirements=["pandas"],
        )
