"""`mlops train` and `reproduce` with the DVC remote on S3: a real S3 endpoint (moto's server)
on 127.0.0.1, configured the way `.dvc/config` tells a site to, in `.dvc/config.local`.

One repository is trained once for the module; the failure test has its own.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import s3_server, use_test_aws_credentials
from support import commit_all, git, make_repository, run_cli

MODEL = "breast-cancer"
BUCKET = "dvc-data"


@pytest.fixture(scope="module", autouse=True)
def _aws_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Test credentials only: no developer profile, shared config or endpoint override."""
    with pytest.MonkeyPatch.context() as patch:
        use_test_aws_credentials(patch, tmp_path_factory.mktemp("aws"))
        yield


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """One S3 endpoint for the module's repository."""
    with s3_server() as url:
        yield url


def s3_client(url: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=url, region_name="us-east-1")


def dvc(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def use_s3_remote(root: Path, bucket: str, url: str) -> None:
    """The default remote becomes s3://BUCKET/store at endpoint URL, in .dvc/config.local."""
    dvc(root, "remote", "add", "--local", "--default", "s3", f"s3://{bucket}/store")
    dvc(root, "remote", "modify", "--local", "s3", "endpointurl", url)


def registered_versions(root: Path) -> list[str]:
    with sqlite3.connect(root / ".mlops" / "mlflow.db") as db:
        rows = db.execute("select version from model_versions where name = ?", (MODEL,))
        return sorted(str(r[0]) for r in rows)


def run_statuses(root: Path) -> list[str]:
    with sqlite3.connect(root / ".mlops" / "mlflow.db") as db:
        return sorted(r[0] for r in db.execute("select status from runs"))


def output_hashes(root: Path) -> dict[str, str]:
    """The md5 in dvc.lock of each cached pipeline output: the data files and the model."""
    lock = yaml.safe_load((root / f"models/{MODEL}/dvc.lock").read_text())
    outs = {out["path"]: out["md5"] for s in lock["stages"].values() for out in s.get("outs", [])}
    return {path: outs[path] for path in ("data/train.csv", "data/holdout.csv", "model")}


def cache_file(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, endpoint: str) -> Path:
    """breast-cancer trained once as version 1, its DVC remote a bucket on the endpoint."""
    root = make_repository(tmp_path_factory.mktemp("train-s3") / "repo", (MODEL,))
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    use_s3_remote(root, BUCKET, endpoint)
    assert run_cli("--repo", root, "train", MODEL) == 0
    return root


def test_training_stores_the_data_in_the_bucket(trained: Path, endpoint: str) -> None:
    """Version 1 is registered, and every output in dvc.lock is an object under
    store/files/md5/ in the bucket; nothing went to the folder remote of .dvc/config."""
    assert registered_versions(trained) == ["1"]
    assert run_statuses(trained) == ["FINISHED"]
    listing = s3_client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix="store/")
    keys = {item["Key"] for item in listing.get("Contents", [])}
    hashes = output_hashes(trained)
    for md5 in hashes.values():
        assert f"store/files/md5/{md5[:2]}/{md5[2:]}" in keys
    record = json.loads((trained / f".mlops/candidates/{MODEL}.json").read_text())
    assert record["dvc_hashes"] == {p: hashes[p] for p in ("data/train.csv", "data/holdout.csv")}
    assert not (trained.parent / "mlops-dvc-storage").exists()


def test_reproduce_fetches_the_data_from_the_bucket(trained: Path, cli) -> None:
    """With the local DVC cache gone, reproducing version 1 pulls its data from S3 (the
    remote exists only in the checkout's .dvc/config.local) and matches exactly."""
    shutil.rmtree(trained / ".dvc" / "cache")
    result = cli("--repo", trained, "reproduce", MODEL, "1", "--json")
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out)["reproduced_exactly"] is True
    hashes = output_hashes(trained)
    for path in ("data/train.csv", "data/holdout.csv"):
        assert cache_file(trained, hashes[path]).is_file()
    assert not (trained.parent / "mlops-dvc-storage").exists()
    assert git(trained, "worktree", "list").count("\n") == 0


def test_a_fresh_clone_pulls_the_data_from_the_bucket(
    trained: Path, endpoint: str, tmp_path: Path
) -> None:
    """Once the lock training wrote is committed (as a pull request commits it), a new clone
    configured for the bucket gets the exact data files and model with `dvc pull`."""
    commit_all(trained, "the lock and metrics of version 1")
    clone = tmp_path / "clone"
    git(trained, "clone", "-q", str(trained), str(clone))
    use_s3_remote(clone, BUCKET, endpoint)
    dvc(clone, "pull", f"models/{MODEL}/dvc.yaml")
    for path in ("data/train.csv", "data/holdout.csv", "model/model.pkl"):
        pulled = (clone / f"models/{MODEL}" / path).read_bytes()
        assert pulled == (trained / f"models/{MODEL}" / path).read_bytes()


def test_an_s3_endpoint_that_is_down_registers_nothing(tmp_path: Path, cli) -> None:
    """When the endpoint stopped, train fails naming the remote, its bucket and endpoint;
    the run is FAILED, no version is registered and no candidate record is written."""
    root = make_repository(tmp_path / "repo", (MODEL,))
    with s3_server() as url:
        s3_client(url).create_bucket(Bucket="dvc-down")
        use_s3_remote(root, "dvc-down", url)
    result = cli("--repo", root, "train", MODEL)
    assert result.code == 1
    assert f"dvc push failed for {MODEL}" in result.err
    assert f"to DVC remote 's3' (s3://dvc-down/store at {url})" in result.err
    assert f'Could not connect to the endpoint URL: "{url}/dvc-down/store/' in result.err
    assert "Traceback" not in result.err
    assert registered_versions(root) == []
    assert run_statuses(root) == ["FAILED"]
    assert not (root / f".mlops/candidates/{MODEL}.json").exists()


def test_the_remote_comes_from_the_environment(
    trained: Path, endpoint: str, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner points DVC at the team's bucket by configuration alone (MLOPS_DVC_REMOTE and
    MLOPS_DVC_ENDPOINT_URL, as a workflow passes repository variables): a fresh clone with no
    `.dvc/config.local` evaluates version 1 with the holdout pulled from the bucket."""
    git(trained, "add", "-A")
    git(trained, "commit", "-q", "--allow-empty", "-m", "the lock and metrics of version 1")
    clone = tmp_path / "clone"
    git(trained, "clone", "-q", str(trained), str(clone))
    assert not (clone / ".dvc" / "config.local").exists()
    shutil.copytree(trained / ".mlops", clone / ".mlops")  # the tracking store only
    shutil.rmtree(clone / ".mlops" / "candidates")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{trained / '.mlops' / 'mlflow.db'}")
    monkeypatch.setenv("MLOPS_DVC_REMOTE", f"s3://{BUCKET}/store")
    monkeypatch.setenv("MLOPS_DVC_ENDPOINT_URL", endpoint)
    result = cli("--repo", clone, "evaluate", MODEL, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["candidate"]["version"] == "1"
    holdout = clone / f"models/{MODEL}/data/holdout.csv"
    assert holdout.read_bytes() == (trained / f"models/{MODEL}/data/holdout.csv").read_bytes()
    assert not (trained.parent / "mlops-dvc-storage").exists()
    assert not (tmp_path / "mlops-dvc-storage").exists()  # nothing from the folder remote


def test_an_endpoint_without_a_remote_is_refused(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repository(tmp_path / "repo", (MODEL,))
    monkeypatch.setenv("MLOPS_DVC_ENDPOINT_URL", "http://127.0.0.1:9")
    result = cli("--repo", root, "train", MODEL)
    assert result.code == 1
    assert "MLOPS_DVC_ENDPOINT_URL) is set without a remote" in result.err
    assert not (root / ".mlops").exists()
