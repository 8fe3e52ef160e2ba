"""Diagnostics render the same everywhere: terminal lines, JSON and GitHub annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.adapters import gha
from mlops.core.diagnostics import Diagnostic, Position, format_json_path, sorted_diagnostics
from mlops.errors import UsageError


def test_json_paths_quote_keys_that_are_not_names() -> None:
    """Plain keys use dots, list items brackets, other keys quoted brackets."""
    assert format_json_path(()) == "$"
    assert format_json_path(("data", "features", 3, "name")) == "$.data.features[3].name"
    assert format_json_path(("versions", "1.0", 'a"b')) == '$.versions["1.0"]["a\\"b"]'


def test_render_and_order() -> None:
    """Lines read `file:line:col: $.path: message`; reports sort by file then position."""
    later = Diagnostic("b.yaml", ("x",), "late", Position(9, 1))
    early = Diagnostic("a.yaml", ("y",), "early", Position(2, 5), "warning")
    nowhere = Diagnostic("a.yaml", (), "missing file")
    assert [d.render() for d in sorted_diagnostics([later, early, nowhere, early])] == [
        "a.yaml: $: missing file",
        "a.yaml:2:5: $.y: warning: early",
        "b.yaml:9:1: $.x: late",
    ]


def test_annotations_escape_data_and_properties() -> None:
    """Workflow commands escape %, newlines, and ':' ',' in properties; no empty properties."""
    diagnostic = Diagnostic("models/a,b/model.yaml", ("name",), "50% bad\nvalue", Position(3, 7))
    assert gha.annotation(diagnostic, title="mlops: validate") == (
        "::error file=models/a%2Cb/model.yaml,title=mlops%3A validate,line=3,col=7"
        "::$.name: 50%25 bad%0Avalue"
    )
    assert gha.annotation(Diagnostic("f", (), "m", None, "warning"), title="t") == (
        "::warning file=f,title=t::$: m"
    )


def test_notices_and_errors_without_a_file_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """A run-level notice or error is one escaped workflow command on stderr (stdout may be
    JSON)."""
    gha.notice("m: no production\nversion", title="mlops: score")
    gha.error("50% failed")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "::notice title=mlops%3A score::m: no production%0Aversion",
        "::error title=mlops::50%25 failed",
    ]


def test_step_outputs_and_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs go to $GITHUB_OUTPUT (multi-line safe); the summary appends Markdown."""
    output, summary = tmp_path / "out", tmp_path / "summary"
    output.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    gha.set_output("models", "a\nb")
    gha.append_summary("# Plan")
    gha.append_summary("| a |")
    lines = output.read_text().splitlines()
    assert lines[0].startswith("models<<") and lines[1:3] == ["a", "b"] and lines[3] == lines[0][8:]
    assert summary.read_text() == "# Plan\n| a |\n"
    monkeypatch.delenv("GITHUB_OUTPUT")
    with pytest.raises(UsageError, match="step outputs need GITHUB_OUTPUT"):
        gha.set_output("x", "y")
