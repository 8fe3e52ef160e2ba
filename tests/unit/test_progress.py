"""Progress of long commands: named stages and counted quantities on stderr, one line each
when done, nothing with --json, and no redrawing where stderr is not a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mlops.core.progress import QUIET
from mlops.output import StageReporter, progress


def lines(buffer: io.StringIO) -> list[str]:
    """The lines written, each without its trailing time (never asserted on)."""
    return [line.rpartition(" (")[0] for line in buffer.getvalue().splitlines()]


def piped() -> tuple[StageReporter, io.StringIO]:
    buffer = io.StringIO()
    return StageReporter(Console(file=buffer, force_terminal=False, width=160)), buffer


def test_it_numbers_each_planned_stage_as_it_ends() -> None:
    """Planned stages count towards the total; a stage inside another is shown, indented,
    and not counted; a total that grows is the larger one."""
    reporter, buffer = piped()
    with reporter:
        reporter.expect(2)
        with (
            reporter.stage("production: prepare iris version 2"),
            reporter.stage("iris 2: bentoml build"),
        ):
            pass
        with reporter.stage("production: start iris version 2"):
            pass
        reporter.expect(1)
        with reporter.stage("production: stop iris-1"):
            pass
    assert lines(buffer) == [
        "  ✓ iris 2: bentoml build",
        "✓ [1/2] production: prepare iris version 2",
        "✓ [2/2] production: start iris version 2",
        "✓ [3/3] production: stop iris-1",
    ]


def test_stages_without_a_plan_are_not_numbered() -> None:
    reporter, buffer = piped()
    with reporter, reporter.stage("iris: DVC stage train"):
        pass
    assert lines(buffer) == ["✓ iris: DVC stage train"]


def test_a_failed_stage_is_marked_and_its_error_goes_on() -> None:
    reporter, buffer = piped()
    with pytest.raises(ValueError, match="boom"), reporter, reporter.stage("smoke-check iris"):
        raise ValueError("boom")
    assert lines(buffer) == ["✗ smoke-check iris"]


def test_off_a_terminal_a_meter_writes_one_line_however_often_it_moves() -> None:
    """CI logs get no redraws: a thousand updates leave one line and no control codes."""
    reporter, buffer = piped()
    with reporter, reporter.meter("backing up", 4_000_000, unit="bytes") as done:
        for _ in range(1000):
            done.advance(4000)
    assert lines(buffer) == ["✓ backing up: 4.0 MB of 4.0 MB"]
    assert "\x1b" not in buffer.getvalue() and "\r" not in buffer.getvalue()


def test_a_meter_counts_rows_it_is_told_of() -> None:
    reporter, buffer = piped()
    with reporter, reporter.meter("scoring") as rows:
        rows.update(500, None)
        rows.update(1200, 1200)
    assert lines(buffer) == ["✓ scoring: 1,200 of 1,200 rows"]


def test_on_a_terminal_the_live_display_is_cleared_and_finished_stages_stay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A terminal that can redraw (not TERM=dumb, as CI runners set) gets the live display,
    and each finished stage stays as a line."""
    monkeypatch.setenv("TERM", "xterm-256color")
    buffer = io.StringIO()
    with StageReporter(Console(file=buffer, force_terminal=True, width=100)) as reporter:
        reporter.expect(1)
        with reporter.stage("staging: health-check iris version 2"):
            pass
    text = buffer.getvalue()
    assert "\x1b" in text  # drawn live
    assert "✓ [1/1] staging: health-check iris version 2" in text


def test_progress_goes_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    """stdout carries tables and --json; progress never touches it."""
    with progress() as reporter:
        reporter.expect(1)
        with reporter.stage("MLflow: read the aliases"):
            pass
        with reporter.meter("scoring") as rows:
            rows.update(10, 10)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "✓ [1/1] MLflow: read the aliases" in captured.err
    assert "✓ scoring: 10 of 10 rows" in captured.err


def test_nothing_is_shown_when_it_is_off(capsys: pytest.CaptureFixture[str]) -> None:
    """--json turns progress off: neither stream gets a byte, and the work still runs."""
    ran = []
    with progress(False) as reporter:
        reporter.expect(2)
        with reporter.stage("production: start iris version 2"):
            ran.append("stage")
        with reporter.meter("restoring", 10, unit="bytes") as done:
            done.advance(10)
    assert ran == ["stage"] and capsys.readouterr() == ("", "")


def test_the_default_reporter_is_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    """Flows called without a reporter (other flows, scripts) print nothing."""
    QUIET.expect(3)
    with QUIET.stage("anything"), QUIET.meter("rows", 5) as rows:
        rows.update(5, 5)
        rows.advance(1)
    assert capsys.readouterr() == ("", "")
