"""A model's service health in one environment over a monitoring window, read from the
Prometheus the settings name (see `mlops.core.service_health`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mlops.adapters import prometheus
from mlops.adapters.settings import PROMETHEUS_ENV, Settings
from mlops.core.service_health import Objective, ServiceHealth, judge, queries, unknown


def check(settings: Settings, manifest: dict[str, Any], name: str, environment: str,
          window: timedelta, now: datetime) -> ServiceHealth | None:  # fmt: skip
    """None when the model serves no API with an SLO; "unknown" (with why) when no
    Prometheus is configured, it does not answer, or too few requests came."""
    objective = Objective.of(manifest)
    if objective is None:
        return None
    url = settings.prometheus_url
    if url is None:
        return unknown(objective, f"no Prometheus is configured ({PROMETHEUS_ENV}, or"
                       " prometheus_url in [tool.mlops.monitoring])")  # fmt: skip
    found: dict[str, dict[str, float]] = {}
    try:
        for key, expression in queries(name, environment, int(window.total_seconds())).items():
            samples = prometheus.query(url, expression, now)
            found[key] = {s.labels.get("version", "?"): s.value for s in samples}
    except prometheus.PrometheusUnavailable as exc:
        return unknown(objective, exc.message)
    return judge(objective, found)
