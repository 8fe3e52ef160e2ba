"""Bounded HTTP load for benchmarks: `wrk` for throughput and latency, threads for steady load.

`run_wrk` POSTs one JSON body over and over for a fixed time on keep-alive connections and
returns requests, failures (responses outside 2xx plus socket errors and timeouts), req/s and
the p50/p99 latency, read from a Lua `done()` hook that prints them as JSON. wrk is a system
package (scripts/bootstrap installs it); there is no slower pure-Python stand-in, because its
numbers would not be comparable.

`steady_load` keeps a few keep-alive connections busy with the same request until told to stop
(or a request budget runs out) and records every failure with its reason; the zero-downtime
benchmarks run it while a deployment switches.

wrk shares the machine's cores with the server it measures, so compare servers measured in
the same run, never absolute numbers across machines or days.

Routers speak HTTPS only. wrk loads an https URL but cannot verify its certificate, so the
benchmarks check one answer through the router with its CA first (`scratch.check_answer`);
`steady_load` verifies every connection with the context it is given.
"""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRK_THREADS = 2
# `response` sees every status: wrk's own `errors.status` counts only status > 399.
LUA = """
local body_file = io.open(%(body)s, "rb")
wrk.method = "POST"
wrk.body = body_file:read("*a")
body_file:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total = 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    '\\nWRK_RESULT {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "connect": %%d,'
    .. ' "read": %%d, "write": %%d, "timeout": %%d, "p50_us": %%d, "p95_us": %%d,'
    .. ' "p99_us": %%d}\\n',
    summary.requests, summary.duration, non2xx_total, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


class LoadError(RuntimeError):
    """The load driver could not run, or printed no result."""


@dataclass(frozen=True)
class LoadResult:
    """One wrk run: `requests` answered (any status), `rps` of those, and `failures`: the
    non-2xx answers plus socket errors and timeouts (`errors` has each kind)."""

    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadError("wrk is not installed: install the Debian package wrk (scripts/bootstrap)")
    return found


def run_wrk(
    url: str,
    body_json: Any,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> LoadResult:
    """POST `body_json` to `url` from `connections` keep-alive connections for `seconds`."""
    wrk = wrk_path()
    with tempfile.TemporaryDirectory(prefix="mlops-wrk-") as tmp:
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps(body_json))
        script = Path(tmp) / "post.lua"
        script.write_text(LUA % {"body": json.dumps(str(body))})
        command = [
            wrk, "-t", str(min(WRK_THREADS, connections)), "-c", str(connections),
            "-d", f"{seconds:g}s", "--timeout", f"{timeout:g}s", "-s", str(script),
        ]  # fmt: skip
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        done = subprocess.run(
            [*command, url], capture_output=True, text=True, timeout=seconds + timeout + 30
        )
    found = [line for line in done.stdout.splitlines() if line.startswith("WRK_RESULT ")]
    if done.returncode != 0 or not found:
        raise LoadError(f"wrk failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr}")
    raw = json.loads(found[-1].removeprefix("WRK_RESULT "))
    errors = {k: raw[k] for k in ("non2xx", "connect", "read", "write", "timeout")}
    return LoadResult(
        requests=raw["requests"],
        failures=sum(errors.values()),
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        errors=errors,
    )


@dataclass(frozen=True)
class Failure:
    """One failed request: when (seconds since the load began), why, and what came back."""

    at: float
    reason: str  # `HTTP 503` or the exception's type: the same for the same kind of failure
    detail: str


@dataclass
class Counts:
    """What `steady_load` saw: every request sent, those answered 2xx, and each failure."""

    requests: int = 0
    ok: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def reasons(self) -> Counter[str]:
        return Counter(failure.reason for failure in self.failures)


def steady_load(
    url: str,
    body: Any,
    threads: int,
    stop_event: threading.Event,
    max_requests: int,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> Counts:
    """POST `body` as JSON from `threads` keep-alive connections until `stop_event` is set or
    `max_requests` were sent; blocks until then (run it in a thread beside the switch). An
    https `url` (a router) is verified with `context` (one trusting the routers' CA)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    if host is None:
        raise LoadError(f"not an http URL: {url}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    payload = json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    counts = Counts()
    lock = threading.Lock()
    start = time.perf_counter()

    def take() -> bool:
        with lock:
            if stop_event.is_set() or counts.requests >= max_requests:
                return False
            counts.requests += 1
            return True

    def record(reason: str | None, detail: str = "") -> None:
        with lock:
            if reason is None:
                counts.ok += 1
            else:
                counts.failures.append(Failure(time.perf_counter() - start, reason, detail))

    def worker() -> None:
        connection: http.client.HTTPConnection | None = None
        try:
            while take():
                if connection is None:
                    connection = (
                        http.client.HTTPSConnection(host, parts.port, timeout=timeout,
                                                    context=context)
                        if parts.scheme == "https"
                        else http.client.HTTPConnection(host, parts.port, timeout)
                    )  # fmt: skip
                try:
                    connection.request("POST", path, payload, sent)
                    response = connection.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    record(type(exc).__name__, str(exc))
                    connection.close()
                    connection = None
                    continue
                if 200 <= response.status < 300:
                    record(None)
                else:
                    record(f"HTTP {response.status}", answer[:300].decode(errors="replace"))
                if response.will_close:
                    connection.close()
                    connection = None
        finally:
            if connection is not None:
                connection.close()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    counts.seconds = time.perf_counter() - start
    return counts
