"""The catalogue's overview numbers from a synthetic main-line history: deploys and rollbacks
per month, time from pull request to production, and incidents caught by monitoring."""

from __future__ import annotations

from datetime import UTC, datetime

from mlops.core import overview
from mlops.core.history import Change, Serving


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def change(when: str, before: str | None, after: str | None, environment: str = "production",
           canary: tuple[str, int] | None = None) -> Change:  # fmt: skip
    old = Serving(before) if before else None
    new = Serving(after, *canary) if after and canary else Serving(after) if after else None
    return Change(f"c-{when}", at(when), "alice", "subject", environment, old, new)


HISTORY = [
    change("2026-01-05T10:00:00", None, "1", environment="staging"),
    change("2026-01-06T10:00:00", None, "1"),  # first deploy
    change("2026-01-20T10:00:00", "1", "1", canary=("2", 10)),  # canary only: not counted
    change("2026-03-02T10:00:00", "1", "2"),  # deploy
    change("2026-03-09T10:00:00", "2", "1"),  # rollback (a reverted promotion)
    change("2026-03-10T10:00:00", "1", "10"),  # 10 is newer than 1: numeric order
]


def test_production_changes_are_deploys_or_rollbacks_by_version_order() -> None:
    """It counts a move to a newer production version as a deploy and to an older one as a
    rollback; staging changes and a canary share alone are not production changes."""
    found = overview.moves("iris", HISTORY)
    assert [(m.kind, m.before, m.after) for m in found] == [
        ("deploy", None, "1"), ("deploy", "1", "2"), ("rollback", "2", "1"),
        ("deploy", "1", "10"),
    ]  # fmt: skip


def test_a_withdrawn_production_version_is_a_rollback() -> None:
    """It counts the revert of a model's first promotion, which leaves production empty, as a
    rollback, and promoting it again as a deploy."""
    history = [
        change("2026-05-01T10:00:00", None, "1"),
        change("2026-05-01T11:00:00", "1", None),  # the promotion reverted
        change("2026-05-02T10:00:00", None, "1"),
    ]
    found = overview.moves("iris", history)
    assert [(m.kind, m.before, m.after) for m in found] == [
        ("deploy", None, "1"), ("rollback", "1", None), ("deploy", None, "1"),
    ]  # fmt: skip


def test_months_run_without_gaps_and_count_incidents_only_when_known() -> None:
    """It lists every month from the first to the last with any event, zeros included, and
    leaves incidents unknown (None) when no incident source was read."""
    found = overview.moves("iris", HISTORY)
    unknown = overview.months(found, None)
    assert [(m.month, m.deploys, m.rollbacks, m.incidents) for m in unknown] == [
        ("2026-01", 1, 0, None), ("2026-02", 0, 0, None), ("2026-03", 2, 1, None),
    ]  # fmt: skip
    incident = overview.Incident("iris", "production", "drift", 7, "iris: drift alert",
                                 at("2026-04-01T06:00:00"), None, "https://example.test/7")  # fmt: skip
    known = overview.months(found, [incident])
    assert [(m.month, m.incidents) for m in known] == [
        ("2026-01", 0), ("2026-02", 0), ("2026-03", 0), ("2026-04", 1),
    ]  # fmt: skip


def test_lead_time_runs_from_pull_request_to_deployment_else_merge() -> None:
    """It measures from the pull request's opening to its first successful deployment when
    one was recorded, else to the merge; a deploy without a known pull request, and a
    rollback, have none."""
    first, second, rollback, third = overview.moves("iris", HISTORY)
    with_deploy = overview.Move(**{**first.__dict__, "pull": 1,
                                   "pull_created": at("2026-01-05T22:00:00"),
                                   "deployed": at("2026-01-06T10:30:00")})  # fmt: skip
    merged_only = overview.Move(**{**second.__dict__, "pull": 2,
                                   "pull_created": at("2026-02-27T10:00:00")})  # fmt: skip
    view = overview.overview([with_deploy, merged_only, rollback, third], None)
    assert [(t.pull, t.hours, t.until) for t in view.lead_times] == [
        (1, 12.5, "deployment"), (2, 72.0, "merge"),
    ]  # fmt: skip
    assert view.median_lead_hours == 42.25
    assert (view.deploys, view.rollbacks, view.open_incidents) == (3, 1, None)
    assert overview.duration(view.median_lead_hours) == "42.2 h"
    assert overview.duration(72.0) == "3.0 days"
    assert overview.duration(None) == "unknown"


def test_without_any_pull_request_the_lead_time_is_unknown_not_zero() -> None:
    """It reports no median (unknown) when no deploy has a known pull request."""
    view = overview.overview(overview.moves("iris", HISTORY), [])
    assert view.lead_times == [] and view.median_lead_hours is None
    assert view.open_incidents == 0


def test_incidents_come_from_alert_issue_markers() -> None:
    """It reads model, environment and kind from an alert issue's key and ignores issues
    without one; open incidents are those not closed."""
    opened = at("2026-03-01T06:00:00")
    made = overview.incident_of("iris/production/drift", 3, "t", opened, None, "u")
    assert made is not None and (made.model, made.environment, made.kind) == (
        "iris", "production", "drift")  # fmt: skip
    assert overview.incident_of(None, 4, "t", opened, None, "u") is None
    closed = overview.incident_of("iris/batch/quality", 5, "t", opened, at("2026-03-02"), "u")
    assert closed is not None
    assert overview.overview([], [made, closed]).open_incidents == 1


def test_metrics_of_a_version_from_the_registry_entry() -> None:
    """It returns the registry's metrics of a version, and nothing for an unknown one."""
    entry = {"versions": {"2": {"metrics": {"f1": 0.9}}}}
    assert overview.metrics_of(entry, "2") == {"f1": 0.9}
    assert overview.metrics_of(entry, "3") == {} and overview.metrics_of({}, None) == {}
