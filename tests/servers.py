"""Real services for integration tests, started on 127.0.0.1 and stopped afterwards:
a PostgreSQL cluster in a temporary folder, an MLflow tracking server on top of it, an S3
endpoint (moto's server) and an OCI image registry (the reference distribution server)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlops.adapters import probes
from mlops.testing.process_groups import stop_group

if TYPE_CHECKING:
    import pytest


def free_port(prefix: Sequence[str] = ()) -> int:
    """A loopback port free now, in this network namespace or the one `prefix` enters."""
    if not prefix:
        return probes.free_port()
    code = "from mlops.adapters.probes import free_port; print(free_port())"
    done = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return int(done.stdout)


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian keeps them off PATH)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if candidates:
        return candidates[0].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the `postgres` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_postgres(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


@contextmanager
def postgres(database: str = "mlflow", *, tcp: bool = True) -> Iterator[str]:
    """A throwaway cluster; yields a SQLAlchemy URL for `database` (trust auth), on the
    loopback address, or with `tcp=False` on its Unix socket only, which a client in any
    network namespace of this machine reaches.

    Its folder is made directly under the system temp folder: pytest's own are private to
    root, and the server runs as `postgres`.
    """
    bindir = postgres_bin()
    assert bindir is not None, "PostgreSQL is not installed: run scripts/bootstrap"
    workdir = Path(tempfile.mkdtemp(prefix="mlops-postgres-"))
    data, sockets = workdir / "data", workdir / "sockets"
    data.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (workdir, data, sockets):
            shutil.chown(path, "postgres")
    port = free_port()
    try:
        _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "mlops", "-E", "UTF8"])
        listen = "127.0.0.1" if tcp else "''"
        options = f"-p {port} -k {sockets} -c listen_addresses={listen} -c fsync=off"
        log = workdir / "postgres.log"
        _run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]
        )
        try:
            host = "127.0.0.1" if tcp else str(sockets)
            _run([str(bindir / "createdb"), "-h", host, "-p", str(port), "-U", "mlops",
                  database])  # fmt: skip
            if tcp:
                yield f"postgresql://mlops@127.0.0.1:{port}/{database}"
            else:
                yield f"postgresql://mlops@/{database}?host={sockets}&port={port}"
        finally:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


_STATUS = """
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except OSError:
    print(0)
"""


def status(url: str, prefix: Sequence[str] = ()) -> int:
    """The HTTP status `url` answers with, 0 when nothing answers; with `prefix` (a command
    such as `nsenter --net=...`) asked from inside another network namespace."""
    if prefix:
        done = subprocess.run([*prefix, sys.executable, "-c", _STATUS, url],
                              capture_output=True, text=True, check=False)  # fmt: skip
        return int(done.stdout.strip() or 0)
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def wait_until_answers(
    url: str,
    process: subprocess.Popen[Any],
    timeout: float,
    output: Callable[[], str],
    what: str,
    statuses: tuple[int, ...] = (200,),
    prefix: Sequence[str] = (),
) -> None:
    """Poll `url` (from the namespace `prefix` enters) until it answers with one of
    `statuses`; fail with the tail of the server's output if the process exits or `timeout`
    seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        if status(url, prefix) in statuses:
            return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{output()[-3000:]}")
        time.sleep(0.3)


@contextmanager
def mlflow_server(
    backend: str,
    artifacts: Path | str,
    timeout: float = 120,
    *,
    auth_config: Path | None = None,
    log_dir: Path | None = None,
    prefix: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """`mlflow server` on a free loopback port; yields its URL once /health answers. It
    serves the artifacts it stores in `artifacts` (a folder, or a URI such as s3://bucket/x,
    whose endpoint and credentials come in `env`), logging into `log_dir` (default: beside
    the artifacts folder). With `auth_config` (an MLflow basic-auth ini file) it runs MLflow's
    basic-auth app; with `prefix` (such as `nsenter --net=...`) in another network namespace."""
    port = free_port(prefix)
    url = f"http://127.0.0.1:{port}"
    destination = artifacts.as_uri() if isinstance(artifacts, Path) else artifacts
    folder = log_dir or (artifacts.parent if isinstance(artifacts, Path) else None)
    assert folder is not None, "artifacts stored at a URI need a log_dir"
    log = (folder / "mlflow-server.log").open("w")
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
         "--artifacts-destination", destination, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1",
         *(["--app-name", "basic-auth"] if auth_config else [])],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {}),
             **({"MLFLOW_AUTH_CONFIG_PATH": str(auth_config),
                 "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key"} if auth_config else {})},
    )  # fmt: skip
    try:

        def output() -> str:
            log.flush()
            return (folder / "mlflow-server.log").read_text()

        wait_until_answers(f"{url}/health", process, timeout, output, "mlflow server",
                           prefix=prefix)  # fmt: skip
        yield url
    finally:
        stop_group(process, 20)
        log.close()


@contextmanager
def basic_auth_mlflow_server(workdir: Path, admin: str, password: str) -> Iterator[str]:
    """`mlflow server --app-name basic-auth` storing in `workdir`, where everybody may read
    (default permission READ) and `admin` with `password` administers; yields its URL."""
    (workdir / "artifacts").mkdir()
    config = workdir / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{workdir / 'users.db'}\n"
        f"admin_username = {admin}\n"
        f"admin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    backend = f"sqlite:///{workdir / 'mlflow.db'}"
    with mlflow_server(backend, workdir / "artifacts", auth_config=config) as url:
        yield url


def use_test_aws_credentials(patch: pytest.MonkeyPatch, scratch: Path) -> None:
    """Test credentials only: no developer profile, shared config, session or endpoint
    override reaches the code under test (`scratch` is a folder of the test's own)."""
    nowhere = scratch / "no-aws-config"
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(nowhere),
                       "AWS_SHARED_CREDENTIALS_FILE": str(nowhere)}.items():  # fmt: skip
        patch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        patch.delenv(key, raising=False)


@contextmanager
def s3_server(timeout: float = 60, *, prefix: Sequence[str] = ()) -> Iterator[str]:
    """`moto_server`, an S3-compatible endpoint in memory, on a free loopback port (of the
    network namespace `prefix` enters); yields its URL once it answers. Clients need
    credentials, any will do (e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set to
    `testing`); buckets are gone when it stops."""
    port = free_port(prefix)
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:

            def output() -> str:
                log.seek(0)
                return log.read()

            wait_until_answers(f"{url}/moto-api/", process, timeout, output, "moto_server",
                               prefix=prefix)  # fmt: skip
            yield url
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def registry_binary() -> str | None:
    """The reference OCI registry (Debian's `docker-registry`, distribution 2.8)."""
    return shutil.which("docker-registry") or shutil.which("docker-registry", path="/usr/bin")


@contextmanager
def image_registry(
    folder: Path, users: Mapping[str, str] | None = None, timeout: float = 30
) -> Iterator[str]:
    """The reference registry on a free loopback port, storing images under `folder` with
    a config file generated there; yields its address "127.0.0.1:PORT" once `/v2/` answers.

    With `users` (name -> password) it requires basic authentication (an htpasswd file of
    bcrypt hashes). Deleting manifests is allowed, so a test can take an image away. The
    Docker engine treats 127.0.0.0/8 as an insecure registry: plain HTTP, no certificate.
    """
    binary = registry_binary()
    assert binary is not None, "docker-registry is not installed: run scripts/bootstrap"
    folder.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")},
                    "delete": {"enabled": True}},
        "http": {"addr": address, "secret": secrets.token_hex(16)},
    }  # fmt: skip
    if users:
        htpasswd = folder / "htpasswd"
        htpasswd.write_text("".join(f"{u}:{_bcrypt(p)}\n" for u, p in users.items()))
        config["auth"] = {"htpasswd": {"realm": "mlops-tests", "path": str(htpasswd)}}
    (folder / "config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    log_path = folder / "registry.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [binary, "serve", str(folder / "config.yml")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            statuses = (401,) if users else (200,)
            wait_until_answers(f"http://{address}/v2/", process, timeout, log_path.read_text,
                               "docker-registry", statuses)  # fmt: skip
            yield address
        finally:
            stop_group(process, 10)


def _bcrypt(password: str) -> str:
    """A bcrypt hash for an htpasswd file (the registry accepts no other kind)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # deprecated, but the only bcrypt in the standard library

    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
