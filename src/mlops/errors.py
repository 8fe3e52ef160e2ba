"""The MlopsError hierarchy: every failure a user can cause or fix is one of these.

The CLI turns an MlopsError into one clear line and its exit code; anything else is a bug
and exits 2 with a hint to re-run with ``--traceback``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops.core.diagnostics import Diagnostic


class MlopsError(Exception):
    """A failure the user can understand and act on."""

    exit_code = 1
    annotate = True  # also emit a GitHub annotation when running in Actions

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(MlopsError):
    """The command was called wrongly (bad argument, unknown path)."""

    exit_code = 2


class RepositoryError(MlopsError):
    """The repository is not where or what we expected (a usage problem: exit 2)."""

    exit_code = 2


class InvalidInput(MlopsError):
    """Input files are invalid. The diagnostics it carries are printed one a line before the
    error (and annotated in Actions) by the CLI; the error line itself is not annotated."""

    annotate = False

    def __init__(
        self, message: str, *, hint: str | None = None, diagnostics: Sequence[Diagnostic] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.diagnostics = [d for d in diagnostics if d.severity == "error"]


class GitError(MlopsError):
    """A git command failed."""


class ModelExists(MlopsError):
    """A model of that name already exists."""


class UnknownModel(MlopsError):
    """No model of that name exists."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none): what a one-line
    error shows of a third-party failure."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
