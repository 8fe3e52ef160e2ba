"""Processes on this machine known by identity, (pid, start time), and signalled only by it.

The kernel hands a freed pid to a later process. A pid read back from a file (nginx's pid
file, a serving instance's record) still names the process it was written for only while
/proc/<pid>/stat shows the start time recorded with it; a pid recorded without a start time
names nothing. Every signal to a recorded pid goes through `signal_process` or `stop_group`,
which check that identity first. (Between the check and the signal the pid would have to be
freed and handed out again: the kernel's pid wrap-around, not a pid reused days later.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

Identity = tuple[int, int]  # (pid, start time in clock ticks after boot)
KILL_GRACE = 5.0  # seconds a SIGKILLed group gets to be gone


def identity(pid: int) -> Identity | None:
    """(pid, start time) of a live process, or None: no such pid, or a zombie (it exited)."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return pid, int(fields[19])


def running(owner: Identity | None) -> bool:
    """Whether `owner` is still alive (its pid is not gone, dead or another process's)."""
    return owner is not None and identity(owner[0]) == owner


def children(parent: int) -> set[Identity]:
    """The live children of `parent`, by scanning /proc (the `children` file is optional)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] not in ("Z", "X") and int(fields[1]) == parent:
                found.add((int(entry.name), int(fields[19])))
    return found


def signal_process(owner: Identity, signum: int) -> bool:
    """Send `signum` to `owner` if it still runs; whether it was sent."""
    if not running(owner):
        return False
    try:
        os.kill(owner[0], signum)
    except ProcessLookupError:
        return False
    return True


def wait_exit(owner: Identity, timeout: float, poll: float = 0.05) -> bool:
    """Until `owner` has exited; False if it still runs after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while running(owner):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def stop_group(owner: Identity, timeout: float, poll: float = 0.1) -> bool:
    """SIGTERM to the process group `owner` leads, SIGKILL to what is left of it after
    `timeout` seconds, and return once it is gone (our own child reaped); False, and nothing
    signalled, when `owner` no longer runs.

    The group is `owner`'s from the moment `owner` is seen alive until its last member
    exits: the kernel gives no new process a pid that is still a group's id. So the SIGKILL
    goes out only while the leader's pid is `owner` or free (it exited, members are left),
    never when another process holds it. PermissionError when the group is not ours.
    """
    pgid = owner[0]
    if not running(owner):
        return False
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if not _wait_group(owner, timeout, poll) and identity(pgid) in (None, owner):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        _wait_group(owner, KILL_GRACE, poll)
    return True


def reap(owner: Identity) -> None:
    """Collect `owner`'s exit status if it is our own child and has exited, so it is not
    left a zombie. Any other process, or another holder of the pid, is left alone."""
    fields = _stat_fields(owner[0])
    if fields is not None and fields[0] == "Z" and int(fields[19]) == owner[1]:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(owner[0], os.WNOHANG)


def _wait_group(owner: Identity, timeout: float, poll: float) -> bool:
    """Until the group `owner` leads is gone (reaping `owner`); False after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        reap(owner)
        if not _group_alive(owner[0]):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, ...], None if no such pid."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return text[text.rindex(")") + 2 :].split()
