"""A unified diff of one file's text, as `git diff` shows it."""

from __future__ import annotations

import difflib


def file_diff(path: str, before: str | None, after: str) -> str:
    """The diff that turns `before` (None: the file does not exist) into `after`; every line
    ends with a newline, so diffs concatenate and print cleanly."""
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        after.splitlines(keepends=True),
        "/dev/null" if before is None else f"a/{path}",
        f"b/{path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
