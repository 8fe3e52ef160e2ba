"""Servers that tests and benchmarks start as children in their own session, and stopping
each with everything it forked."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any


def stop_group(process: subprocess.Popen[Any], timeout: float) -> None:
    """Stop a server started with `start_new_session=True` and everything it forked:
    SIGTERM to its own process group, SIGKILL after `timeout` seconds.

    `process` is our own child and not yet collected while it runs, so its pid, the group's
    id, cannot have passed to another process.
    """
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
