"""Prometheus rules from the models' SLOs: a model served online with an objective gets an
alert per objective, one not served gets none, and the text is the same every time."""

from __future__ import annotations

import json

import yaml

from mlops.core.alert_rules import objectives, render, scrape_targets


def test_each_objective_is_one_alert_and_rendering_is_stable() -> None:
    apis = {"b": {"enabled": True, "slo": {"p95_latency_ms": 120, "error_rate": 0.01}},
            "a": {"enabled": True, "slo": {"error_rate": 0.002}},
            "off": {"enabled": False, "slo": {"p95_latency_ms": 10}},
            "none": {"enabled": True}}  # fmt: skip
    found = objectives(apis)
    assert [(o.model, o.p95_latency_ms, o.error_rate) for o in found] == [
        ("a", None, 0.002), ("b", 120.0, 0.01)
    ]  # fmt: skip
    text = render(found)
    assert text == render(objectives(apis))
    data = yaml.safe_load(text)
    alerts = [r for group in data["groups"] for r in group["rules"] if "alert" in r]
    assert [(r["alert"], r["labels"]["model"], r["expr"]) for r in alerts] == [
        ("ModelErrorRateSLO", "a", 'mlops:request_errors:ratio{model="a"} > 0.002'),
        ("ModelLatencySLO", "b", 'mlops:request_duration_seconds:p95{model="b"} > 0.12'),
        ("ModelErrorRateSLO", "b", 'mlops:request_errors:ratio{model="b"} > 0.01'),
    ]
    assert all(r["for"] == "5m" and r["labels"]["kind"] == "slo" for r in alerts)


def test_no_model_with_an_objective_still_gives_the_recording_rules() -> None:
    data = yaml.safe_load(render([]))
    assert [g["name"] for g in data["groups"]] == ["mlops-recording", "mlops-slo"]
    assert data["groups"][1]["rules"] == []


def test_scrape_targets_label_each_instance() -> None:
    text = scrape_targets([("production", "m", "2", "127.0.0.1:9001"),
                           ("staging", "m", "3", "127.0.0.1:9002")])  # fmt: skip
    assert json.loads(text)[0] == {"targets": ["127.0.0.1:9001"],
                                   "labels": {"environment": "production", "model": "m",
                                              "version": "2"}}  # fmt: skip
