"""The runbooks marked tested in docs/runbooks/README.md, run as written: every `$ ` line of
their `console` blocks, in order, against a scratch repository set up as the runbook's
situation, each command exiting 0; then what the runbook says shows that it worked.

A command runs as a person types it (`mlops` is `python -m mlops`, `git` and `dvc` the
programs), in the scratch repository; `<...>` placeholders are filled in from the situation.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from deploying import MODEL, require_nginx, served, teardown
from support import GIT_ENV, commit_all, git, make_repository, promoted_repository, run_cli

from mlops.adapters import probes

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)


def commands(runbook: str) -> list[str]:
    """The runbook's commands, in order: the `$ ` lines of its console blocks."""
    text = (RUNBOOKS / runbook).read_text()
    return [line[2:] for block in BLOCK.findall(text) for line in block.splitlines()
            if line.startswith("$ ")]  # fmt: skip


def run_runbook(root: Path, runbook: str, fill: Mapping[str, str] | None = None,
                only: int | None = None) -> list[str]:  # fmt: skip
    """Run the runbook's first `only` commands (all by default) in `root`; their outputs."""
    outputs = []
    env = {**os.environ, **GIT_ENV}
    for command in commands(runbook)[:only]:
        for name, value in (fill or {}).items():
            command = command.replace(f"<{name}>", value)
        assert "<" not in command, f"{runbook}: unfilled placeholder in {command!r}"
        argv = shlex.split(command)
        if argv[0] in ("mlops", "dvc"):
            argv = [sys.executable, "-m", argv[0], *argv[1:]]
        done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                              timeout=600, check=False)  # fmt: skip
        assert done.returncode == 0, (
            f"{runbook}: `{command}` exited {done.returncode}:\n"
            + (done.stdout + done.stderr)[-3000:]
        )
        outputs.append(done.stdout)
    return outputs


def test_every_runbook_is_listed_and_its_commands_are_real() -> None:
    """The index lists every runbook, and every `mlops` command in them is a real verb."""
    from mlops.cli import COMMANDS

    index = (RUNBOOKS / "README.md").read_text()
    books = sorted(p.name for p in RUNBOOKS.glob("*.md") if p.name != "README.md")
    assert len(books) == 8
    for book in books:
        assert f"({book})" in index, f"{book} is not in docs/runbooks/README.md"
        for command in commands(book):
            if command.startswith("mlops "):
                assert command.split()[1] in COMMANDS, f"{book}: {command}"
        assert "## How to tell it worked" in (RUNBOOKS / book).read_text(), book


def test_add_a_model(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo", (MODEL,))
    outputs = run_runbook(root, "add-a-model.md")
    assert "churn-propensity" in outputs[-1]  # `mlops list`
    owners = (root / ".github/CODEOWNERS").read_text()
    assert re.search(r"^/models/churn-propensity/\s+@acme/marketing-analytics$", owners, re.M)


def test_rotate_an_api_key(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo", (MODEL,))
    made = subprocess.run(
        [sys.executable, "-m", "mlops", "--repo", str(root), "keys", "create", "dashboard",
         "--model", MODEL, "--apply", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    old = json.loads(made.stdout)["id"]
    outputs = run_runbook(root, "rotate-an-api-key.md", {"old key id": old})
    listed = subprocess.run(
        [sys.executable, "-m", "mlops", "--repo", str(root), "keys", "list", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    states = {k["id"]: k["state"] for k in json.loads(listed)["keys"]}
    assert states.pop(old) == "revoked" and list(states.values()) == ["active"]
    assert "Key (shown once" in outputs[1]


def test_restore_from_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_BACKUP_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("MLOPS_DEPLOY_TARGET", "none")
    root = promoted_repository(tmp_path / "repo", MODEL)
    assert run_cli("--repo", root, "reconcile", "--apply") == 0  # aliases as registry.yaml says
    assert run_cli("--repo", root, "backup", "create") == 0
    (root / ".mlops" / "mlflow.db").unlink()
    shutil.rmtree(root / ".mlops" / "artifacts")
    outputs = run_runbook(root, "restore-from-backup.md")
    assert "set-alias" not in outputs[-1]  # the plan finds no alias to change
    assert run_cli("--repo", root, "predict", MODEL, "--version", "1", "--input",
                   str(root / f"models/{MODEL}/data/holdout.csv")) == 0  # fmt: skip


@pytest.mark.system
def test_roll_back(tmp_path: Path, cli) -> None:
    require_nginx()
    root = make_repository(tmp_path / "repo", (MODEL,))
    (root / "pyproject.toml").write_text(
        "[tool.mlops.deploy]\n"
        'target = "local"\n'
        f"ports = {{ staging = {probes.free_port()}, production = {probes.free_port()} }}\n"
        "check_timeout = 90\n"
    )
    try:
        for version, c in (("1", None), ("2", "c: 0.5")):
            if c is not None:
                params = root / "models" / MODEL / "params.yaml"
                params.write_text(params.read_text().replace("c: 1.0", c))
            assert run_cli("--repo", root, "train", MODEL) == 0
            for stage in ("staging", "production"):
                assert run_cli("--repo", root, "promote", MODEL, version, "--to", stage,
                               "--apply") == 0  # fmt: skip
            commit_all(root, f"promote {version}")
            assert run_cli("--repo", root, "reconcile", "--apply") == 0
        assert served(root, "production") == "2"
        outputs = run_runbook(root, "roll-back.md")
        plan = outputs[2]
        assert "route" in plan and "start" not in plan  # the standby takes the traffic back
        assert served(root, "production") == "1"
        changes = json.loads(cli("--repo", root, "history", MODEL, "--env", "production",
                                 "--json").out)["changes"]  # fmt: skip
        assert [(c["before"], c["after"]) for c in changes][-1] == ({"v2": 100}, {"v1": 100})
        assert git(root, "log", "-1", "--format=%s").startswith('Revert "promote 2"')
    finally:
        teardown(root)
