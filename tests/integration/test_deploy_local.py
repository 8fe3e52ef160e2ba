"""Deployments on the local target: real `bentoml serve` processes behind a real nginx.

One scratch git repository trains breast-cancer twice (versions 1 and 2) and walks the GitOps
flow: promote, commit, reconcile; promote the next version; `git revert` the promotion. Every
move is checked through the environment's stable nginx port, the MLflow aliases, the
instances the target reports and the GitHub deployments on the local GitHub server.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploying import (
    MODEL,
    deployments,
    production_alias,
    promote,
    reconcile,
    require_nginx,
    served,
    steady_load,
    teardown,
)  # fmt: skip
from support import commit_all, git, make_repository, manifest_edited, set_stages, two_versions

from mlops.adapters import processes
from mlops.adapters.local_target import LocalTarget
from mlops.adapters.probes import free_port
from mlops.adapters.settings import load_settings
from mlops.testing.github_server import GitHubServer


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """breast-cancer versions 1 (C=1.0) and 2 (C=0.5) in one store, nothing promoted."""
    require_nginx()
    root = make_repository(tmp_path_factory.mktemp("deploy") / "repo", (MODEL,))
    staging, production = free_port(), free_port()
    (root / "pyproject.toml").write_text(
        "[tool.mlops.deploy]\n"
        'target = "local"\n'
        f"ports = {{ staging = {staging}, production = {production} }}\n"
        "check_timeout = 90\n"
    )
    two_versions(root)
    try:
        yield root
    finally:
        teardown(root)


def running(root: Path, env: str) -> list[str]:
    return sorted(i.version for i in LocalTarget(load_settings(root)).instances(env) if i.healthy)


@pytest.mark.system
def scraped(root: Path, environment: str) -> list[tuple[str, str, str]]:
    """What Prometheus is told to scrape in `environment` (file-based service discovery)."""
    path = load_settings(root).deploy_folder / "prometheus" / f"{environment}.json"
    groups = json.loads(path.read_text())
    assert all(len(g["targets"]) == 1 and g["targets"][0].startswith("127.0.0.1:") for g in groups)
    return sorted((g["labels"]["environment"], g["labels"]["model"], g["labels"]["version"])
                  for g in groups)  # fmt: skip


def test_promote_deploy_then_revert_rolls_back(trained: Path, cli, deploy_gh: GitHubServer) -> None:
    """v1 serves; v2 replaces it blue/green; reverting v2's promotion serves v1 again, and
    each move is a GitHub deployment. A second reconcile finds nothing to do."""
    root = trained
    teardown(root)  # a clean slate: no instance, no router
    set_stages(root, {})
    promote(cli, root, "1", "staging", "production")
    commit_all(root, "promote 1")
    first = reconcile(cli, root, gh=deploy_gh)
    assert served(root, "production") == "1" and served(root, "staging") == "1"
    assert production_alias(root) == "1"
    assert scraped(root, "production") == [("production", MODEL, "1")]
    assert [s["kind"] for s in first["deployments"][1]["done"]] == ["start", "route"]
    settings = load_settings(root)  # clients call HTTPS and trust the deploy folder's CA
    assert (
        first["deployments"][1]["url"] == f"https://127.0.0.1:{settings.deploy.ports['production']}"
    )
    assert first["deployments"][1]["ca"] == str(settings.deploy_folder / "tls" / "ca.pem")
    kept = load_settings(root).state_dir / "models" / MODEL / "1"
    (instance,) = LocalTarget(load_settings(root)).instances("production")
    environ = Path(f"/proc/{instance.ident}/environ").read_bytes().split(b"\0")
    assert f"MLOPS_SERVE_MODEL_URI={kept}".encode() in environ  # served from the kept copy

    again = reconcile(cli, root, gh=deploy_gh)
    assert [o["steps"] for o in again["deployments"]] == [[], []]

    promote(cli, root, "2", "staging", "production")
    commit_all(root, "promote 2")
    reconcile(cli, root, "--env", "production", gh=deploy_gh)
    assert served(root, "production") == "2"
    assert running(root, "production") == ["1", "2"]  # v1 stays warm, unrouted
    assert scraped(root, "production") == [("production", MODEL, "1"), ("production", MODEL, "2")]
    assert served(root, "staging") == "1"  # only production was reconciled

    git(root, "revert", "--no-edit", "HEAD")
    back = reconcile(cli, root, gh=deploy_gh)
    assert served(root, "production") == "1" and served(root, "staging") == "1"
    assert running(root, "production") == ["1", "2"]  # now v2 is the standby
    assert production_alias(root) == "1"
    assert [s["kind"] for s in back["deployments"][1]["done"]] == ["route"]  # nothing started

    history = deployments("production")  # newest first; a new success retires the old
    assert [state for state, _ in history] == ["success", "inactive", "inactive"]
    assert [p["models"][MODEL] for _, p in history] == [{"v1": 100}, {"v2": 100}, {"v1": 100}]


@pytest.mark.system
def test_a_canary_splits_production_traffic_by_weight(trained: Path, cli, deploy_gh) -> None:
    """Production v1 with a 20% canary of v2: nginx routes 20 of every 100 requests to v2."""
    root = trained
    teardown(root)
    set_stages(root, {"staging": "2", "production": "1", "canary": {"version": "2", "weight": 20}})
    commit_all(root, "canary 2 at 20%")
    reconcile(cli, root, "--env", "production", gh=deploy_gh)
    counts = {"1": 0, "2": 0}
    for _ in range(100):
        counts[served(root, "production")] += 1
    assert counts == {"1": 80, "2": 20}
    assert running(root, "production") == ["1", "2"]


@pytest.mark.system
def test_a_version_that_fails_its_checks_never_takes_traffic(trained: Path, cli, deploy_gh) -> None:
    """A broken version 2 (its model file removed from the store) is stopped, v1 keeps
    serving, the run exits 1 naming it, and the failure is a GitHub deployment status."""
    root = trained
    teardown(root)  # a clean slate: no instance, no router
    set_stages(root, {})
    promote(cli, root, "1", "staging", "production")
    commit_all(root, "promote 1")
    reconcile(cli, root, "--env", "production", gh=deploy_gh)
    assert served(root, "production") == "1"
    broken = _break_version(root, "2")
    try:
        promote(cli, root, "2", "staging", "production")
        commit_all(root, "promote 2")
        result = reconcile(cli, root, "--env", "production", code=1, gh=deploy_gh)
    finally:
        broken()
    assert "breast-cancer version 2 in production" in result["deployments"][0]["failures"][0]
    assert served(root, "production") == "1"
    assert deployments("production")[0][0] == "failure"


def replicas(root: Path, env: str) -> list[tuple[str, int]]:
    """(version, replica) of the environment's healthy instances."""
    found = LocalTarget(load_settings(root)).instances(env)
    return sorted((i.version, i.replica) for i in found if i.healthy)


@pytest.mark.system
def test_replicas_move_together_without_a_failed_request(
    trained: Path, cli, deploy_gh: GitHubServer
) -> None:
    """Production on two replicas: both v1 replicas take traffic; v2 replaces them
    blue/green and a revert switches back, under steady load, with no failed request; back to
    one replica, the second of each version stops."""
    root = trained
    teardown(root)
    set_stages(root, {})
    promote(cli, root, "1", "staging", "production")

    def two(manifest: dict) -> None:
        manifest["serving"]["api"]["replicas"] = {"production": 2}

    with manifest_edited(root, MODEL, two):
        commit_all(root, "promote 1 on two replicas")
        first = reconcile(cli, root, "--env", "production", gh=deploy_gh)
        done = [(s["kind"], s["replica"] if s["kind"] == "start" else None)
                for s in first["deployments"][0]["done"] if s["kind"] != "fetch"]  # fmt: skip
        assert done == [("start", 1), ("start", 2), ("route", None)]
        assert replicas(root, "production") == [("1", 1), ("1", 2)]
        with steady_load(root, "production") as seen:
            time.sleep(1)
            promote(cli, root, "2", "staging", "production")
            commit_all(root, "promote 2")
            reconcile(cli, root, "--env", "production", gh=deploy_gh)
            assert served(root, "production") == "2"
            time.sleep(1)
            git(root, "revert", "--no-edit", "HEAD")
            back = reconcile(cli, root, "--env", "production", gh=deploy_gh)
            time.sleep(1)
        assert [s["kind"] for s in back["deployments"][0]["done"]] == ["route"]
        assert seen.failures == [], seen.failures[:5]
        assert len(seen.addresses("1")) == 2 and len(seen.addresses("2")) == 2, seen.answers[-5:]
        assert served(root, "production") == "1"
        assert replicas(root, "production") == [("1", 1), ("1", 2), ("2", 1), ("2", 2)]
    commit_all(root, "one replica again")
    fewer = reconcile(cli, root, "--env", "production", gh=deploy_gh)
    stopped = [(s["version"], s["replica"]) for s in fewer["deployments"][0]["done"]
               if s["kind"] == "stop"]  # fmt: skip
    assert sorted(stopped) == [("1", 2), ("2", 2)]
    assert replicas(root, "production") == [("1", 1), ("2", 1)]
    set_stages(root, {})  # as the module's repository started: nothing promoted
    commit_all(root, "nothing deployed")


@pytest.mark.parametrize("start_time", [1, None], ids=["other-start-time", "no-start-time"])
def test_a_recycled_pid_is_never_signalled(tmp_path: Path, start_time: int | None) -> None:
    """A record whose pid now belongs to another process (its start time differs, or none was
    recorded) is not running, and stopping it forgets the record without signalling that
    process."""
    target = LocalTarget(load_settings(tmp_path))
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        _write_record(target, stranger.pid, start_time)
        [instance] = target.instances("production")
        assert (instance.ident, instance.healthy) == (str(stranger.pid), False)
        assert target.exited(instance)
        target.stop(instance, timeout=1)
        assert stranger.poll() is None, "the unrelated process was signalled"
        assert target.instances("production") == []
    finally:
        stranger.kill()
        stranger.wait()


def test_a_recorded_process_is_stopped_with_its_group(tmp_path: Path) -> None:
    """A record whose pid and start time are its process's names a running process; stopping
    it ends that process and what it forked, and forgets the record."""
    target = LocalTarget(load_settings(tmp_path))
    server = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    try:
        owner = processes.identity(server.pid)
        assert owner is not None
        _write_record(target, server.pid, owner[1])
        [instance] = target.instances("production")
        assert not target.exited(instance)
        forked = _wait_for_children(server.pid)
        target.stop(instance, timeout=10)
        assert target.exited(instance)
        assert not processes.running(owner) and not any(map(processes.running, forked))
        assert target.instances("production") == []
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()


def _write_record(target: LocalTarget, pid: int, start_time: int | None) -> None:
    """An instance record for breast-cancer version 1 in production, as `start` writes it,
    naming `pid` (with `start_time`, unless None) and a port nothing answers on."""
    folder = target.folder("production")
    folder.mkdir(parents=True)
    record = {"pid": pid, "start_time": start_time, "port": free_port(), "model": MODEL,
              "version": "1", "log": str(folder / f"{MODEL}-1.log"), "started": 0.0}  # fmt: skip
    if start_time is None:
        del record["start_time"]
    (folder / f"{MODEL}-1.json").write_text(json.dumps(record))


def _wait_for_children(pid: int) -> set[tuple[int, int]]:
    deadline = time.monotonic() + 10
    while not (found := processes.children(pid)):
        assert time.monotonic() < deadline, f"process {pid} forked nothing"
        time.sleep(0.05)
    return found


def _break_version(root: Path, version: str):
    """Hide version `version`'s model files in the artifact store, and drop the copy this
    machine keeps of them (as on a fresh machine); returns the undo."""
    import shutil

    from mlflow import MlflowClient

    shutil.rmtree(root / ".mlops" / "models" / MODEL / version, ignore_errors=True)

    client = MlflowClient(tracking_uri=f"sqlite:///{root / '.mlops' / 'mlflow.db'}")
    source = client.get_model_version(MODEL, version).source
    location = client.get_logged_model(source.split("/")[-1]).artifact_location
    folder = Path(location.removeprefix("file://"))
    hidden = folder.with_name(folder.name + ".hidden")
    folder.rename(hidden)
    return lambda: hidden.rename(folder)


@pytest.mark.system
def test_moved_traffic_is_recorded_when_the_tracking_store_then_fails(
    trained: Path, cli, deploy_gh: GitHubServer
) -> None:
    """The store refuses alias writes (a trigger in its database) after the deployment moved
    production to v1: the run exits 1 naming the store, and still prints its whole JSON result
    and records the GitHub deployment of what now serves."""
    import sqlite3

    root = trained
    teardown(root)
    set_stages(root, {})
    promote(cli, root, "1", "staging", "production")
    commit_all(root, "promote 1")
    store = sqlite3.connect(root / ".mlops" / "mlflow.db")
    store.execute("DELETE FROM registered_model_aliases")  # earlier tests set them
    refuse = "BEGIN SELECT RAISE(ABORT, 'the store is read-only'); END"
    store.execute(f"CREATE TRIGGER refuse_alias BEFORE INSERT ON registered_model_aliases {refuse}")
    store.commit()
    try:
        result = reconcile(cli, root, "--env", "production", code=1, gh=deploy_gh)
    finally:
        store.execute("DROP TRIGGER refuse_alias")
        store.commit()
        store.close()
    assert served(root, "production") == "1"
    assert [s["kind"] for s in result["deployments"][0]["done"]] == ["start", "route"]
    assert result["errors"] == [
        "MLflow aliases not reconciled: " + result["errors"][0].split(": ", 1)[1]
    ]
    assert "read-only" in result["errors"][0]
    assert result["notes"][0].startswith("GitHub deployment ")
    state, payload = deployments("production")[0]
    assert (state, payload["models"][MODEL]) == ("success", {"v1": 100})
    assert production_alias(root) is None  # the store kept refusing; the next run sets it


def test_the_kept_model_directory_is_verified_before_every_start(trained: Path) -> None:
    """A copy changed on this machine is downloaded again; a store whose model no longer
    matches registry.yaml's digest is refused; a version with no digest is not kept."""
    import yaml

    from mlops.adapters.tracking import model_digest
    from mlops.flows.building import Tampered, fetch_version

    settings = load_settings(trained)
    registry = yaml.safe_load((trained / "registry.yaml").read_text())
    entry = registry["models"][MODEL]["versions"]["1"]
    kept, _ = fetch_version(settings, MODEL, "1", entry) or (None, False)
    assert kept is not None and model_digest(kept) == entry["model_sha256"]
    assert fetch_version(settings, MODEL, "1", entry) == (kept, False)
    (kept / "model.pkl").write_bytes(b"changed on this machine")
    assert fetch_version(settings, MODEL, "1", entry) == (kept, True)
    assert model_digest(kept) == entry["model_sha256"]
    with pytest.raises(Tampered, match="it changed after training; it is not served"):
        fetch_version(settings, MODEL, "1", {**entry, "model_sha256": "sha256:" + "0" * 64})
    assert model_digest(kept) == entry["model_sha256"]  # the good copy is left as it was
    assert fetch_version(settings, MODEL, "1", {**entry, "model_sha256": None}) is None


def test_a_version_kept_meanwhile_by_another_deployer_is_used(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deployers on one machine download the same version: the second finds the first's
    verified copy where it would rename its own, and serves that."""
    import shutil

    import yaml

    from mlops.adapters.tracking import model_digest
    from mlops.flows.building import fetch_version

    settings = load_settings(trained)
    entry = yaml.safe_load((trained / "registry.yaml").read_text())["models"][MODEL]["versions"][
        "2"
    ]
    kept = settings.state_dir / "models" / MODEL / "2"
    shutil.rmtree(kept, ignore_errors=True)
    rename = Path.rename

    def raced(self: Path, target: Path) -> Path:
        shutil.copytree(self, target)  # the other deployer's copy lands first
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", raced)
    assert fetch_version(settings, MODEL, "2", entry) == (kept, True)
    assert model_digest(kept) == entry["model_sha256"]
