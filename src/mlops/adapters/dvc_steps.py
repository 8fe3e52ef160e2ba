"""Run DVC commands one after another in one process: `python -m mlops.adapters.dvc_steps`.

Each argument is one DVC command line as a JSON list, e.g. '["repro", "models/x/dvc.yaml"]'.
The first runs at once. Before each later one the process prints `PROMPT` and the command's
name on a line of its own and waits for a line on stdin: `go` runs it, anything else (or the
end of stdin) ends the process with exit code 0 and runs nothing more. The process exits
with the first non-zero exit code.

Why one process: starting DVC costs about a second of imports. `mlops train` reproduces a
pipeline and then, once it knows a version will be registered, pushes its data; the second
command here costs a quarter of a second instead of another start.
"""

from __future__ import annotations

import json
import sys

PROMPT = "::mlops-dvc-next::"


def steps(argv: list[str]) -> list[list[str]]:
    """The command lines given, each a JSON list of strings; SystemExit otherwise."""
    try:
        parsed = [json.loads(arg) for arg in argv]
    except ValueError:
        parsed = []
    if not parsed or not all(isinstance(s, list) and all(isinstance(a, str) for a in s)
                             for s in parsed):  # fmt: skip
        raise SystemExit('usage: dvc_steps \'["dvc", "args"]\'...')
    return parsed


def main() -> int:
    from dvc.cli import main as dvc_main

    for number, args in enumerate(steps(sys.argv[1:])):
        if number:
            print(f"{PROMPT}{args[0]}", flush=True)
            if sys.stdin.readline().strip() != "go":
                return 0
        code = dvc_main(args)
        if code != 0:
            return int(code)
    return 0


if __name__ == "__main__":
    from mlops.exiting import run_and_exit

    run_and_exit(main)
