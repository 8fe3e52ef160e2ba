"""Test helpers for the local GitHub API server.

`github_server()` starts a server and, when the block ends without an exception, fails with
AssertionError if any request or response broke GitHub's contract, so every test that uses
it checks the contract too (`check=False` leaves that to a test that provokes violations on
purpose). `github_client()` is a PyGithub client for it, with throttling and retries off. In
a conftest::

    @pytest.fixture
    def gh() -> Iterator[GitHubServer]:
        with github_server() as server:
            yield server
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from github import Auth, Github

from mlops.testing.github_server import GitHubServer


def check_contract(server: GitHubServer) -> None:
    """Raise AssertionError listing the contract violations `server` recorded, if any."""
    if server.violations:
        lines = "\n".join(f"  {v}" for v in server.violations)
        raise AssertionError(f"GitHub API contract violations:\n{lines}")


@contextmanager
def github_server(
    seed: str | Path | None = None, *, port: int = 0, check: bool = True
) -> Iterator[GitHubServer]:
    """A running server (optionally from a seed file) whose contract is checked on exit,
    unless `check` is false."""
    server = GitHubServer.load(seed, port=port) if seed else GitHubServer(port=port)
    with server:
        yield server
    if check:
        check_contract(server)


def github_client(server: GitHubServer | str, token: str, **options: Any) -> Github:
    """A PyGithub client for `server` (or its API URL) authenticated by `token`, without
    throttling or retries; `options` go to `Github()`."""
    url = server if isinstance(server, str) else server.api_url
    fast: dict[str, Any] = {"retry": None, "seconds_between_requests": None}
    fast |= {"seconds_between_writes": None, "timeout": 15}
    return Github(auth=Auth.Token(token), base_url=url, **(fast | options))
