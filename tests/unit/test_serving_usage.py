"""The deploy host's ledger of stopped instances: appended whole, read back, broken lines
counted and skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlops.adapters.serving_usage import LEDGER, Ran, record, stopped


def test_stopped_instances_are_read_back_and_broken_lines_counted(tmp_path: Path) -> None:
    first = Ran("production", "cancer", "3", 1, datetime(2026, 1, 1, tzinfo=UTC),
                datetime(2026, 1, 1, 2, tzinfo=UTC), {"mlops.cost_centre": "clinical"})  # fmt: skip
    record(tmp_path, first)
    with (tmp_path / LEDGER).open("a") as ledger:
        ledger.write('{"environment": "staging", "cut\n\n')
    record(tmp_path, Ran("staging", "cancer", "4", 2, first.started, first.stopped, {}))
    found, broken = stopped(tmp_path)
    assert found[0] == first and [r.replica for r in found] == [1, 2]
    assert broken == 1
    assert stopped(tmp_path / "elsewhere") == ([], 0)
