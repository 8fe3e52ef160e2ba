"""The service's request timeout: a 504 before the response starts, and no timer left behind."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from mlops.serving.deadline import RequestDeadline, install


async def _call(app: Any) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/predict", "headers": []},
              receive, send)  # fmt: skip
    return sent


def _app(wait_before: float, wait_after: float = 0.0) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(wait_before)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(wait_after)
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def test_a_request_that_has_not_started_answering_in_time_is_a_504() -> None:
    """The work is cancelled and the client gets BentoML's JSON 504."""
    sent = asyncio.run(_call(RequestDeadline(_app(5.0), 0.05)))
    assert sent[0]["status"] == 504
    assert json.loads(sent[1]["body"]) == {
        "error": "Not able to process the request in 0.05 seconds"
    }


def test_a_response_that_has_started_is_not_cut_off() -> None:
    """The limit is on the time to the first byte, as BentoML's own timeout."""
    sent = asyncio.run(_call(RequestDeadline(_app(0.0, 0.1), 0.05)))
    assert [m.get("status") for m in sent] == [200, None]
    assert sent[1]["body"] == b"{}"


def test_an_answered_request_leaves_no_timer_behind() -> None:
    """A thousand answered requests leave no live timer on the loop (BentoML's own
    middleware kept one per request for the whole timeout)."""

    async def many() -> list[Any]:
        deadline = RequestDeadline(_app(0.0), 120)
        for _ in range(1000):
            await _call(deadline)
        loop: Any = asyncio.get_running_loop()
        return [timer for timer in loop._scheduled if not timer.cancelled()]

    assert asyncio.run(many()) == []


def test_bentoml_builds_the_deadline_in_place_of_its_own_timeout() -> None:
    """BentoML's app factory, given a traffic timeout, builds RequestDeadline."""
    from bentoml._internal.server.base_app import BaseAppFactory

    install()

    class Factory(BaseAppFactory):  # the abstract parts are not what is built here
        name = "probe"
        on_startup = on_shutdown = routes = ()  # type: ignore[assignment]

    (middleware,) = Factory(timeout=120).middlewares
    assert middleware.cls is RequestDeadline
    assert middleware.kwargs == {"timeout": 120}
