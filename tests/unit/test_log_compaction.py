"""Compacting a closed day's prediction logs into Parquet: the same rows read back, a file
with broken lines kept as it is, and no row counted twice when a compaction stopped half-way."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from mlops.adapters.prediction_logs import compact, read_window
from mlops.core.prediction_log import Protection, closed
from mlops.serving.prediction_logs import PredictionLog

WHEN = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)
ROWS = [{"age": 61, "sex": "F", "bmi": 31.2}, {"age": 45, "sex": "M", "bmi": None}]
ANSWERS = [{"prediction": 1, "probability": 0.8}, {"prediction": 0, "probability": 0.1}]
DAY = "production/clinic/date=2026-03-01"


def logged(folder: Path) -> None:
    """Two versions' lines on 1 March, and one request on 2 March."""
    for version, requests in (("4", 3), ("5", 1)):
        writer = PredictionLog(folder, "production", "clinic", version, Protection())
        for n in range(requests):
            writer.write(f"{version}-{n}", 1.5, ROWS, ANSWERS, WHEN + timedelta(minutes=n))
        writer.write("next-day", 2.0, ROWS[:1], ANSWERS[:1], WHEN + timedelta(days=1))
        writer.close()


def rows(folder: Path, version: str | None = "4") -> list[tuple[object, ...]]:
    window = read_window(folder, "production", "clinic", version, WHEN - timedelta(days=1),
                         WHEN + timedelta(days=2))  # fmt: skip
    table = window.table.sort_by([("request_id", "ascending"), ("row", "ascending")])
    return [tuple(sorted(record.items())) for record in table.to_pylist()]


def test_a_day_closes_an_hour_after_midnight_utc() -> None:
    assert not closed(date(2026, 3, 1), datetime(2026, 3, 2, 0, 59, tzinfo=UTC))
    assert closed(date(2026, 3, 1), datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    assert not closed(date(2026, 3, 2), datetime(2026, 3, 2, 23, 0, tzinfo=UTC))


def test_a_compacted_day_reads_back_the_same_rows(tmp_path: Path) -> None:
    """Every column of every row (nulls included) comes back from Parquet as it was logged;
    the JSON lines are gone, the Parquet file keeps their permissions and is smaller."""
    logged(tmp_path)
    before = rows(tmp_path)
    assert len(before) == 7  # v4: 3 requests of 2 rows on 1 March, 1 row on 2 March
    sources = sorted((tmp_path / DAY).glob("v*.jsonl"))
    modes = [path.stat().st_mode & 0o777 for path in sources]
    done = [compact(path) for path in sources]
    assert [(d.rows, d.kept) for d in done] == [(6, None), (2, None)]
    assert all(d.compacted_bytes > 0 and d.bytes > 0 for d in done)
    assert not list((tmp_path / DAY).glob("*.jsonl"))
    assert not list((tmp_path / DAY).glob(".*"))  # nothing left aside
    targets = sorted((tmp_path / DAY).glob("v*.parquet"))
    assert [path.stat().st_mode & 0o777 for path in targets] == modes
    assert rows(tmp_path) == before
    assert len(rows(tmp_path, None)) == 7 + 3  # version 5's lines are still there


def test_a_file_with_broken_lines_stays_as_json_lines(tmp_path: Path) -> None:
    """Readers keep naming the broken line; compaction writes nothing beside the file."""
    logged(tmp_path)
    (source,) = (tmp_path / DAY).glob("v4-*.jsonl")
    with source.open("a") as handle:
        handle.write('{"time": "2026-03-01T13:00:00.000Z", "cut\n')
    done = compact(source)
    assert done.kept == "it holds lines that are not log records" and done.rows == 0
    assert source.exists()
    assert sorted(p.suffix for p in (tmp_path / DAY).iterdir()) == [".jsonl", ".jsonl"]
    window = read_window(tmp_path, "production", "clinic", "4", WHEN, WHEN + timedelta(hours=2))
    assert window.rows == 6 and window.skipped == 1


def test_a_compaction_cut_short_never_counts_a_row_twice(tmp_path: Path) -> None:
    """With both the Parquet file and its source present (stopped before the source was
    removed), readers take the Parquet file, and the next compaction removes the source."""
    logged(tmp_path)
    before = rows(tmp_path)
    (source,) = (tmp_path / DAY).glob("v4-*.jsonl")
    kept = tmp_path / "copy.jsonl"
    shutil.copy2(source, kept)
    compact(source)
    shutil.copy2(kept, source)
    assert rows(tmp_path) == before
    again = compact(source)
    assert (again.rows, again.kept, source.exists()) == (6, None, False)
    assert rows(tmp_path) == before


def test_an_unreadable_compacted_file_is_counted_and_named(tmp_path: Path) -> None:
    """Alone, it is a skipped file; beside its source (which compaction then keeps), the
    source's rows are read instead."""
    logged(tmp_path)
    bad = tmp_path / DAY / "v4-damaged.parquet"
    bad.write_bytes(b"PAR1 not really")
    window = read_window(tmp_path, "production", "clinic", "4", WHEN, WHEN + timedelta(hours=2))
    assert window.rows == 6 and window.skipped == 1
    assert window.skipped_lines[0].startswith(f"{bad}: not a readable Parquet file")
    (source,) = (tmp_path / DAY).glob("v4-*.jsonl")
    bad.unlink()
    twin = source.with_suffix(".parquet")
    twin.write_bytes(b"PAR1 damaged")
    window = read_window(tmp_path, "production", "clinic", "4", WHEN, WHEN + timedelta(hours=2))
    assert (window.rows, window.skipped) == (6, 0)
    kept = compact(source)
    assert kept.kept == f"{twin.name} exists but cannot be read" and source.exists()
