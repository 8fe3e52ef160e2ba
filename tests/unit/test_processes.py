"""Processes known by identity, (pid, start time): a pid another process holds by now is
never taken for the recorded one, and never signalled."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.adapters import processes


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """`sleep 60` in its own session (its own process group); killed afterwards."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def _owner(process: subprocess.Popen[bytes]) -> processes.Identity:
    owner = processes.identity(process.pid)
    assert owner is not None
    return owner


def test_identity_is_the_pid_and_the_start_time_the_kernel_records(tmp_path: Path) -> None:
    """It reads the start time (field 22 of /proc/<pid>/stat) even when the command name
    looks like more fields: "x) Z 1 (y" is a live process, not a zombie."""
    text = Path("/proc/self/stat").read_text()
    start = int(text.rsplit(")", 1)[1].split()[19])
    assert processes.identity(os.getpid()) == (os.getpid(), start)
    odd = tmp_path / "x) Z 1 (y"
    odd.symlink_to(shutil.which("sleep") or "/bin/sleep")
    process = subprocess.Popen([odd, "60"])
    try:
        deadline = time.monotonic() + 10
        while "x) Z 1 (y" not in Path(f"/proc/{process.pid}/stat").read_text():
            assert time.monotonic() < deadline, "the command never ran"
            time.sleep(0.02)
        owner = _owner(process)
        assert owner[0] == process.pid and owner[1] >= start
        assert processes.running(owner)
    finally:
        process.kill()
        process.wait()


def test_an_exited_process_has_no_identity_and_only_its_own_identity_reaps_it() -> None:
    """A zombie is not running; reaping with another start time leaves it, with its own
    start time collects it, and a pid nobody holds has no identity."""
    process = subprocess.Popen(["sleep", "0.2"])
    owner = _owner(process)
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # exited, not collected
    assert processes.identity(process.pid) is None
    assert not processes.running(owner)
    processes.reap((owner[0], owner[1] + 1))
    assert Path(f"/proc/{process.pid}").exists()
    processes.reap(owner)
    assert not Path(f"/proc/{process.pid}").exists()
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    assert processes.identity(pid_max) is None
    assert not processes.running(None)


def test_a_pid_with_another_start_time_is_never_signalled(
    sleeper: subprocess.Popen[bytes],
) -> None:
    """Neither `signal_process` nor `stop_group` signals a live pid whose start time is not
    the recorded one; with the right one, `stop_group` ends the process."""
    owner = _owner(sleeper)
    recycled = (owner[0], owner[1] - 1)
    assert not processes.running(recycled)
    assert processes.signal_process(recycled, signal.SIGTERM) is False
    assert processes.stop_group(recycled, timeout=1) is False
    assert not processes.wait_exit(owner, timeout=0.3)
    assert sleeper.poll() is None
    assert processes.stop_group(owner, timeout=10) is True
    assert not processes.running(owner)
    assert processes.stop_group(owner, timeout=1) is False  # gone: nothing to signal


def test_stop_group_kills_what_ignores_sigterm_after_the_timeout() -> None:
    """A group that ignores SIGTERM, leader and child alike, is SIGKILLed after the timeout."""
    leader = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 60 & wait"],
                              start_new_session=True)  # fmt: skip
    try:
        owner = _owner(leader)
        deadline = time.monotonic() + 10
        while not (forked := processes.children(leader.pid)):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        began = time.monotonic()
        assert processes.stop_group(owner, timeout=0.5) is True
        assert time.monotonic() - began >= 0.5
        assert not processes.running(owner)
        assert processes.wait_exit(next(iter(forked)), timeout=5)
    finally:
        if leader.poll() is None:
            leader.kill()
        leader.wait()


def test_signal_process_signals_the_process_it_names(sleeper: subprocess.Popen[bytes]) -> None:
    """It sends the signal while the identity matches, and says so."""
    owner = _owner(sleeper)
    assert processes.signal_process(owner, signal.SIGTERM) is True
    assert processes.wait_exit(owner, timeout=10)
    assert processes.signal_process(owner, signal.SIGTERM) is False
