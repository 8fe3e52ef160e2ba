"""Alert states from a monitoring summary, and what GitHub issues, e-mail and webhooks are
asked to do: open once, update while firing, close on recovery, tell people of changes only,
and never act on an unknown state."""

from __future__ import annotations

from typing import Any

from mlops.core import alerts
from mlops.core.alerts import CLEAR, FIRING, UNKNOWN, Alert


def summary(status: str = "breach", reasons: list[str] | None = None,
            performance: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"model": "m", "environment": "production", "version": "3", "status": status,
            "reasons": reasons or [], "quality": {"rows": 500, "invalid_rows": 0},
            "performance": performance}  # fmt: skip


def states(found: list[Alert]) -> dict[str, str]:
    return {a.kind: a.state for a in found}


def test_a_summary_gives_one_alert_per_kind() -> None:
    found = alerts.from_summary(summary(reasons=["data drift in 1 of 5 feature(s): a psi 1 > 0.2"],
                                        performance={"value": 0.97, "breached": False}))  # fmt: skip
    assert states(found) == {"drift": FIRING, "quality": CLEAR, "performance": CLEAR}
    assert found[0].reasons == ("data drift in 1 of 5 feature(s): a psi 1 > 0.2",)
    assert found[0].key == "m/production/drift"
    assert alerts.key_of(alerts.issue_body(found[0])) == "m/production/drift"


def test_an_alert_on_batch_outputs_says_the_version_scored_them() -> None:
    """Batch outputs are monitored as the environment `batch`: a separate issue per kind,
    whose body does not claim the version serves an environment called batch."""
    found = alerts.from_summary({**summary(reasons=["prediction drift: prediction psi 1 > 0.2"]),
                                 "environment": "batch"})  # fmt: skip
    assert found[0].key == "m/batch/drift"
    assert "Version 3 scored the batch outputs." in alerts.issue_body(found[0])
    assert "Version 3 serves production." in alerts.issue_body(alerts.from_summary(summary())[0])


def test_too_little_data_is_unknown_not_clear() -> None:
    found = alerts.from_summary(summary("insufficient data", performance={"value": None}))
    assert states(found) == {"drift": UNKNOWN, "quality": UNKNOWN, "performance": UNKNOWN}
    assert alerts.issue_actions(found, {"m/production/drift": 4}) == []
    assert alerts.changes(found, {"drift": FIRING}) == []


def test_issues_open_once_update_while_firing_and_close_on_recovery() -> None:
    firing = Alert("m", "production", "drift", FIRING, ("x",))
    clear = Alert("m", "production", "quality", CLEAR)
    [opened] = alerts.issue_actions([firing], {})
    assert (opened.action, opened.number) == ("open", None)
    actions = alerts.issue_actions([firing, clear], {firing.key: 7, clear.key: 9})
    assert [(a.action, a.number) for a in actions] == [("update", 7), ("close", 9)]
    assert alerts.issue_actions([clear], {}) == []


def test_people_hear_of_changes_only() -> None:
    firing = Alert("m", "production", "drift", FIRING, ("x",))
    clear = Alert("m", "production", "drift", CLEAR)
    assert [c.previous for c in alerts.changes([firing], {})] == [CLEAR]
    assert alerts.changes([firing], {"drift": FIRING}) == []
    [resolved] = alerts.changes([clear], {"drift": FIRING})
    assert alerts.message(resolved)["status"] == "resolved"
    assert alerts.changes([clear], {"drift": UNKNOWN}) == []
    assert alerts.key_of("no marker here") is None
