"""The rendered Prometheus rules load in Prometheus's own checker (`promtool check rules`)
and fire as intended under its rule unit tests (`promtool test rules`): a version whose p95
latency or share of 5xx answers stays above its model's objective for five minutes alerts,
a healthy one does not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support import ROOT, require_system

from mlops.core.alert_rules import RULES_PATH

pytestmark = pytest.mark.system  # promtool (the prometheus package)

LABELS = 'endpoint="/predict",environment="production",model="breast-cancer"'


def promtool() -> str:
    found = shutil.which("promtool")
    require_system("promtool (the prometheus package)", found is not None)
    assert found is not None
    return found


def test_this_repositorys_rules_are_current_and_valid(cli) -> None:
    result = cli("--repo", ROOT, "alerts", "render", "--check")
    assert result.code == 0, result.out + result.err
    done = subprocess.run([promtool(), "check", "rules", str(ROOT / RULES_PATH)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout


def series(version: str, fast: int, slow: int, errors: int) -> list[dict[str, str]]:
    """Per minute: `fast` answers under 50 ms, `slow` between 50 and 100 ms, `errors` 500s."""
    labels = f'{LABELS},version="{version}"'
    bucket = "bentoml_service_request_duration_seconds_bucket"
    total = fast + slow + errors
    return [
        {"series": f'{bucket}{{{labels},le="0.05"}}', "values": f"0+{fast}x30"},
        {"series": f'{bucket}{{{labels},le="0.1"}}', "values": f"0+{total}x30"},
        {"series": f'{bucket}{{{labels},le="+Inf"}}', "values": f"0+{total}x30"},
        {"series": f'bentoml_service_request_total{{{labels},http_response_code="200"}}',
         "values": f"0+{fast + slow}x30"},
        {"series": f'bentoml_service_request_total{{{labels},http_response_code="500"}}',
         "values": f"0+{errors}x30"},
    ]  # fmt: skip


def expected(alert: str, version: str, value: str, summary: str) -> dict[str, object]:
    return {"exp_labels": {"kind": "slo", "model": "breast-cancer", "severity": "page",
                           "environment": "production", "version": version},
            "exp_annotations": {"summary": summary, "value": value, "version": version,
                                "environment": "production"}}  # fmt: skip


def test_slow_and_failing_versions_alert_and_a_healthy_one_does_not(tmp_path: Path) -> None:
    """Version 2 answers 90% of requests in 50-100 ms (p95 near 97 ms, objective 50 ms) and
    version 3 fails 1% (objective 0.1%); version 1 is fast and clean. At 4 minutes nothing
    fires yet (`for: 5m`); at 15 minutes exactly those two alerts do."""
    rules = tmp_path / "rules.yml"
    shutil.copy(ROOT / RULES_PATH, rules)
    latency = "p95 latency of breast-cancer is above its 50 ms objective"
    errors = "share of failed requests of breast-cancer is above its 0.001 objective"
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series("1", 100, 0, 0) + series("2", 10, 90, 0)
            + series("3", 99, 0, 1),
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "ModelLatencySLO", "exp_alerts": []},
                {"eval_time": "15m", "alertname": "ModelLatencySLO",
                 "exp_alerts": [expected("ModelLatencySLO", "2", "0.09722", latency)]},
                {"eval_time": "15m", "alertname": "ModelErrorRateSLO",
                 "exp_alerts": [expected("ModelErrorRateSLO", "3", "0.01", errors)]},
            ],
        }],
    }  # fmt: skip
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
