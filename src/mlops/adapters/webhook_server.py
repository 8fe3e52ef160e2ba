"""A small HTTP server that hands JSON POSTs to one function: how Alertmanager's webhook
reaches the platform.

`POST <path>` with a JSON body calls `handle(body)`, which answers (status, JSON). A body
that is not JSON is refused with 400 naming the line and column, one over `MAX_BODY` bytes
with 413, any other path with 404; `GET /healthz` answers 200. Requests are served on
threads but handled one at a time, so two messages about one alert never race to open
two issues. SIGTERM and SIGINT stop the server after the message in hand.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1 << 20  # Alertmanager's messages are a few kilobytes
Handler = Callable[[Any], tuple[int, dict[str, Any]]]
log = logging.getLogger("mlops.webhook")


def serve(host: str, port: int, path: str, handle: Handler,
          ready: Callable[[str], None] | None = None) -> None:  # fmt: skip
    """Serve until SIGTERM or SIGINT; `ready` hears the URL once the socket listens."""
    lock = threading.Lock()

    class Request(BaseHTTPRequestHandler):
        server_version = "mlops-webhook"

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._answer(200, {"status": "ok"})
            else:
                self._answer(404, {"error": f"no such path {self.path}; POST to {path}"})

        def do_POST(self) -> None:
            if self.path != path:
                self._answer(404, {"error": f"no such path {self.path}; POST to {path}"})
                return
            size = int(self.headers.get("Content-Length") or 0)
            if size > MAX_BODY:
                self._answer(413, {"error": f"the body is {size} bytes; the limit is {MAX_BODY}"})
                return
            raw = self.rfile.read(size)
            try:
                body = json.loads(raw)
            except ValueError as exc:
                where = (f" at line {exc.lineno} column {exc.colno}"
                         if isinstance(exc, json.JSONDecodeError) else "")  # fmt: skip
                self._answer(400, {"error": f"the body is not JSON{where}"})
                return
            with lock:
                status, answer = handle(body)
            self._answer(status, answer)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((host, port), Request)
    server.daemon_threads = True

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if ready is not None:
            ready(f"http://{host}:{server.server_address[1]}{path}")
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
