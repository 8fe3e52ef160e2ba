"""What the model catalogue reads of GitHub beyond the pull request flow: when pull requests
were opened, and every alert issue monitoring opened (open and closed), with its times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlops.adapters.github import GitHub


class GitHubRecords(GitHub):
    """A repository on GitHub, read for the catalogue."""

    def pull_created(self, number: int) -> datetime:
        """When pull request `number` was opened (UTC)."""
        pr = self._call(f"read pull request #{number}", self.repo.get_pull, number)
        return _utc(pr.created_at)

    def alert_issues(self, label: str) -> list[dict[str, Any]]:
        """Every issue (not pull request) carrying `label`, open or closed: number, title,
        body, url, opened and closed times (UTC; closed None while open)."""

        def read() -> list[dict[str, Any]]:
            found = self.repo.get_issues(state="all", labels=[label])
            return [{"number": i.number, "title": i.title or "", "body": i.body or "",
                     "url": i.html_url, "opened": _utc(i.created_at),
                     "closed": _utc(i.closed_at) if i.closed_at and i.state == "closed"
                     else None}
                    for i in found if i.pull_request is None]  # fmt: skip

        return self._call(f"list the issues labelled {label!r}", read)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
