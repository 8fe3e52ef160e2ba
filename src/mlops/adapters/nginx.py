"""nginx as the router in front of model servers: the switch of blue/green and canary.

One nginx master per environment lives in a prefix folder the deployer owns (config, pid file,
logs, temporary files). `apply` changes routing without dropping a request: nginx checks the
new configuration before it replaces the running one, a graceful reload starts new workers
while the old ones finish what they are serving, and `apply` returns only when the new routing
answers and every old worker has exited. From then on a backend that is no longer routed gets
no request at all, so the caller may stop it at once.

What nginx actually serves is read back from nginx itself (`/-/routes`), never from the file.

Every router speaks TLS only (`mlops.core.routing`): its certificate and key are the
`TlsFiles` it is given, and it reads `/-/routes` over HTTPS, verifying the certificate with
their CA for 127.0.0.1 as any client must. The configuration it installs ends with a
fingerprint of the certificate and key, so a renewed certificate reloads nginx even when the
routes stay the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import http.client
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mlops.adapters import certificates, processes
from mlops.core.routing import ROUTES_PATH, RouteTable, render
from mlops.core.tls import TlsFiles
from mlops.errors import MlopsError

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0  # seconds one `/-/routes` request may take
READY_TIMEOUT = 15.0  # seconds nginx gets to serve a new configuration
COMMAND_TIMEOUT = 30.0  # seconds `nginx -t` or starting the master may take
KILL_GRACE = 5.0  # seconds after SIGTERM when a graceful stop timed out
POLL = 0.05
LOG_TAIL = 20  # error.log lines quoted in an error
DEBIAN_NGINX = "/usr/sbin/nginx"  # off PATH for users other than root


class RouterError(MlopsError):
    """nginx refused a configuration, could not start, or did not switch in time."""


class Router:
    """The nginx that serves one environment's route table on https://127.0.0.1:`port`."""

    def __init__(
        self, prefix: Path, port: int, tls: TlsFiles, nginx: str = "nginx",
        drain_timeout: float = 30.0,
    ) -> None:  # fmt: skip
        self.prefix = Path(prefix).absolute()
        self.port = port
        self.tls = tls
        self.nginx = nginx
        self.drain_timeout = drain_timeout
        self.conf = self.prefix / "nginx.conf"
        self.error_log = self.prefix / "error.log"
        self.pid_file = self.prefix / "nginx.pid"

    def observed(self) -> RouteTable | None:
        """The table nginx serves on the port, or None when nothing (of ours) answers there
        over TLS with a certificate the CA vouches for."""
        try:
            context = certificates.client_context(self.tls.ca)
        except MlopsError:
            return None  # no CA yet: no router of ours has served here
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=PROBE_TIMEOUT,
                                                 context=context)  # fmt: skip
        try:
            connection.request("GET", ROUTES_PATH)
            response = connection.getresponse()
            status, body = response.status, response.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()
        if status != 200:
            return None
        try:
            table = RouteTable.from_dict(json.loads(body))
        except (ValueError, TypeError, KeyError):
            return None
        return table if table.port == self.port else None

    def master_pid(self) -> int | None:
        """The pid of this prefix's nginx master while it runs."""
        master = self._master()
        return None if master is None else master[0]

    def _master(self) -> processes.Identity | None:
        """The identity of this prefix's nginx master while it runs: the process its pid file
        names, if that is an nginx master."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return _nginx_master(pid)

    def running(self) -> bool:
        return self.master_pid() is not None

    def apply(self, table: RouteTable) -> None:
        """Serve `table`: check and install its configuration, start or reload nginx, wait
        until the new routing answers and the old workers have drained."""
        if table.port != self.port:
            raise RouterError(
                f"the route table is for port {table.port}, this router serves {self.port}"
            )
        binary = find_nginx(self.nginx)
        self.prefix.mkdir(parents=True, exist_ok=True)
        with self._lock():
            master = self._master()
            current = self.observed() if master is not None else None
            text = self._rendered(table)
            served = current is not None and current.generation() == table.generation()
            if served and self._installed() == text:
                return
            if master is None:
                self._require_free_port(table)
            self._install(binary, table, text)
            if master is None:
                self._start(binary, table)
            else:
                self._reload(master, table)

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown (in-flight requests finish); SIGTERM if that takes too long."""
        master = self._master()
        if master is None:
            return
        processes.signal_process(master, signal.SIGQUIT)
        if processes.wait_exit(master, timeout, POLL):
            return
        log.warning("nginx %s did not stop within %ss; terminating it", master[0], timeout)
        processes.signal_process(master, signal.SIGTERM)
        if not processes.wait_exit(master, KILL_GRACE, POLL):
            raise RouterError(f"nginx master {master[0]} (prefix {self.prefix}) does not stop")

    # -- steps of apply ---------------------------------------------------------------------

    def _rendered(self, table: RouteTable) -> str:
        """The configuration serving `table`, ending with the fingerprint of its TLS files."""
        text = render(table, str(self.prefix), _worker_user(self.prefix), self.tls)
        return f"{text}# tls {certificates.fingerprint(self.tls)}\n"

    def _installed(self) -> str | None:
        try:
            return self.conf.read_text()
        except OSError:
            return None

    def _install(self, binary: str, table: RouteTable, text: str) -> None:
        """Write and test the new configuration; only a configuration nginx accepts replaces
        nginx.conf."""
        candidate = self.prefix / "nginx.conf.new"
        candidate.write_text(text)
        done = self._nginx(binary, "-t", candidate)
        if done.returncode != 0:
            raise RouterError(
                f"nginx refused the configuration for {table.environment}: {_problem(done.stdout)}"
            )
        candidate.replace(self.conf)

    def _require_free_port(self, table: RouteTable) -> None:
        """Fail at once, naming the port, rather than after nginx's own bind retries."""
        if _port_taken(self.port):
            raise RouterError(
                f"port {self.port} on 127.0.0.1 is already in use by another program: "
                f"nginx for {table.environment} cannot listen there"
            )

    def _start(self, binary: str, table: RouteTable) -> None:
        done = self._nginx(binary, None, self.conf)
        if done.returncode != 0:
            if "Address already in use" in done.stdout:
                raise RouterError(f"port {self.port} on 127.0.0.1 is already in use")
            raise RouterError(f"nginx did not start: {_problem(done.stdout)}")
        self._await(table)

    def _reload(self, master: processes.Identity, table: RouteTable) -> None:
        old_workers = processes.children(master[0])
        if not processes.signal_process(master, signal.SIGHUP):
            raise RouterError(f"nginx master {master[0]} (prefix {self.prefix}) exited")
        self._await(table)
        self._drain(old_workers)

    def _await(self, table: RouteTable) -> None:
        """Until `/-/routes` answers with the table's generation."""
        wanted = table.generation()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            current = self.observed()
            if current is not None and current.generation() == wanted:
                return
            time.sleep(POLL)
        raise RouterError(
            f"nginx on port {self.port} did not serve configuration {wanted} within "
            f"{READY_TIMEOUT:g}s; {self.error_log}:\n{self._log_tail()}"
        )

    def _drain(self, workers: set[processes.Identity]) -> None:
        """Until the workers of the previous configuration have finished their requests."""
        deadline = time.monotonic() + self.drain_timeout
        while alive := {w for w in workers if processes.running(w)}:
            if time.monotonic() >= deadline:
                pids = ", ".join(str(pid) for pid, _ in sorted(alive))
                raise RouterError(
                    f"old nginx workers ({pids}) still serve requests after "
                    f"{self.drain_timeout:g}s: the previous backends are not drained yet"
                )
            time.sleep(POLL)

    # -- helpers ----------------------------------------------------------------------------

    def _nginx(self, binary: str, flag: str | None, conf: Path) -> subprocess.CompletedProcess[str]:
        """Run nginx on this prefix; its output in `stdout`. The started master daemonizes,
        so its output goes through a file rather than a pipe it would keep open."""
        command = [binary, *([flag] if flag else []), "-p", f"{self.prefix}/", "-c", str(conf),
                   "-e", str(self.error_log)]  # fmt: skip
        with tempfile.TemporaryFile("w+") as output:
            try:
                done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=output,
                                      stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT,
                                      check=False)  # fmt: skip
            except subprocess.TimeoutExpired as error:
                raise RouterError(f"{' '.join(command)} took over {COMMAND_TIMEOUT:g}s") from error
            output.seek(0)
            return subprocess.CompletedProcess(command, done.returncode, output.read(), "")

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One apply at a time per prefix, across processes."""
        with (self.prefix / "router.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-LOG_TAIL:])
        except OSError:
            return "(no error log)"


def find_nginx(name: str = "nginx") -> str:
    """The nginx binary: MLOPS_NGINX (a path or a name on PATH) when set; else `name` as a
    path or on PATH, else Debian's /usr/sbin/nginx."""
    configured = os.environ.get("MLOPS_NGINX")
    name = configured or name
    fallback = None if configured else DEBIAN_NGINX
    for candidate in (name, shutil.which(name), fallback):
        if candidate and "/" in candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RouterError(
        f"nginx is not installed ({name!r} not found): install the Debian package `nginx` "
        "(or `nginx-light`)",
        hint="apt-get install nginx-light (macOS: brew install nginx), or run scripts/bootstrap",
    )


def _worker_user(prefix: Path) -> str | None:
    """Who nginx workers run as: the owner of the prefix when the master runs as root.

    Left to nginx, a root master runs its workers as `nobody`, which cannot write the
    temporary files (large request bodies) under a prefix inside a private folder. The prefix
    owner always can; chown the prefix to a service user for unprivileged workers.
    """
    if os.geteuid() != 0:
        return None
    info = prefix.stat()
    try:
        return f"{pwd.getpwuid(info.st_uid).pw_name} {grp.getgrgid(info.st_gid).gr_name}"
    except KeyError as error:
        raise RouterError(f"the owner of {prefix} has no user or group name") from error


def _problem(output: str) -> str:
    """nginx's own complaint from its output ("[emerg] ... in file:line")."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    serious = [line for line in lines if any(f"[{level}]" in line for level in
                                             ("emerg", "alert", "crit"))]  # fmt: skip
    return "; ".join(serious or lines) or "(no output)"


def _port_taken(port: int) -> bool:
    """Whether another socket holds 127.0.0.1:`port` (binding as nginx does, SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _nginx_master(pid: int) -> processes.Identity | None:
    """The identity of process `pid` if it is an nginx master. Its command line is read
    between two looks at its identity, so that both belong to one process."""
    master = processes.identity(pid)
    if master is None:
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not command.startswith(b"nginx: master process") or not processes.running(master):
        return None
    return master
