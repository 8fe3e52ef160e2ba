"""GitHub Actions: annotations, outputs and the job summary.

Annotation commands are formatted here rather than through actions-toolkit, whose `error()`
emits empty properties (`endLine=,col=`) and does not escape property values.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlops.core.diagnostics import Diagnostic
from mlops.errors import UsageError


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(diagnostic: Diagnostic, *, title: str) -> str:
    """The `::error file=...::message` workflow command for one diagnostic."""
    props = {"file": diagnostic.file, "title": title}
    if diagnostic.position is not None:
        props["line"] = str(diagnostic.position.line)
        props["col"] = str(diagnostic.position.column)
    rendered = ",".join(f"{k}={_escape_property(v)}" for k, v in props.items())
    message = f"{diagnostic.json_path}: {diagnostic.message}"
    return f"::{diagnostic.severity} {rendered}::{_escape_data(message)}"


def annotate(diagnostic: Diagnostic, *, title: str, stderr: bool = False) -> None:
    """Print the annotation; the Actions runner reads workflow commands on both streams."""
    (sys.stderr if stderr else sys.stdout).write(annotation(diagnostic, title=title) + "\n")


def error(message: str, *, title: str = "mlops") -> None:
    """An `::error` annotation with no file, on stderr: stdout may be --json output, and the
    runner reads workflow commands on both streams."""
    _command("error", message, title)


def notice(message: str, *, title: str = "mlops") -> None:
    """A `::notice` annotation with no file (shown on the run's page), on stderr."""
    _command("notice", message, title)


def warning(message: str, *, title: str = "mlops") -> None:
    """A `::warning` annotation with no file, on stderr."""
    _command("warning", message, title)


def _command(kind: str, message: str, title: str) -> None:
    sys.stderr.write(f"::{kind} title={_escape_property(title)}::{_escape_data(message)}\n")


def set_output(name: str, value: str) -> None:
    """Write a step output (multi-line safe) to $GITHUB_OUTPUT."""
    from actions_toolkit import core

    if not os.environ.get("GITHUB_OUTPUT"):
        raise UsageError(
            "step outputs need GITHUB_OUTPUT, which GitHub Actions sets in a workflow step",
            hint="drop --github-output outside a workflow, or set GITHUB_OUTPUT to a file",
        )
    core.set_output(name, value)


def append_summary(markdown: str) -> None:
    """Append Markdown to the job summary ($GITHUB_STEP_SUMMARY), when there is one."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(markdown.rstrip("\n") + "\n")
