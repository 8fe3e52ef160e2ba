"""HTTP probes of serving instances on loopback: identity, readiness and a smoke prediction.

A deployer trusts an instance only after it answers for itself: `/healthz` names the model
and version it serves, `/readyz` says the model loaded and passed its startup prediction,
and one real `/predict` through the same path clients use gives a prediction.

Instances speak plain HTTP on 127.0.0.1; the routers in front of them speak HTTPS only, so a
call through a router passes an SSL context that trusts the routers' CA (`context`).
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from mlops.errors import MlopsError


class CheckFailed(MlopsError):
    """A new instance did not pass its health or smoke check."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:  # fmt: skip
    """GET `url`, or POST `body` as JSON: (status, parsed JSON or text). Status 0: no answer
    (an https URL whose certificate `context` does not verify gets none either)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data, {"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (OSError, ValueError):
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def identity(address: str, timeout: float = 2.0) -> tuple[str, str] | None:
    """(model, version) as the instance at `address` reports them, or None."""
    status, body = call(f"http://{address}/healthz", timeout=timeout)
    if status != 200 or not isinstance(body, dict):
        return None
    return str(body.get("model")), str(body.get("version"))


def wait_ready(
    address: str, timeout: float, exited: Callable[[], bool], logs: Callable[[], str]
) -> None:
    """Until `/readyz` answers 200; CheckFailed with the reason or the log tail otherwise."""
    deadline = time.monotonic() + timeout
    reason = "no answer"
    while time.monotonic() < deadline:
        status, body = call(f"http://{address}/readyz", timeout=2.0)
        if status == 200:
            return
        if status:
            reason = body.get("reason", reason) if isinstance(body, dict) else str(body)[:200]
            if isinstance(body, dict) and body.get("failed") is True:  # final, not loading
                raise CheckFailed(f"not ready: {reason}")
        if exited():
            raise CheckFailed(f"the instance exited before it was ready: {reason}\n{_tail(logs())}")
        time.sleep(0.2)
    raise CheckFailed(f"not ready after {timeout:.0f} s: {reason}\n{_tail(logs())}")


def smoke(address: str, row: dict[str, Any], api_key: str | None, expect: tuple[str, str]) -> None:
    """One prediction through `/predict`; CheckFailed unless it answers for `expect`."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    status, body = call(f"http://{address}/predict", {"rows": [row]}, headers, timeout=60)
    if status != 200 or not isinstance(body, dict):
        raise CheckFailed(f"the smoke prediction failed: HTTP {status} {str(body)[:300]}")
    served = (str(body.get("model")), str(body.get("version")))
    if served != expect or len(body.get("predictions") or []) != 1:
        raise CheckFailed(f"the smoke prediction came from {served}, expected {expect}")


def _tail(text: str, lines: int = 15) -> str:
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(f"    {line}" for line in kept)
