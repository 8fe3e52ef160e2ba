"""Run one of this repository's workflow files under `act`, offline, next to the local GitHub
API server, inside a network namespace where only loopback exists: a fresh one (`unshare
-n`), or the one `namespace` enters (a command prefix, see netns.py), where the services the
workflow is given through repository variables and secrets already run.

`act` runs in host mode (no Docker) on the scratch repository: each job gets its own copy of
the working tree, removed when the job ends, as each GitHub job gets a fresh runner. The
server is started in the same namespace from a seed file and dumps its final state when
stopped. Commands in `after` run in the namespace once act has finished (to ask what is
serving, then stop it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from support import GIT_ENV

REPO = "acme/models"
TOKEN = "ghs_workflow_token"


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def run_act(
    root: Path, work: Path, port: int, event_name: str, workflow: str, event: dict[str, Any],
    *, job: str | None = None, after: tuple[list[str], ...] = (),
    namespace: Sequence[str] = (), variables: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str, dict[str, Any]]:  # fmt: skip
    """Run `workflow` for `event` (server seeded from work/seed.json); returns act's exit
    code, the whole log (act's, then the `after` commands') and the server's final state."""
    (work / "event.json").write_text(json.dumps(event))
    home = work / "home"
    home.mkdir()
    bin_dir = Path(sys.executable).parent
    path = f"{bin_dir}:{os.environ['PATH']}"
    env_args = [
        f"--env=GITHUB_API_URL=http://127.0.0.1:{port}/api/v3", f"--env=GITHUB_REPOSITORY={REPO}",
        "--env=MLOPS_GITHUB_THROTTLE=off", f"--env=PATH={path}", f"--env=HOME={home}",
        "--env=PYTHONDONTWRITEBYTECODE=1", *(f"--env={k}={v}" for k, v in (env or {}).items()),
    ]  # fmt: skip
    act = [
        str(bin_dir / "act"), event_name, "-W", workflow, *(["-j", job] if job else []),
        "-P", "ubuntu-latest=-self-hosted", "-e", str(work / "event.json"),
        "--action-offline-mode", "--no-cache-server", f"-s=GITHUB_TOKEN={TOKEN}", *env_args,
        *(f"--var={k}={v}" for k, v in (variables or {}).items()),
        *(f"-s={k}={v}" for k, v in (secrets or {}).items()),
    ]  # fmt: skip
    server = [
        sys.executable, "-m", "mlops.testing.github_server", "--port", str(port),
        "--seed", str(work / "seed.json"), "--dump", str(work / "state.json"),
    ]  # fmt: skip
    afterwards = "\n".join(" ".join(map(quote, command)) for command in after)
    script = f"""
ip link set lo up
{" ".join(map(quote, server))} > {work}/server.log 2>&1 &
server=$!
for _ in $(seq 100); do grep -q api/v3 {work}/server.log && break; sleep 0.1; done
{" ".join(map(quote, act))}
code=$?
{afterwards}
kill -TERM $server
wait $server
exit $code
"""
    env = {**os.environ, **GIT_ENV, "HOME": str(home), "PATH": path,
           "ACT_DISABLE_VERSION_CHECK": "1"}  # fmt: skip
    enter = list(namespace) or ["unshare", "-n"]
    done = subprocess.run(
        [*enter, "bash", "-c", script], cwd=root, env=env,
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    state = json.loads((work / "state.json").read_text())
    return done.returncode, done.stdout + done.stderr, state
