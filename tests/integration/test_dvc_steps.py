"""`python -m mlops.adapters.dvc_steps`: DVC commands in one process, later ones on request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlops.adapters.dvc_steps import PROMPT


def steps(
    folder: Path, *commands: list[str] | str, answer: str = ""
) -> subprocess.CompletedProcess:
    encoded = [c if isinstance(c, str) else json.dumps(c) for c in commands]
    return subprocess.run(
        [sys.executable, "-P", "-m", "mlops.adapters.dvc_steps", *encoded],
        cwd=folder, input=answer, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def config(folder: Path) -> str:
    return (folder / ".dvc" / "config").read_text()


def test_a_later_command_runs_when_told_to(tmp_path: Path) -> None:
    """The first command runs at once; the second after the prompt and a `go`."""
    done = steps(tmp_path, ["init", "--no-scm"], ["config", "core.autostage", "true"],
                 answer="go\n")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{PROMPT}config\n" in done.stdout
    assert "autostage = true" in config(tmp_path)


def test_a_later_command_is_skipped_unless_told_to(tmp_path: Path) -> None:
    """Any other answer, or none at all, ends the process with 0 and runs nothing more."""
    first = tmp_path / "first"
    first.mkdir()
    done = steps(first, ["init", "--no-scm"], ["config", "core.autostage", "true"],
                 answer="stop\n")  # fmt: skip
    assert done.returncode == 0 and f"{PROMPT}config" in done.stdout
    assert "autostage" not in config(first)
    second = tmp_path / "second"
    second.mkdir()
    done = steps(second, ["init", "--no-scm"], ["config", "core.autostage", "true"])
    assert done.returncode == 0 and "autostage" not in config(second)


def test_a_failing_command_ends_the_run_with_its_code(tmp_path: Path) -> None:
    """DVC's exit code is the process's, and no later command is offered."""
    done = steps(tmp_path, ["repro", "no-such/dvc.yaml"], ["init", "--no-scm"], answer="go\n")
    assert done.returncode != 0
    assert PROMPT not in done.stdout
    assert not (tmp_path / ".dvc").exists()


def test_arguments_that_are_not_command_lines_are_refused(tmp_path: Path) -> None:
    """Each argument must be a JSON list of strings: not bare words, not a JSON string."""
    for argument in ("repro", '"repro"', '["repro", 1]'):
        done = steps(tmp_path, argument)
        assert done.returncode == 1 and "usage: dvc_steps" in done.stderr, argument
        assert "Traceback" not in done.stderr
