"""When retraining is due: production past max_age_days, or drift or a performance breach
in each of the last two monitoring runs when on_drift allows it; otherwise it says why not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlops.core import retraining
from mlops.core.alerts import CLEAR, FIRING, UNKNOWN

NOW = datetime(2026, 6, 1, tzinfo=UTC)
RULES = {"on_drift": True, "max_age_days": 180}


def test_an_old_production_version_is_due() -> None:
    found = retraining.due(RULES, "3", NOW - timedelta(days=200), [], NOW)
    assert found.due
    assert found.reasons == ["production version 3 is 200 day(s) old (max_age_days 180)"]
    assert found.notes == ["no drift or performance breach in each of the last 2 monitoring runs"
                           " (latest: no monitoring run yet)"]  # fmt: skip


def test_drift_must_persist_over_two_runs() -> None:
    young = NOW - timedelta(days=10)
    once = retraining.due(RULES, "3", young, [{"drift": FIRING}, {"drift": CLEAR}], NOW)
    assert not once.due
    assert "latest: drift firing, performance unknown" in once.notes[-1]
    twice = retraining.due(RULES, "3", young, [{"drift": FIRING, "performance": FIRING},
                                               {"drift": FIRING, "performance": FIRING}], NOW)  # fmt: skip
    assert twice.reasons == ["drift and performance fired in each of the last 2 monitoring runs"
                             " of production"]  # fmt: skip
    single = retraining.due(RULES, "3", young, [{"drift": FIRING}], NOW)
    assert not single.due


def test_drift_does_not_retrain_when_on_drift_is_off_and_nothing_without_production() -> None:
    rules = {"on_drift": False}
    found = retraining.due(rules, "3", NOW, [{"drift": FIRING}] * 2, NOW)
    assert not found.due and found.notes == ["monitoring.retrain.on_drift is off"]
    none = retraining.due(RULES, None, None, [], NOW)
    assert not none.due and none.notes == ["no version is in production: nothing to retrain"]
    unknown = retraining.due({"on_drift": True}, "3", None, [{"drift": UNKNOWN}] * 2, NOW)
    assert not unknown.due


def test_branches_and_the_pull_request_name_the_model_and_the_reasons() -> None:
    branch = retraining.branch("churn", NOW)
    assert branch == "mlops/retrain/churn-20260601-000000"
    assert retraining.is_retraining_branch("churn", branch)
    assert not retraining.is_retraining_branch("churn", "mlops/retrain/churn-eu-20260601-000000")
    assert not retraining.is_retraining_branch("churn", "feature/x")
    title, body = retraining.pull_request("churn", "3", ["drift fired"], {"data/train.csv": "a"},
                                          {"data/train.csv": "b"}, "http://mlflow/run")  # fmt: skip
    assert title == "Retrain churn: drift fired"
    assert "| `data/train.csv` | `a` | `b` |" in body
    assert "Latest monitoring report: http://mlflow/run" in body
