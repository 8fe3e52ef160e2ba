"""Prometheus's HTTP query API: an instant query's samples, or why there are none."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from mlops.errors import MlopsError


class PrometheusUnavailable(MlopsError):
    """Prometheus did not answer the query, or answered with an error."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


def query(url: str, expression: str, at: datetime, timeout: float = 10.0) -> list[Sample]:
    """The instant vector `expression` evaluates to at `at` (GET /api/v1/query)."""
    address = f"{url}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expression, "time": f"{at.timestamp():.3f}"}
    )
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = _error_of(exc.read())
        raise PrometheusUnavailable(f"Prometheus at {url} answered {exc.code}{detail}") from None
    except (OSError, ValueError) as exc:
        raise PrometheusUnavailable(f"Prometheus at {url} did not answer: {exc}") from None
    data = body.get("data") if isinstance(body, dict) else None
    if body.get("status") != "success" or not isinstance(data, dict):
        raise PrometheusUnavailable(f"Prometheus at {url} answered{_error_of(body)}")
    if data.get("resultType") != "vector":
        raise PrometheusUnavailable(f"Prometheus at {url} answered a {data.get('resultType')},"
                                    " not an instant vector")  # fmt: skip
    return [Sample(dict(item["metric"]), float(item["value"][1])) for item in data["result"]]


def _error_of(body: object) -> str:
    if isinstance(body, bytes):
        try:
            body = json.loads(body)
        except ValueError:
            return ""
    return f": {body.get('error')}" if isinstance(body, dict) and body.get("error") else ""
