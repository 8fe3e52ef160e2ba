"""A model's stage history on plain data: changes per environment, what served at a moment,
deployment payloads and who approved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlops.core.approval import Review
from mlops.core.history import (
    Deployment,
    Serving,
    Snapshot,
    approvers,
    changes,
    served_at,
    shares_of,
)
from mlops.errors import UsageError

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def snap(day: int, stages: dict[str, object] | None, commit: str = "") -> Snapshot:
    return Snapshot(commit or f"c{day:02d}" + "0" * 38, T0 + timedelta(days=day), "a", "s", stages)


HISTORY = [
    snap(0, {}),
    snap(1, {"staging": "1"}),
    snap(2, {"staging": "1"}),  # only versions changed: no stage change
    snap(3, {"staging": "2", "production": "1"}),
    snap(4, {"staging": "2", "production": "1", "canary": {"version": "2", "weight": 25}}),
    snap(5, None),  # the model left the registry
]


def test_a_change_is_a_commit_that_moved_what_an_environment_serves() -> None:
    found = [(c.time.day, c.environment, c.before, c.after) for c in changes(HISTORY)]
    assert found == [
        (2, "staging", None, Serving("1")),
        (4, "staging", Serving("1"), Serving("2")),
        (4, "production", None, Serving("1")),
        (5, "production", Serving("1"), Serving("1", "2", 25)),
        (6, "staging", Serving("2"), None),
        (6, "production", Serving("1", "2", 25), None),
    ]
    assert [c.environment for c in changes(HISTORY, "production")] == ["production"] * 3
    assert str(Serving("1", "2", 25)) == "v1 75% + v2 25%"


def test_what_served_prefers_successful_deployments_and_falls_back_to_the_registry() -> None:
    records = [
        Deployment(7, "production", "c", T0 + timedelta(days=4, hours=1), "success", {"1": 100}),
        Deployment(8, "production", "c", T0 + timedelta(days=4, hours=2), "failure", {"2": 100}),
        Deployment(9, "staging", "c", T0 + timedelta(days=4, hours=3), "success", {"9": 100}),
    ]
    served = served_at("m", HISTORY, records, "production", T0 + timedelta(days=4, hours=5))
    assert (served.serving, served.source) == (Serving("1"), "deployment 7 (c)")
    early = served_at("m", HISTORY, records, "production", T0 + timedelta(days=3, hours=5))
    assert early.serving == Serving("1") and early.since == T0 + timedelta(days=3)
    assert early.source.startswith("registry.yaml at c03")
    staging = served_at("m", HISTORY, [], "staging", T0 + timedelta(days=2, hours=1))
    assert staging.serving == Serving("1") and staging.since == T0 + timedelta(days=1)


def test_a_moment_before_the_model_existed_or_a_model_never_there_is_refused() -> None:
    with pytest.raises(UsageError, match="m did not exist at 2026-02-28T00:00:00Z"):
        served_at("m", HISTORY, [], "production", T0 - timedelta(days=1))
    with pytest.raises(UsageError, match="not in the history"):
        served_at("m", [snap(0, None)], [], "production", T0)


def test_a_deployment_payload_gives_versions_and_percents_of_its_model_only() -> None:
    payload = {"models": {"m": {"v1": 90, "v2": 10, "v3": "x", "v4": True}, "n": {"v7": 100}}}
    assert shares_of(payload, "m") == {"1": 90, "2": 10}
    assert shares_of(payload, "other") is None
    assert shares_of("not a payload", "m") is None
    assert shares_of({"models": {"m": []}}, "m") is None


def test_approvers_are_the_latest_deciding_reviews_on_the_merged_head_not_the_author() -> None:
    reviews = [
        Review("bob", "APPROVED", "head", "2026-03-01T10:00:00Z"),
        Review("bob", "COMMENTED", "head", "2026-03-01T11:00:00Z"),  # keeps the approval
        Review("carol", "APPROVED", "old", "2026-03-01T10:00:00Z"),  # not what was merged
        Review("dave", "APPROVED", "head", "2026-03-01T10:00:00Z"),
        Review("dave", "CHANGES_REQUESTED", "head", "2026-03-01T12:00:00Z"),
        Review("alice", "APPROVED", "head", "2026-03-01T10:00:00Z"),  # the author
    ]
    assert approvers(reviews, "head", "Alice") == ("bob",)
