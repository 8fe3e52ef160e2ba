"""Service health against the SLO: each version with enough requests is judged on its p95
latency and share of failures; too few requests, or no Prometheus, is no verdict."""

from __future__ import annotations

import math

from mlops.core.service_health import (
    BREACH,
    ERRORS,
    MIN_REQUESTS,
    OK,
    P95,
    REQUESTS,
    UNKNOWN,
    Objective,
    judge,
    queries,
    unknown,
)  # fmt: skip

SLO = Objective(p95_latency_ms=50, error_rate=0.01)


def test_the_objective_comes_from_an_enabled_api_only() -> None:
    api = {"enabled": True, "slo": {"p95_latency_ms": 50, "error_rate": 0.001}}
    assert Objective.of({"serving": {"api": api}}) == Objective(50.0, 0.001)
    assert Objective.of({"serving": {"api": {**api, "enabled": False}}}) is None
    assert Objective.of({"serving": {"api": {"enabled": True}}}) is None
    assert Objective.of({}) is None


def test_a_slow_version_and_a_failing_one_are_breaches_a_healthy_one_is_not() -> None:
    found = {REQUESTS: {"1": 1000.0, "2": 500.0, "3": 400.0},
             ERRORS: {"1": 0.0, "2": 0.0, "3": 20.0},
             P95: {"1": 0.012, "2": 0.097, "3": 0.02}}  # fmt: skip
    health = judge(SLO, found)
    assert health.status == BREACH
    assert health.reasons == [
        "service: p95 latency of version 2 is 97.0 ms, above the 50 ms objective",
        "service: 5.00% of version 3's 400 requests failed, above the 0.01 objective",
    ]
    assert [v.version for v in health.versions] == ["1", "2", "3"]
    assert health.as_dict()["versions"][2]["error_rate"] == 0.05


def test_within_the_objective_is_ok_and_a_quiet_canary_is_shown_not_judged() -> None:
    found = {REQUESTS: {"1": 1000.0, "2": MIN_REQUESTS - 1.0}, ERRORS: {},
             P95: {"1": 0.012, "2": 0.5}}  # fmt: skip
    health = judge(SLO, found)
    assert health.status == OK and health.reasons == []
    assert [v.version for v in health.versions] == ["1", "2"]


def test_too_few_requests_or_no_latency_is_no_verdict_not_a_pass() -> None:
    health = judge(SLO, {REQUESTS: {"1": 3.0}, ERRORS: {}, P95: {"1": math.nan}})
    assert health.status == UNKNOWN
    assert health.note is not None and "3 request(s)" in health.note
    assert health.versions[0].p95_ms is None
    assert judge(SLO, {REQUESTS: {}}).status == UNKNOWN
    down = unknown(SLO, "Prometheus at http://127.0.0.1:1 did not answer")
    assert down.status == UNKNOWN
    assert down.as_dict()["note"] == (
        "service health unknown: Prometheus at http://127.0.0.1:1 did not answer"
    )


def test_the_queries_select_the_model_environment_and_window() -> None:
    found = queries("breast-cancer", "production", 604800)
    selector = 'endpoint="/predict",model="breast-cancer",environment="production"'
    assert all(selector in q and "[604800s]" in q for q in found.values())
    assert 'http_response_code=~"5.."' in found[ERRORS]
    assert found[P95].startswith("histogram_quantile(0.95, sum by (le, version)")
