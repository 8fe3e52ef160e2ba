"""What a training run ran on: the language runtime's version and its package lock."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from dataclasses import dataclass

from mlops.adapters.runtimes import runtime_command

_PROBES = {
    "r": (["--version"], ["-e", "sessionInfo()"]),
    "julia": (["--version"], ["-e", "using InteractiveUtils; versioninfo()"]),
}


@dataclass(frozen=True)
class Environment:
    runtime: str  # e.g. "python 3.11.7", "R scripting front-end version 4.2.2"
    lock: str  # pip freeze, R sessionInfo() or Julia versioninfo()


def describe(language: str) -> Environment:
    python = Environment(f"python {platform.python_version()}", _python_lock())
    if language == "python":
        return python
    version_args, lock_args = _PROBES[language]
    command = runtime_command(language)
    version = _output([*command, *version_args]).strip().splitlines()
    lock = _output([*command, *lock_args])
    # R and Julia models still run inside the Python platform: record both.
    return Environment(
        version[0] if version else language,
        f"{lock.rstrip()}\n\n# platform environment ({python.runtime})\n{python.lock}",
    )


def _python_lock() -> str:
    """`name==version` of every installed distribution, like pip freeze. Only the two header
    fields are read: parsing each METADATA file as e-mail costs seconds in a large venv."""
    found = set()
    for dist in importlib.metadata.distributions():
        name, version = _name_version(dist.read_text("METADATA") or dist.read_text("PKG-INFO"))
        if name and version:
            found.add(f"{name}=={version}")
    return "\n".join(sorted(found, key=str.lower)) + "\n"


def _name_version(metadata: str | None) -> tuple[str | None, str | None]:
    name = version = None
    for line in (metadata or "").splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
    return name, version


def _output(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return done.stdout + done.stderr
