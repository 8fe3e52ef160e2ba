"""The command line's contract: help, version, exit codes and the one error funnel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

import mlops


def test_help_lists_every_command(cli) -> None:
    """`mlops --help` lists the commands with a line each and exits 0."""
    result = cli("--help")
    assert result.code == 0
    for name in ("validate", "plan", "new", "list", "show"):
        assert f"  {name} " in result.out


def test_version(cli) -> None:
    """--version prints the package version."""
    result = cli("--version")
    assert result.code == 0 and result.out.strip() == f"mlops, version {mlops.__version__}"


def test_unknown_command_is_a_usage_error(cli) -> None:
    """Click's usage errors exit 2."""
    result = cli("frobnicate")
    assert result.code == 2 and "No such command 'frobnicate'" in result.err


def test_outside_a_repository(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no registry.yaml or models/ above, the error says how to point at one."""
    monkeypatch.chdir(tmp_path)
    result = cli("validate")
    assert result.code == 2
    assert result.err.splitlines() == [
        f"error: no model repository found at or above {tmp_path.resolve()}",
        "hint: run inside a repository with registry.yaml and models/, or pass --repo PATH",
    ]


def test_unexpected_errors_exit_2_with_a_hint(
    cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug becomes one line plus a --traceback hint; --traceback shows the stack."""

    def boom(root: Path) -> None:
        raise ValueError("kaboom")

    monkeypatch.setattr("mlops.commands.validate.check_repository", boom)
    result = cli("--repo", repo, "validate")
    assert result.code == 2
    assert result.err.splitlines() == [
        "error: unexpected ValueError: kaboom",
        "hint: re-run with `mlops --traceback ...` for details",
    ]
    detailed = cli("--traceback", "--repo", repo, "validate")
    assert detailed.code == 2
    assert "Traceback (most recent call last)" in detailed.err
    assert "hint:" not in detailed.err


def test_errors_become_annotations_in_actions(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under GitHub Actions the error line is also an ::error annotation, on stderr."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.chdir(tmp_path)
    result = cli("list")
    assert result.code == 2 and result.out == ""
    assert "::error title=mlops::no model repository found" in result.err


def test_json_output_stays_json_when_a_command_fails_in_actions(
    cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing command that printed --json leaves stdout parseable under Actions: its
    annotation goes to stderr."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for committed in ROOT.glob("models/*/*.json"):  # the metrics cards are rendered from
        shutil.copy2(committed, repo / committed.relative_to(ROOT))
    card = repo / "models/breast-cancer/MODEL_CARD.md"
    card.write_text(card.read_text() + "\nedited by hand\n")
    result = cli("--repo", repo, "card", "--all", "--check", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert {r["model"]: r["current"] for r in report}["breast-cancer"] is False
    assert "::error title=mlops::1 model card(s) out of date" in result.err


def test_traceback_is_the_parsed_option(cli, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--traceback` counts where the group parses it, not wherever the word appears: as a
    value of another option it shows no stack."""

    def boom(root: Path) -> None:
        raise ValueError("kaboom")

    monkeypatch.setattr("mlops.commands.validate.check_repository", boom)
    weird = repo / "--traceback"
    weird.mkdir()
    result = cli("--repo", weird, "validate")
    assert "Traceback (most recent call last)" not in result.err


def test_github_output_outside_actions_is_a_usage_error(
    cli, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan --github-output` without GITHUB_OUTPUT says what is missing, exit 2, no stack."""
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    result = cli("--repo", git_repo, "plan", "--base", "HEAD", "--github-output")
    assert result.code == 2
    assert "step outputs need GITHUB_OUTPUT" in result.err and "unexpected" not in result.err


def test_the_console_script_runs(repo: Path) -> None:
    """`python -m mlops` (the console script's entry) validates the example repository."""
    done = subprocess.run(
        [sys.executable, "-m", "mlops", "--repo", str(repo), "validate", "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert '"valid": true' in done.stdout


# A stand-in for `main`: it prints more than a pipe buffer holds, registers an exit handler
# and starts a thread that must finish, the way commands using MLflow or thread pools do.
ENTRY = """
import atexit, sys, threading, time
from pathlib import Path
from mlops import cli

def main():
    marker = Path(sys.argv[1])
    atexit.register(lambda: marker.write_text(marker.read_text() + "handler "))
    def late():
        time.sleep(0.3)
        marker.write_text(marker.read_text() + "thread ")
    threading.Thread(target=late).start()
    print("x" * 200_000)
    print("to stderr", file=sys.stderr)
    return 3

cli.main = main
cli.run()
"""


def test_the_console_script_exits_fully_before_skipping_teardown(tmp_path: Path) -> None:
    """The entry point skips only the module teardown: the command's exit code, all of its
    buffered output, its exit handlers and its running threads all still count."""
    marker = tmp_path / "marker"
    marker.write_text("")
    done = subprocess.run(
        [sys.executable, "-c", ENTRY, str(marker)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "x" * 200_000 + "\n"
    assert done.stderr == "to stderr\n"
    assert marker.read_text() == "thread handler "


def test_an_error_exit_code_survives_the_quick_exit(tmp_path: Path) -> None:
    """An error from a real command still exits non-zero with its one line on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "mlops", "--repo", str(tmp_path), "validate"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: no model repository found at or above")
