"""Alertmanager's webhook messages become the platform's alerts: one per model, environment
and kind, firing while any member fires; malformed messages are refused by field."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.core.alertmanager import PayloadError, received
from mlops.core.alerts import CLEAR, FIRING


def member(status: str, version: str, alertname: str = "ModelLatencySLO",
           **labels: str) -> dict[str, Any]:  # fmt: skip
    return {
        "status": status,
        "labels": {"alertname": alertname, "model": "breast-cancer",
                   "environment": "production", "kind": "slo", "version": version, **labels},
        "annotations": {"summary": "p95 latency of breast-cancer is above its 50 ms objective",
                        "value": "0.09"},
    }  # fmt: skip


def message(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "externalURL": "http://127.0.0.1:9093",
            "alerts": list(alerts)}  # fmt: skip


def test_the_alerts_of_one_model_and_kind_are_one_alert_firing_while_any_fires() -> None:
    """A slow version 2 and a resolved version 3 are one `slo` alert, firing, naming only
    the firing member."""
    got = received(message(member("firing", "2"), member("resolved", "3"))).alerts
    assert len(got) == 1
    alert = got[0]
    assert (alert.key, alert.state, alert.version) == ("breast-cancer/production/slo", FIRING, "2")
    assert alert.reasons == (
        "ModelLatencySLO: p95 latency of breast-cancer is above its 50 ms objective"
        " (now 0.09) on version 2",
    )
    assert alert.report == "http://127.0.0.1:9093"


def test_all_members_resolved_is_clear_and_environments_stay_apart() -> None:
    got = received(message(member("resolved", "2"),
                           member("firing", "1", environment="staging"))).alerts  # fmt: skip
    states = {a.environment: a.state for a in got}
    assert states == {"production": CLEAR, "staging": FIRING}
    clear = next(a for a in got if a.environment == "production")
    assert clear.reasons[0].endswith("on version 2: resolved")


def test_alerts_naming_no_model_are_left_aside_by_name() -> None:
    other = {"status": "firing", "labels": {"alertname": "DiskFull"}, "annotations": {}}
    got = received(message(other))
    assert got.alerts == [] and got.ignored == ["DiskFull"]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ([], "$"),
        ({"alerts": "x"}, "$.alerts"),
        ({"alerts": [7]}, "$.alerts[0]"),
        ({"alerts": [{**member("firing", "1"), "status": "burning"}]}, "$.alerts[0].status"),
        ({"alerts": [{**member("firing", "1"), "labels": {"model": 3}}]}, "$.alerts[0].labels"),
        ({"alerts": [member("firing", "1", environment="")]}, "$.alerts[0].labels.environment"),
        ({"alerts": [member("firing", "1"), member("firing", "1", kind="disk")]},
         "$.alerts[1].labels.kind"),
    ],
)  # fmt: skip
def test_a_message_not_as_alertmanager_sends_it_names_the_field(payload: Any, where: str) -> None:
    with pytest.raises(PayloadError) as caught:
        received(payload)
    assert caught.value.where == where
    assert str(caught.value).startswith(f"{where}: expected ")
