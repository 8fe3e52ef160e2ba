"""Ending a command-line process without Python's teardown of every module it loaded.

A command that used MLflow holds some 3,000 modules, and the interpreter's final teardown of
them took 0.9 s after every such command on our 2-core machines; a DVC process spends 0.2 s
the same way. Nothing in that teardown is needed once the process is ending: threads have
been joined, exit handlers have run and the output is flushed. So those steps happen, in
Python's own order, and then the process ends at once.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn


def run_and_exit(main: Callable[[], int]) -> NoReturn:
    """Run `main` and exit with its code, skipping only the module teardown.

    The finishing handler is registered before `main` runs, so Python runs it after the
    non-daemon threads are joined and after every exit handler registered while `main` ran
    (MLflow's, multiprocessing's...). Logging's own handler, registered when logging was
    first imported, may come before it, so logging is shut down here. If `main` raises, the
    process ends the ordinary way.
    """
    code: list[int] = []

    def finish() -> None:
        if not code:
            return
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to add
                stream.flush()
        os._exit(code[0])

    atexit.register(finish)
    code.append(main())
    sys.exit(code[0])
