"""Prediction logs: one line per row, personal data hashed or left out, day partitions,
malformed lines explained, and retention that purges whole days only."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy
import pytest

from mlops.core.prediction_log import (
    Partition,
    Protection,
    Served,
    expired,
    lines,
    parse_line,
    partition_day,
    pii_fields,
    retention_days,
)
from mlops.serving.prediction_logs import Answered, PredictionLog

WHEN = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
SERVED = Served(WHEN, "production", "clinic", "4", "req-1", 12.34567)
ROWS = [{"age": 61, "sex": "F", "bmi": 31.2}, {"age": 45, "sex": "M", "bmi": 24.0}]
ANSWERS = [{"prediction": 1, "probability": 0.8}, {"prediction": 0, "probability": 0.1}]


def test_each_row_is_one_line_with_the_request_and_its_answer() -> None:
    """Time in UTC with milliseconds, the request's id and latency, the row's index."""
    records = [json.loads(x) for x in lines(SERVED, ROWS, ANSWERS, Protection()).splitlines()]
    assert records[1] == {
        "time": "2026-03-01T12:30:05.123Z", "environment": "production", "model": "clinic",
        "version": "4", "request_id": "req-1", "row": 1, "latency_ms": 12.346,
        "features": {"age": 45, "sex": "M", "bmi": 24.0}, "prediction": 0, "probability": 0.1,
    }  # fmt: skip
    assert [parse_line(x) for x in lines(SERVED, ROWS, ANSWERS, Protection()).splitlines()] == [
        (r, None) for r in records
    ]


def test_numbers_the_json_standard_lacks_still_make_a_valid_line() -> None:
    """numpy scalars are written as numbers, NaN and infinity as null, and an integer beyond
    64 bits as its digits in a string: the line always parses and keeps the request's other fields."""
    row = {"age": numpy.int64(61), "bmi": float("nan"), "score": float("inf"), "id": 2**70}
    answer = {"prediction": numpy.int64(1), "probability": numpy.float32(0.5)}
    record, problem = parse_line(lines(SERVED, [row], [answer], Protection()).decode())
    assert problem is None and record is not None
    assert record["features"] == {"age": 61, "bmi": None, "score": None, "id": str(2**70)}
    assert (record["prediction"], record["probability"]) == (1, 0.5)


def test_personal_data_is_left_out_without_a_key() -> None:
    """Masked fields never appear, and the line says which were left out."""
    text = lines(SERVED, ROWS, ANSWERS, Protection(frozenset({"age", "sex"})))
    assert b"61" not in text and b'"F"' not in text
    first = json.loads(text.splitlines()[0])
    assert first["features"] == {"bmi": 31.2}
    assert first["masked"] == ["age", "sex"]


def test_personal_data_is_a_keyed_hash_with_a_key() -> None:
    """The same value gives the same text (joins and counts still work); another key gives
    another; the plain SHA-256 of the value (guessable for an age) is not what is written."""
    one = Protection(frozenset({"age"}), b"secret-1")
    other = Protection(frozenset({"age"}), b"secret-2")
    a = json.loads(lines(SERVED, ROWS[:1], ANSWERS[:1], one))["features"]["age"]
    again = json.loads(lines(SERVED, ROWS[:1], ANSWERS[:1], one))["features"]["age"]
    b = json.loads(lines(SERVED, ROWS[:1], ANSWERS[:1], other))["features"]["age"]
    assert a == again != b
    assert a.startswith("hmac-sha256:")
    assert hashlib.sha256(b"61").hexdigest()[:32] not in a
    assert "masked" not in json.loads(lines(SERVED, ROWS[:1], ANSWERS[:1], one))


def test_the_manifest_names_the_personal_data_and_how_long_logs_are_kept() -> None:
    manifest = {"compliance": {"pii": True, "pii_fields": ["age", "sex"], "retention_days": 365}}
    assert pii_fields(manifest) == {"age", "sex"}
    assert pii_fields({"compliance": {"pii": False, "pii_fields": ["age"]}}) == frozenset()
    assert retention_days(manifest) == 365
    assert retention_days({"compliance": {"retention_days": True}}) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"time": "t", "model": "m", "version": 4}', "field 'version' is missing or not a str"),
        ('{"time": "t", "model": "m", "version": "4", "request_id": "r", "row": true,'
         ' "features": {}}', "field 'row' is missing or not a int"),
        ('{"time": "t", "model": "m", "version": "4", "request_id": "r", "row": 0,'
         ' "features": {}}', "field 'prediction' is missing"),
    ],
)  # fmt: skip
def test_a_malformed_line_says_what_is_wrong(text: str, problem: str) -> None:
    record, why = parse_line(text)
    assert record is None
    assert why is not None and why.startswith(problem)


def test_retention_purges_whole_days_past_the_period_only() -> None:
    """Kept for 30 days on 2026-03-31: 2026-02-28 goes, 2026-03-01 (partly within) stays;
    a model no manifest names is reported and never purged by rule."""
    today = date(2026, 3, 31)
    parts = [Partition("production", "clinic", date(2026, 2, 28), 2, 100),
             Partition("production", "clinic", date(2026, 3, 1), 1, 50),
             Partition("staging", "gone", date(2020, 1, 1), 1, 10)]  # fmt: skip
    found = expired(parts, {"clinic": 30}, today)
    assert [(e.partition.model, e.partition.day, e.retention_days) for e in found] == [
        ("clinic", date(2026, 2, 28), 30), ("gone", date(2020, 1, 1), None)
    ]  # fmt: skip
    assert found[0].reason == "31 days old, kept for 30"


def test_partition_folders_are_read_back_as_days() -> None:
    assert partition_day("date=2026-03-01") == date(2026, 3, 1)
    assert partition_day("date=2026-02-30") is None
    assert partition_day("2026-03-01") is None


def test_a_process_writes_its_own_file_and_starts_a_new_day_at_midnight(tmp_path: Path) -> None:
    """Two writers (two workers) never share a file; a request after midnight UTC lands in
    the next day's partition; the folders are group-writable for the host's retention."""
    first = PredictionLog(tmp_path, "production", "clinic", "4", Protection())
    second = PredictionLog(tmp_path, "production", "clinic", "4", Protection())
    first.write("a", 1.0, ROWS[:1], ANSWERS[:1], WHEN)
    second.write("b", 1.0, ROWS[:1], ANSWERS[:1], WHEN)
    first.write("c", 1.0, ROWS, ANSWERS, datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC))
    first.close()
    second.close()
    day1 = tmp_path / "production/clinic/date=2026-03-01"
    day2 = tmp_path / "production/clinic/date=2026-03-02"
    assert len(list(day1.iterdir())) == 2
    (later,) = day2.iterdir()
    assert [json.loads(x)["request_id"] for x in later.read_text().splitlines()] == ["c", "c"]
    assert day2.stat().st_mode & 0o2070 == 0o2070


def test_requests_scored_together_are_appended_in_one_write_each_whole(tmp_path: Path) -> None:
    """A batch's requests land in order, each with its own id and latency, in one write; a
    batch of no request writes nothing, not even an empty file."""
    writer = PredictionLog(tmp_path, "production", "clinic", "4", Protection())
    writer.write_many([], WHEN)
    assert not (tmp_path / "production").exists()
    batch = [Answered("a", 2.0, ROWS, ANSWERS), Answered("b", 3.0, ROWS[:1], ANSWERS[:1])]
    writer.write_many(batch, WHEN)
    writer.close()
    (log,) = (tmp_path / "production/clinic/date=2026-03-01").iterdir()
    text = log.read_text()
    assert text.endswith("\n")
    records = [json.loads(x) for x in text.splitlines()]
    assert [(r["request_id"], r["row"], r["latency_ms"]) for r in records] == [
        ("a", 0, 2.0), ("a", 1, 2.0), ("b", 0, 3.0)
    ]  # fmt: skip
    assert [r["features"] for r in records] == [*ROWS, ROWS[0]]


def test_a_window_is_read_whole_where_it_can_and_line_by_line_where_it_must(tmp_path: Path) -> None:
    """A clean file is read by Arrow at once; a file with a broken line is read line by
    line, the line named; rows of another version or outside the window are not rows; a
    feature logged as text in one file and as a number in another is kept (as text)."""
    from datetime import timedelta

    from mlops.adapters.prediction_logs import read_window

    clean = PredictionLog(tmp_path, "production", "clinic", "4", Protection())
    clean.write("a", 1.0, ROWS, ANSWERS, WHEN)
    clean.write("old", 1.0, ROWS, ANSWERS, WHEN - timedelta(days=3))
    clean.close()
    other = PredictionLog(tmp_path, "production", "clinic", "5", Protection())
    other.write("b", 1.0, ROWS[:1], ANSWERS[:1], WHEN)
    other.close()
    day = tmp_path / "production/clinic/date=2026-03-01"
    broken = day / "v4-broken.jsonl"
    line = lines(SERVED, [{"age": "sixty", "sex": "F", "bmi": 30.0}], ANSWERS[:1], Protection())
    broken.write_bytes(line + b'{"time": "2026-03-01T12:00:00.000Z", "cut\n')
    window = read_window(tmp_path, "production", "clinic", "4", WHEN - timedelta(days=1),
                         WHEN + timedelta(minutes=1))  # fmt: skip
    assert window.files == 3
    assert window.rows == 3 and window.other_versions == 1
    assert window.skipped == 1 and window.skipped_lines[0].startswith(f"{broken}:2: not valid JSON")
    assert sorted(window.column("request_id")) == ["a", "a", "req-1"]
    found = sorted(zip(window.column("request_id"), window.column("features.age"),
                       window.column("prediction"), window.column("probability"), strict=True))  # fmt: skip
    assert found == [("a", "45", 0, 0.1), ("a", "61", 1, 0.8), ("req-1", "sixty", 1, 0.8)]


def test_held_lines_wait_for_the_flush_and_close_writes_them(tmp_path: Path) -> None:
    """With `flush_every`, lines are held (nothing written yet) until the log's own thread
    writes them, each day's to its own partition in one write; `close` writes what is held."""
    slow = PredictionLog(tmp_path / "slow", "production", "clinic", "4", Protection(),
                         flush_every=3600)  # fmt: skip
    slow.write_many([Answered("a", 2.0, ROWS, ANSWERS)], WHEN)
    slow.write_many([Answered("b", 1.0, ROWS[:1], ANSWERS[:1])], WHEN + timedelta(days=1))
    assert not (tmp_path / "slow").exists()
    slow.close()
    days = sorted((tmp_path / "slow/production/clinic").iterdir())
    assert [d.name for d in days] == ["date=2026-03-01", "date=2026-03-02"]
    assert [len(next(d.iterdir()).read_text().splitlines()) for d in days] == [2, 1]

    fast = PredictionLog(tmp_path / "fast", "production", "clinic", "4", Protection(),
                         flush_every=0.02)  # fmt: skip
    fast.write_many([Answered("c", 2.0, ROWS, ANSWERS)], WHEN)
    deadline = time.monotonic() + 10
    folder = tmp_path / "fast/production/clinic/date=2026-03-01"
    while not folder.exists() or not next(folder.iterdir()).read_text():
        assert time.monotonic() < deadline, "the held lines were never written"
        time.sleep(0.01)
    assert len(next(folder.iterdir()).read_text().splitlines()) == 2
    fast.close()
