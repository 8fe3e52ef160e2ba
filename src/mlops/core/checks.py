"""Which check runs carry a model's evaluation verdict.

Any token that may write check runs can give one any name, so a name proves nothing. A verdict
counts only when the expected GitHub App wrote it (the app of the token `mlops report` runs
with: `github-actions` for a workflow's GITHUB_TOKEN) on the exact commit being judged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

DEFAULT_APP = "github-actions"


class Run(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def app(self) -> str | None: ...

    @property
    def head_sha(self) -> str: ...


R = TypeVar("R", bound=Run)


def trusted_runs(runs: Iterable[R], *, app: str, head_sha: str, prefix: str) -> dict[str, R]:
    """Model name -> its newest check run written by `app` on `head_sha` (`runs` newest first)."""
    found: dict[str, R] = {}
    for run in runs:
        if run.app == app and run.head_sha == head_sha and run.name.startswith(prefix):
            found.setdefault(run.name.removeprefix(prefix), run)
    return found


def untrusted_names(runs: Iterable[Run], *, app: str, head_sha: str, prefix: str) -> list[str]:
    """The check runs named like ours that do not count, described for the gate's notes."""
    return sorted(
        {
            f"{run.name!r} by {run.app or 'an unknown app'}"
            + ("" if run.head_sha == head_sha else f" on {run.head_sha[:12]}")
            for run in runs
            if run.name.startswith(prefix) and (run.app != app or run.head_sha != head_sha)
        }
    )
