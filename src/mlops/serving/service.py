"""The BentoML service that serves one pinned model version, whatever language trained it.

    MLOPS_SERVE_MODEL=breast-cancer MLOPS_SERVE_VERSION=3 MLOPS_SERVE_MANIFEST=model.yaml \\
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 \\
    python -m mlops.serving.launcher --host 127.0.0.1 --port 3000

(`bentoml serve mlops.serving.service:ModelService` serves it too, two seconds slower to
start: see `mlops.serving.launcher`.) `mlops.serving.config` lists the variables; a bad
configuration (a missing variable, version `latest`, an alias) stops either before any worker
starts. `Predictor` loads the
model: a pickled scikit-learn model from its local directory without MLflow, anything else
through `mlflow.pyfunc`, so R and Julia worker models answer alike.

- `POST /predict` takes `{"rows": [{feature: value, ...}]}` or `{"columns": [...], "data":
  [[...]]}`, checked against model.yaml's features (400 for the request's shape, 413 for a
  body or a row count over `serving.api.limits`, 422 for its values, each problem naming row
  and field), and answers `{"model", "version", "request_id",
  "predictions": [{"prediction": ..., "probability": ...}]}`; a model failure is a 500 that
  says what failed, a model that is not loaded a 503.
- `GET /healthz` (the process answers) and `GET /readyz` (the model loaded and a one-row smoke
  prediction succeeded at startup) answer JSON; `GET /metrics` is BentoML's Prometheus output.
- `GET /docs.json` is this model's OpenAPI description (`api_description`): its features,
  limits and every answer, behind the API key like /predict.
- Every response carries `X-Request-ID`: the client's own, or a new one.

Workers: `serving.api.resources.workers` (or MLOPS_SERVE_WORKERS) worker processes share the
port, each with its own copy of the model, its own batcher and its own prediction-log file.

Batching: requests that arrive while the model is busy are scored together in its next call
(`Batcher`); an idle server scores a request at once. With a prediction log, the thread that
scored a batch builds its lines before any of its requests is answered, and they are written
within MLOPS_SERVE_LOG_FLUSH_MS (50 ms) with everything else of those moments.
BentoML's `batchable` APIs are not used: they share one request context per batch, so each
request could not get its own status code and problems, and routing through a second,
batchable API goes over BentoML's internal HTTP client, which dropped requests under
concurrent load in bentoml 1.4.

What a request costs beyond the model (bench/serving.py holds it against a bare Starlette
endpoint): the answer is a JSON response BentoML passes on untouched; BentoML's access log
and spans are off unless turned on (`config.service_options`); `deadline.RequestDeadline`
replaces BentoML's timeout, which kept a timer per request alive for two minutes; and what
loading made is frozen out of the garbage collector's sight, whose full collections had
been the whole p99.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import bentoml
import pydantic
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops.core.api_keys import Verdict
from mlops.errors import MlopsError, first_line
from mlops.serving import deadline, requests
from mlops.serving.access import Access
from mlops.serving.api_description import describe_api
from mlops.serving.config import ServeConfig, load_config, service_options
from mlops.serving.prediction_logs import Answered, PredictionLog
from mlops.serving.predictor import Predictor
from mlops.serving.requests import RequestRefused

log = logging.getLogger("bentoml.mlops")
PREDICT_PATH = "/predict"
KEY_ID_HEADER = "X-Mlops-Key-Id"  # the id of the key that called, never the key
VERSION_HEADER = "X-Mlops-Version"
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})
Rows = list[dict[str, Any]]
Scored = list[tuple[Rows, Rows, Any]]  # a batch: each request's rows, results and tag


class Answer(pydantic.BaseModel):
    """Every answer of POST /predict, as the API description shows it."""

    model: str
    version: str
    request_id: str
    predictions: list[dict[str, Any]] | None = None  # with 200: one per row, in order
    error: str | None = None  # with any other status: what was wrong
    problem_count: int | None = None  # with 400, 413 and 422: every problem found
    problems: list[dict[str, Any]] | None = None  # the first 50, each with row and field


@dataclass
class Health:
    """This process's state, shared by the service and its middleware."""

    config: ServeConfig | None = None
    access: Access | None = None
    ready: bool = False
    failed: bool = False  # loading failed: this process will never be ready
    reason: str = "the model is loading"

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        model = {"model": self.config.model, "version": self.config.version} if self.config else {}
        if path != "/readyz":
            return 200, {"status": "alive", **model}
        if self.ready:
            return 200, {"ready": True, **model}
        return 503, {"ready": False, "failed": self.failed, "reason": self.reason, **model}


HEALTH = Health()


class Gate:
    """ASGI middleware: a request id on every response, the API key, JSON health answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        request_id = requests.client_request_id(headers.get("x-request-id")) or uuid.uuid4().hex
        kept = [(k, v) for k, v in scope["headers"] if k != b"x-request-id"]
        scope["headers"] = [*kept, (b"x-request-id", request_id.encode())]

        verdict = _access(scope["path"], headers)
        key_id = verdict.key_id if verdict is not None else None

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent = MutableHeaders(scope=message)
                sent["X-Request-ID"] = request_id
                if key_id is not None:  # for the router's access log: who called
                    sent[KEY_ID_HEADER] = key_id
                if HEALTH.config is not None:
                    sent[VERSION_HEADER] = HEALTH.config.version
            await send(message)

        answer = self.answer(scope["path"], verdict, request_id)
        if answer is not None:
            return await answer(scope, receive, send_with_id)
        config = HEALTH.config
        if config is None or scope["method"] != "POST":
            return await self.app(scope, receive, send_with_id)
        body = await _read_within(receive, headers.get("content-length"), config.max_body)
        if body is None:
            error = (f"the request body is over {config.max_body_text} ({config.max_body} bytes),"
                     " the limit of serving.api.limits.max_body: split the request")  # fmt: skip
            refusal = JSONResponse({"error": error, "limit": config.max_body_text,
                                    "request_id": request_id}, 413)  # fmt: skip
            return await refusal(scope, receive, send_with_id)
        if scope["path"] == PREDICT_PATH:
            raw = b"".join(m.get("body", b"") for m in body if m["type"] == "http.request")
            refused = requests.body_refusal(raw)
            if refused is not None:
                said = {"model": config.model, "version": config.version,
                        "request_id": request_id, **refused.body()}  # fmt: skip
                return await JSONResponse(said, 400)(scope, receive, send_with_id)
        return await self.app(scope, _replay(body, receive), send_with_id)

    def answer(self, path: str, verdict: Verdict | None, request_id: str) -> Response | None:
        """The health answer, the API description, or a refusal of the request's key (else
        None: the request goes on to the service)."""
        if path in ("/healthz", "/livez", "/readyz"):
            status, body = HEALTH.answer(path)
            return JSONResponse(body, status)
        if verdict is not None and not verdict.allowed:
            challenge = {"WWW-Authenticate": "Bearer"} if verdict.status == 401 else None
            return JSONResponse({"error": verdict.error, "request_id": request_id},
                                verdict.status, challenge)  # fmt: skip
        return _description() if path == DESCRIPTION_PATH and HEALTH.config else None


def _access(path: str, headers: Headers) -> Verdict | None:
    """The verdict on the request's key, where one is required (None: none is)."""
    access = HEALTH.access
    if access is None or not access.required or path in OPEN_PATHS:
        return None
    return access.check(headers.get("authorization"), headers.get("x-api-key"))


DESCRIPTION_PATH = "/docs.json"


def _description() -> Response:
    """This model's OpenAPI description, in place of BentoML's (see `api_description`)."""
    return Response(_description_bytes(), media_type="application/json")


@functools.cache
def _description_bytes() -> bytes:
    assert HEALTH.config is not None
    return json.dumps(describe_api(HEALTH.config)).encode()


async def _read_within(receive: Receive, declared: str | None, limit: int) -> list[Message] | None:
    """The request's body messages, or None as soon as the body is over `limit` bytes (by
    its Content-Length, or by what arrived): the rest is never read, let alone parsed."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client went away
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives the messages already read, then whatever comes next."""

    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed


class Batcher:
    """Scores requests that wait while the model is busy together, in its next call.

    `scored`, when given, sees each batch's requests (rows, results and the tag each came
    with) in the scoring thread, before any of them is answered; if it fails, that is logged
    and the answers stand."""

    def __init__(self, score: Callable[[Rows], Rows], max_rows: int = 1000,
                 scored: Callable[[Scored], None] | None = None) -> None:  # fmt: skip
        self.score_rows = score
        self.max_rows = max_rows
        self.scored = scored
        self.waiting: list[tuple[Rows, asyncio.Future[Rows], Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def score(self, rows: Rows, tag: Any = None) -> Rows:
        future: asyncio.Future[Rows] = asyncio.get_running_loop().create_future()
        self.waiting.append((rows, future, tag))
        if self.task is None:
            self.task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch = [self.waiting.pop(0)]
                size = len(batch[0][0])
                while self.waiting and size + len(self.waiting[0][0]) <= self.max_rows:
                    batch.append(self.waiting.pop(0))
                    size += len(batch[-1][0])
                await self._run(batch)
        finally:
            self.task = None

    async def _run(self, batch: list[tuple[Rows, asyncio.Future[Rows], Any]]) -> None:
        try:
            results = await asyncio.to_thread(self._score, batch)
        except Exception as exc:
            if len(batch) > 1:  # score each alone: one bad request must not fail the others
                for item in batch:
                    await self._run([item])
                return
            if not batch[0][1].done():
                batch[0][1].set_exception(exc)
            return
        for (_, future, _), result in zip(batch, results, strict=True):
            if not future.done():  # the client may have gone away
                future.set_result(result)

    def _score(self, batch: list[tuple[Rows, asyncio.Future[Rows], Any]]) -> list[Rows]:
        """Each request's results, from one model call (in a worker thread)."""
        merged = self.score_rows([row for rows, _, _ in batch for row in rows])
        results, start = [], 0
        for rows, _, _ in batch:
            results.append(merged[start : start + len(rows)])
            start += len(rows)
        if self.scored is not None:
            try:
                self.scored([(rows, result, tag) for (rows, _, tag), result in
                             zip(batch, results, strict=True)])  # fmt: skip
            except Exception:
                log.exception("after scoring %d requests", len(batch))
        return results


@bentoml.service(**service_options())
class ModelService:
    """One pinned model version behind POST /predict (see the module docstring)."""

    @bentoml.on_deployment  # type: ignore[untyped-decorator]
    def check_config() -> None:
        """Refuse to start, before any worker, when the configuration cannot serve."""
        try:
            load_config()
        except MlopsError as exc:
            raise SystemExit(f"error: {exc.message}\nhint: {exc.hint}") from None

    def __init__(self) -> None:
        self.config = HEALTH.config = load_config()
        config = self.config
        HEALTH.access = Access(config.model, config.environment, config.api_key, config.keys_file)
        self.log = None if config.prediction_logs is None else PredictionLog(
            config.prediction_logs, config.environment, config.model, config.version,
            config.protection, flush_every=config.log_flush_ms / 1000,
        )  # fmt: skip
        self.predictor: Predictor | None = None
        self.batcher: Batcher | None = None
        try:
            os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
            self.predictor = Predictor(self.config)
            row = requests.smoke_row(self.predictor.features, self.predictor.example())
            self.predictor([row])
        except Exception as exc:
            HEALTH.failed = True
            HEALTH.reason = f"cannot serve {self.config.model_uri}: {first_line(exc)}"
            log.exception(HEALTH.reason)
        else:
            self.batcher = Batcher(self.predictor, config.batch_rows,
                                   self._log_batch if self.log else None)  # fmt: skip
            HEALTH.ready = True
            # What loading made lives as long as the process: out of the collector's sight,
            # a full collection no longer walks the whole of MLflow and pandas (0.5 s each).
            gc.freeze()
            log.info("serving %s", self.config.model_uri)

    def _log_batch(self, batch: Scored) -> None:
        """Log a batch's requests, tagged with their ids and start times (scoring thread)."""
        if self.log is None:
            return
        now = time.perf_counter()
        self.log.write_many(
            Answered(request_id, (now - started) * 1000, rows, predictions)
            for rows, predictions, (request_id, started) in batch
        )

    @bentoml.on_shutdown  # type: ignore[untyped-decorator]
    def close(self) -> None:
        if self.predictor is not None:
            self.predictor.close()
        if self.log is not None:
            self.log.close()

    @bentoml.api(route=PREDICT_PATH, output_spec=Answer)  # type: ignore[untyped-decorator]
    async def predict(
        self, ctx: bentoml.Context, rows: Any = None, columns: Any = None, data: Any = None
    ) -> JSONResponse:
        """Predictions for the rows, in their order."""
        started = time.perf_counter()
        config = self.config
        request_id = ctx.request.headers.get("x-request-id", "")
        answer: dict[str, Any] = {"model": config.model, "version": config.version,
                                  "request_id": request_id}  # fmt: skip
        if self.predictor is None or self.batcher is None:
            return _respond(ctx, {**answer, "error": HEALTH.reason}, 503)
        body = {"rows": rows, "columns": columns, "data": data}
        try:
            checked = requests.check_request(body, self.predictor.features, config.max_rows)
        except RequestRefused as refused:
            return _respond(ctx, {**answer, **refused.body()}, refused.status)
        try:
            predictions = await self.batcher.score(checked, (request_id, started))
        except Exception as exc:
            log.exception("request %s: the model failed", request_id)
            error = f"the model failed to score the rows: {first_line(exc)}"
            return _respond(ctx, {**answer, "error": error}, 500)
        return _respond(ctx, {**answer, "predictions": predictions})


def _respond(ctx: bentoml.Context, body: dict[str, Any], status: int = 200) -> JSONResponse:
    """`body` as a JSON response, which BentoML passes on as it is (`Answer` describes it;
    BentoML's own serialising rebuilt the JSON schema of the answer for every request)."""
    ctx.response.status_code = status
    return JSONResponse(body, status)


cast(Any, ModelService).add_asgi_middleware(Gate)
deadline.install()
