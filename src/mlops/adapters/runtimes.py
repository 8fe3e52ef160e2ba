"""Language runtimes: which program runs a model's scripts, and whether it is installed.

Kept apart from the workers (which import MLflow) so a quick check stays quick.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from mlops.errors import MlopsError


class RuntimeMissing(MlopsError):
    """The program that runs a model's language is not installed."""


@dataclass(frozen=True)
class Runtime:
    command: tuple[str, ...]
    env_var: str  # a command line that replaces `command`


RUNTIMES: dict[str, Runtime] = {
    "python": Runtime((sys.executable,), "MLOPS_PYTHON"),
    "r": Runtime(("Rscript",), "MLOPS_RSCRIPT"),
    "julia": Runtime(("julia",), "MLOPS_JULIA"),
}


def runtime_command(language: str) -> list[str]:
    """The command that runs a script in `language`, honouring its MLOPS_* override."""
    if language not in RUNTIMES:
        raise RuntimeMissing(f"unknown model language '{language}' (known: {', '.join(RUNTIMES)})")
    runtime = RUNTIMES[language]
    override = os.environ.get(runtime.env_var, "").strip()
    return shlex.split(override) if override else list(runtime.command)


def _program(command: list[str]) -> str:
    """The program a command runs, looking through `env [NAME=value ...] program`."""
    words = command[1:] if command and Path(command[0]).name == "env" else command
    return next((w for w in words if "=" not in w and not w.startswith("-")), "")


def check_runtime(language: str) -> list[str]:
    """The runtime command for `language`; raises RuntimeMissing when its program is absent."""
    command = runtime_command(language)
    program = _program(command)
    if not program or shutil.which(program) is None:
        raise RuntimeMissing(
            f"cannot run {language} models: '{program}' is not installed or not on PATH",
            hint=f"install it with scripts/bootstrap, or set {RUNTIMES[language].env_var}"
            " to the command that runs it",
        )
    return command
