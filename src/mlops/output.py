"""Terminal output: rich consoles, tables, JSON and progress, created lazily to keep start-up
fast."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, Task, TaskID


@cache
def console(*, stderr: bool = False, markup: bool = True) -> Console:
    """A console for a command's output; `markup=False` for one that prints text from
    files, logs or services, where `[tool.mlops]` is text, not a style."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Rich assumes 80 columns when output is piped; logs and CI pages are wider than that.
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, width=width, markup=markup)


def print_json(data: Any) -> None:
    """Stable, machine-readable JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table of plain text: brackets in cells (`[tool.mlops]`, `bot[bot]`) are shown, not
    read as rich markup."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(escape(column), overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console().print(table)


@contextmanager
def progress(shown: bool = True) -> Iterator[StageReporter]:
    """The progress of a long command, on stderr (see `mlops.core.progress`); silent when
    not `shown` (--json). On a terminal a live display shows what runs now and the total;
    elsewhere (CI logs, pipes) nothing is redrawn. Either way each finished stage or meter
    leaves one line, so a log shows where the time went."""
    with StageReporter(console(stderr=True) if shown else None) as reporter:
        yield reporter


class StageReporter:
    """A `mlops.core.progress.Reporter` that writes to `out` (nothing when it is None)."""

    def __init__(self, out: Console | None) -> None:
        self.out = out
        self.total = self.done = self.depth = 0
        self.live: Progress | None = None  # on a terminal only
        self._overall: TaskID | None = None

    def __enter__(self) -> StageReporter:
        if self.out is not None and self.out.is_terminal:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.live = Progress(SpinnerColumn(), TextColumn("{task.description}"), _bar(),
                                 TextColumn("{task.fields[amount]}"), TimeElapsedColumn(),
                                 console=self.out, transient=True,
                                 redirect_stdout=False)  # fmt: skip
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def expect(self, stages: int) -> None:
        self.total += stages
        self._show_total()

    @contextmanager
    def stage(self, description: str) -> Iterator[None]:
        if self.out is None:
            yield
            return
        depth, started, mark = self.depth, time.perf_counter(), "✗"
        task = self._task("  " * depth + description, amount="")
        self.depth += 1
        try:
            yield
            mark = "✓"
        finally:
            self.depth = depth
            counter = ""
            if depth == 0:
                self.done += 1
                self._show_total()
                counter = f"[{self.done}/{max(self.done, self.total)}] " if self.total else ""
            self._finish(task, f"{'  ' * depth}{mark} {counter}{description}", started)

    @contextmanager
    def meter(
        self, description: str, total: int | None = None, unit: str = "rows"
    ) -> Iterator[Count]:
        count = Count(self, unit, total)
        if self.out is None:
            yield count
            return
        started, mark = time.perf_counter(), "✗"
        count.task = self._task("  " * self.depth + description, amount=count.amount(), bar=True,
                                total=total)  # fmt: skip
        try:
            yield count
            mark = "✓"
        finally:
            prefix = "  " * self.depth
            self._finish(count.task, f"{prefix}{mark} {description}: {count.amount()}", started)

    def _task(self, description: str, *, amount: str, bar: bool = False,
              total: int | None = None) -> TaskID | None:  # fmt: skip
        if self.live is None:
            return None
        return self.live.add_task(description, total=total, amount=amount, bar=bar)

    def _finish(self, task: TaskID | None, line: str, started: float) -> None:
        if self.live is not None and task is not None:
            self.live.remove_task(task)
        assert self.out is not None
        seconds = time.perf_counter() - started
        self.out.print(f"{line} ({seconds:.1f}s)", markup=False, highlight=False, soft_wrap=True)

    def _show_total(self) -> None:
        if self.live is None or not self.total:
            return
        shown = max(self.done, self.total)
        if self._overall is None:
            self._overall = self.live.add_task("", total=shown, amount="", bar=True)
        self.live.update(self._overall, completed=self.done, total=shown,
                         amount=f"{self.done}/{shown}")  # fmt: skip


class Count:
    """A `mlops.core.progress.Meter`: rows or bytes done, shown by its reporter."""

    def __init__(self, reporter: StageReporter, unit: str, total: int | None) -> None:
        self.reporter, self.unit, self.total = reporter, unit, total
        self.done = 0
        self.task: TaskID | None = None

    def advance(self, amount: int) -> None:
        self.update(self.done + amount, self.total)

    def update(self, done: int, total: int | None = None) -> None:
        self.done, self.total = done, total if total is not None else self.total
        live = self.reporter.live
        if live is not None and self.task is not None:
            live.update(self.task, completed=done, total=self.total, amount=self.amount())

    def amount(self) -> str:
        if self.unit == "bytes":
            from rich.filesize import decimal

            done = decimal(self.done)
            return f"{done} of {decimal(self.total)}" if self.total else done
        done = f"{self.done:,}"
        return f"{done} of {self.total:,} {self.unit}" if self.total else f"{done} {self.unit}"


def _bar() -> ProgressColumn:
    """A bar for the total and for meters; stages show none."""
    from rich.progress import BarColumn
    from rich.text import Text

    class Bar(BarColumn):
        def render(self, task: Task) -> Any:
            return super().render(task) if task.fields.get("bar") else Text("")

    return Bar()
