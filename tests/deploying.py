"""Helpers of the deployment tests: what they need from the machine, what the GitHub server
that records deployments (the `deploy_gh` fixture) holds, and what an environment serves."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import git, require_system

from mlops.adapters import probes
from mlops.adapters.settings import load_settings
from mlops.flows.rollout import environment_url, smoke_row, stop_all, trust
from mlops.testing.github_server import GitHubServer

MODEL = "breast-cancer"
REPO = "acme/models"
BOT = "ghs_bot"


def require_nginx() -> None:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    require_system("nginx", found is not None)


def require_engine() -> None:
    """The Docker engine answers."""
    from mlops.adapters import containers

    try:
        containers.engine()
    except containers.EngineUnavailable:
        require_system("the Docker engine", False, "run scripts/start-docker")


def require_docker_image(image: str) -> None:
    """The Docker engine answers and has `image` (a base scripts/build-base-images makes)."""
    from mlops.adapters import images

    require_engine()
    present = images.image_digest(image) is not None
    require_system(f"the base image {image}", present, "run scripts/build-base-images")


def reconcile(
    cli: Any, root: Path, *args: str, gh: GitHubServer | None = None, code: int = 0
) -> dict[str, Any]:
    """`mlops reconcile --json --apply ARGS`, its exit code checked; the JSON it printed."""
    if gh is not None:  # a deployment's ref must be a commit the server knows
        gh.add_commit(REPO, git(root, "rev-parse", "HEAD"), branch="main")
    result = cli("--repo", root, "reconcile", "--json", "--apply", *args)
    assert result.code == code, result.err
    return dict(json.loads(result.out))


def router_call(
    root: Path, env: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """`probes.call` of `path` on the environment's router, over HTTPS verified with the
    deploy folder's CA, as a client calls it."""
    settings = load_settings(root)
    return probes.call(f"{environment_url(settings, env)}{path}", body, headers,
                       context=trust(settings))  # fmt: skip


def router_connection(root: Path, env: str, timeout: float = 30) -> http.client.HTTPSConnection:
    """A keep-alive HTTPS connection to the environment's router, verified with the CA."""
    settings = load_settings(root)
    return http.client.HTTPSConnection("127.0.0.1", settings.deploy.ports[env], timeout=timeout,
                                       context=trust(settings))  # fmt: skip


def served(root: Path, env: str, key: str | None = None) -> str:
    """The version answering a prediction through the environment's nginx port."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    status, body = router_call(root, env, f"/{MODEL}/predict",
                               {"rows": [smoke_row(root, MODEL)]}, headers)  # fmt: skip
    assert status == 200, body
    return str(body["version"])


def production_alias(root: Path) -> str | None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / '.mlops' / 'mlflow.db'}")
    found = client.get_registered_model(MODEL).aliases.get("production")
    return None if found is None else str(found)


def deployments(env: str) -> list[tuple[str, dict[str, Any]]]:
    """(latest state, payload) of the environment's GitHub deployments, newest first."""
    from mlops.adapters.github import GitHub

    return [(d["state"], d["payload"]) for d in GitHub(REPO, BOT).deployments(env)]


def teardown(root: Path) -> None:
    """Stop every instance and router the repository's deployments started."""
    stop_all(load_settings(root))


def promote(cli: Any, root: Path, version: str, *stages: str) -> None:
    """`mlops promote --apply` of `version` into each stage in turn (stage order applies)."""
    for stage in stages:
        result = cli("--repo", root, "promote", MODEL, version, "--to", stage, "--apply")
        assert result.code == 0, result.err


@dataclass
class Seen:
    """What a steady load saw: (version, upstream address) per answer, and every failure."""

    answers: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def addresses(self, version: str) -> set[str]:
        """The replicas that answered for `version` (nginx names each it tried)."""
        return {a for v, tried in self.answers if v == version for a in tried.split(", ")}


@contextmanager
def steady_load(root: Path, env: str, clients: int = 2, limit: int = 20_000) -> Iterator[Seen]:
    """Clients POSTing one row through the environment's nginx port on keep-alive connections
    until the block ends (or `limit` requests each). A request on a reused connection that
    the server closed as it left is sent again on a new one, as HTTP clients do (RFC 9112
    9.3.1); any other error, and any answer but 200, is a failure."""
    body = json.dumps({"rows": [smoke_row(root, MODEL)]}).encode()
    headers = {"Content-Type": "application/json"}
    seen, done = Seen(), threading.Event()

    def predict(connection: http.client.HTTPConnection) -> None:
        connection.request("POST", f"/{MODEL}/predict", body, headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            seen.failures.append(f"status {response.status}: {answer[:200]!r}")
            return
        version = str(json.loads(answer)["version"])
        seen.answers.append((version, response.headers.get("X-Upstream", "")))

    def client() -> None:
        connection = router_connection(root, env)
        for _ in range(limit):
            if done.is_set():
                break
            reused = connection.sock is not None
            try:
                predict(connection)
                continue
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if not reused:
                    seen.failures.append(repr(error))
                    continue
            try:
                predict(connection)
            except (OSError, http.client.HTTPException) as again:
                connection.close()
                seen.failures.append(repr(again))
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield seen
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
