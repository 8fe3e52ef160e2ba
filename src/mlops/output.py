"""Terminal output: rich consoles, tables and JSON, created lazily to keep start-up fast."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


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
