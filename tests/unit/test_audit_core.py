"""The router's access log summed per key id: calls, outcomes, versions, latency; lines that
are not records are told apart, and only the asked model and window count."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from mlops.core.audit import NO_KEY, callers, parse, percentile


def line(key: str, status: int, seconds: float, model: str = "cancer", minute: int = 0) -> str:
    return json.dumps({"time": f"2026-12-07T10:{minute:02d}:00+00:00", "request_id": "r",
                       "key_id": key, "model": model, "version": "3", "method": "POST",
                       "path": f"/{model}/predict", "status": status,
                       "request_time": seconds, "upstream": "127.0.0.1:1", "bytes": 10})  # fmt: skip


def test_calls_are_summed_per_key_with_outcomes_and_latency() -> None:
    lines = [line("0a0b0c0d", 200, 0.010), line("0a0b0c0d", 200, 0.030, minute=5),
             line("0a0b0c0d", 403, 0.001, minute=7), line("", 401, 0.002),
             line("0a0b0c0d", 200, 0.5, model="fuel"), line("1a1b1c1d", 200, 0.02, minute=1)]  # fmt: skip
    calls = [c for c in (parse(text, "production") for text in lines) if c is not None]
    found = callers(calls, "cancer", datetime(2026, 12, 7, 10, 1, tzinfo=UTC))
    assert [(c.key_id, c.calls) for c in found] == [("0a0b0c0d", 2), ("1a1b1c1d", 1)]
    summary = found[0].to_dict()
    assert summary["outcomes"] == {"200": 1, "403": 1}
    assert summary["first"] == "2026-12-07T10:05:00Z" and summary["last"] == "2026-12-07T10:07:00Z"
    everything = {c.key_id: c for c in callers(calls, "cancer", None)}
    assert everything[NO_KEY].statuses == {401: 1}
    assert everything["0a0b0c0d"].to_dict()["latency_ms"] == {"p50": 10.0, "p95": 30.0}


def test_a_line_that_is_not_a_record_is_none() -> None:
    for text in ("", "{", '{"time": "x"}', json.dumps({"time": "2026-12-07T10:00:00+00:00"})):
        assert parse(text, "production") is None


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    assert percentile([], 95) is None
    assert percentile([0.001 * n for n in range(1, 101)], 95) == 95.0
    assert percentile([0.004], 50) == 4.0
