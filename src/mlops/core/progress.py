"""What long work tells whoever watches it: named stages, and quantities worked through.

Flows take a `Reporter` and default to `QUIET`; a command passes the terminal's reporter
(`mlops.output.progress`), which draws on stderr, so stdout keeps only results.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Meter(Protocol):
    """A quantity (rows, bytes) worked through."""

    def advance(self, amount: int) -> None:
        """`amount` more done."""

    def update(self, done: int, total: int | None = None) -> None:
        """`done` so far, of `total` when that is known."""


class Reporter(Protocol):
    """Where a flow reports progress. A stage inside another is a part of it: shown, but
    not counted towards the total."""

    def expect(self, stages: int) -> None:
        """`stages` more stages are planned: they count towards the total shown."""

    def stage(self, description: str) -> AbstractContextManager[None]:
        """One step of the work, shown while it runs and timed when it ends."""

    def meter(
        self, description: str, total: int | None = None, unit: str = "rows"
    ) -> AbstractContextManager[Meter]:
        """A quantity in `unit` ("rows" or "bytes") worked through while the block runs."""


class _Unmeasured:
    def advance(self, amount: int) -> None:
        pass

    def update(self, done: int, total: int | None = None) -> None:
        pass


class Quiet:
    """Reports nothing: the default, and what --json asks for."""

    def expect(self, stages: int) -> None:
        pass

    @contextmanager
    def stage(self, description: str) -> Iterator[None]:
        yield

    @contextmanager
    def meter(
        self, description: str, total: int | None = None, unit: str = "rows"
    ) -> Iterator[Meter]:
        yield _Unmeasured()


QUIET: Reporter = Quiet()
