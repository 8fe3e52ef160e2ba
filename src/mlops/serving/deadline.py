"""The request timeout of the service: a 504 when no response has started within the time.

BentoML's own timeout middleware (bentoml 1.4) never cancels the timer it sets for each
request, so every request leaves a timer, a future and a context alive for the whole timeout
(120 s: 70,000 objects at 600 requests per second) and each full garbage collection walks
them, a pause that grew past 60 ms under load. `RequestDeadline` keeps BentoML's behaviour
(the same 504 answer, the same `traffic.timeout`) and cancels its timer as soon as the
response starts; `install` puts it in the place BentoML builds its middleware from.
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestDeadline:
    """ASGI middleware: 504 JSON when the response has not started within `timeout` seconds.
    The request's own work is cancelled then; once the response starts there is no limit."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        deadline = asyncio.timeout(self.timeout)
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_started)
        except TimeoutError:
            if started:
                raise
            error = f"Not able to process the request in {self.timeout:g} seconds"
            await JSONResponse({"error": error}, 504)(scope, receive, send)


def install() -> None:
    """Make BentoML build `RequestDeadline` where it would build its own timeout middleware
    (it looks the class up in its traffic module each time it builds a server)."""
    from bentoml._internal.server.http import traffic

    traffic.TimeoutMiddleware = RequestDeadline  # type: ignore[misc,assignment]
