"""Reading the bare git repository that backs a repository of the local GitHub API server.

GitHub knows a branch because it was pushed to it. A repository backed by a bare git
repository (`GitHubSeeding.back_with_git`, or `git_dir` in a seed file) learns a branch or
commit a request names, and the state does not know, from that repository
(`GitHubState.learn`). These functions only read it, through `git --git-dir`, so neither the
working directory nor GIT_DIR matters, and they never take revision syntax (`main~1`): a
branch is exactly `refs/heads/<name>`, a commit a full or abbreviated sha.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import NamedTuple

SHA_PREFIX = re.compile(r"^[0-9a-f]{7,40}$")


class GitCommit(NamedTuple):
    """A commit as git records it; `author_time` in seconds since the epoch."""

    sha: str
    parents: list[str]
    author_time: int
    message: str


def _git(git_dir: str | Path, *args: str) -> str | None:
    """The output of a git command on the repository `git_dir`, or None if it failed."""
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        capture_output=True, text=True, encoding="utf-8", errors="replace", check=False,
    )  # fmt: skip
    return done.stdout if done.returncode == 0 else None


def is_repository(git_dir: str | Path) -> bool:
    return _git(git_dir, "rev-parse", "--git-dir") is not None


def branch_head(git_dir: str | Path, branch: str) -> str | None:
    """The sha branch `branch` points at, or None if there is no such branch."""
    found = _git(git_dir, "show-ref", "--verify", f"refs/heads/{branch}")
    return found.split()[0] if found else None


def read_commit(git_dir: str | Path, sha: str) -> GitCommit | None:
    """Commit `sha` (full, or abbreviated and unambiguous), or None if there is none."""
    if not SHA_PREFIX.match(sha):
        return None
    found = _git(git_dir, "show", "-s", "--format=%H%n%P%n%at%n%B", f"{sha}^{{commit}}", "--")
    if found is None:
        return None
    full, parents, stamp, message = found.split("\n", 3)
    return GitCommit(full, parents.split(), int(stamp), message.rstrip("\n"))
