"""Moments people type: an ISO 8601 time or date, UTC unless it says otherwise."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_moment(text: str) -> datetime:
    """`2026-03-01T12:00Z`, `2026-03-01T12:00+01:00` or `2026-03-01` (its midnight UTC), as
    an aware time; ValueError when it is none of these."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
