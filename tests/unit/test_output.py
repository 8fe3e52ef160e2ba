"""Terminal output."""

from __future__ import annotations

import pytest

from mlops.output import print_table


def test_tables_show_brackets_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    """Cells such as `[tool.mlops.github]` or `github-actions[bot]` are not rich markup."""
    print_table("t [x]", ("a",), [("set it in [tool.mlops.github]",), ("github-actions[bot]",)])
    out = capsys.readouterr().out
    assert "[tool.mlops.github]" in out and "github-actions[bot]" in out and "t [x]" in out
