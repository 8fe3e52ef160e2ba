"""The nginx router for real: routing, canary weights, a blue/green switch under load without
one failed request, refused configurations, a busy port, and stopping. Every call goes over
HTTPS, verified with the CA of the router's certificate (tests/integration/test_nginx_tls.py
covers TLS itself)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support import require_system

import mlops.adapters.nginx as nginx_adapter
from mlops.adapters import certificates, processes
from mlops.adapters.nginx import Router, RouterError, find_nginx
from mlops.adapters.probes import free_port
from mlops.core.routing import Backend, RouteTable, render
from mlops.core.tls import TlsFiles

pytestmark = pytest.mark.integration


def _nginx_installed() -> bool:
    try:
        find_nginx()
    except RouterError:
        return False
    return True


class EchoHandler(BaseHTTPRequestHandler):
    """Answers any path with the backend's version, the path it received and the request id."""

    protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream connections expect
    disable_nagle_algorithm = True  # headers and body are two writes
    server: EchoBackend

    def setup(self) -> None:
        super().setup()
        self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        self.server.open_connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _answer(self, body: bytes) -> None:
        self.server.answered += 1
        if self.server.stopped:
            self.server.late += 1
        time.sleep(float(self.headers.get("X-Delay", "0")))  # how long "predicting" takes
        reply = json.dumps({"version": self.server.version, "path": self.path,
                            "request_id": self.headers.get("X-Request-ID"),
                            "length": len(body)}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EchoBackend(ThreadingHTTPServer):
    """A model server stand-in on a free loopback port, in a thread."""

    daemon_threads = True

    def __init__(self, version: str) -> None:
        super().__init__(("127.0.0.1", 0), EchoHandler)
        self.version = version
        self.stopped = False
        self.late = 0  # requests that arrived after stop()
        self.answered = 0
        self.open_connections: set[socket.socket] = set()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        """Gone at once, like a killed process: listener and open connections closed."""
        if self.stopped:
            return
        self.stopped = True
        self.shutdown()
        self.server_close()
        for connection in list(self.open_connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def backends() -> Iterator[list[EchoBackend]]:
    started: list[EchoBackend] = []
    yield started
    for backend in started:
        backend.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A local CA and a server certificate for 127.0.0.1, shared by this module's routers."""
    return certificates.ensure_local(tmp_path_factory.mktemp("deploy"))


def connect(router: Router) -> http.client.HTTPSConnection:
    """A connection to the router that verifies its certificate with the router's CA."""
    return http.client.HTTPSConnection("127.0.0.1", router.port, timeout=10,
                                       context=certificates.client_context(router.tls.ca))  # fmt: skip


@pytest.fixture
def router(tmp_path: Path, tls: TlsFiles) -> Iterator[Router]:
    """A Router on a free port; whatever nginx it started is stopped afterwards."""
    require_system("nginx", _nginx_installed())
    router = Router(tmp_path / "router", free_port(), tls, drain_timeout=20)
    yield router
    pid = router.master_pid()
    try:
        router.stop(timeout=10)
    finally:
        if pid is not None and router.master_pid() is not None:
            os.kill(pid, signal.SIGKILL)


def start(backends: list[EchoBackend], version: str) -> EchoBackend:
    backend = EchoBackend(version)
    backends.append(backend)
    return backend


def table(port: int, model: str, *routes: tuple[EchoBackend, int]) -> RouteTable:
    return RouteTable(
        "production", port, {model: tuple(Backend(b.version, b.address, w) for b, w in routes)}
    )


def request(
    router: Router, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """One request on a fresh connection: (status, headers, parsed JSON body)."""
    connection = connect(router)
    try:
        connection.request("POST" if body is not None else "GET", path, body, headers or {})
        response = connection.getresponse()
        return response.status, dict(response.headers), json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.system
def test_routes_model_paths_to_its_backend(router: Router, backends: list[EchoBackend]) -> None:
    """It routes /<model>/predict to the model's backend as /predict, passes the request id
    both ways, and serves back exactly the table it was given on /-/routes."""
    blue = start(backends, "1")
    applied = table(router.port, "fraud-score", (blue, 100))
    router.apply(applied)

    status, headers, body = request(router, "/fraud-score/predict?x=1", b"{}",
                                    {"X-Request-ID": "req-42"})  # fmt: skip
    assert (status, body["version"], body["path"]) == (200, "1", "/predict?x=1")
    assert body["request_id"] == headers["X-Request-ID"] == "req-42"
    assert headers["X-Upstream"] == blue.address
    assert request(router, "/fraud-score/readyz")[2]["path"] == "/readyz"
    assert request(router, "/-/healthz")[0] == 200
    assert request(router, "/no-such-model/predict")[0] == 404
    assert router.observed() == applied
    assert router.running()


@pytest.mark.system
def test_large_bodies_pass_through_temporary_files(
    router: Router, backends: list[EchoBackend]
) -> None:
    """It forwards a body too large for nginx's memory buffer: the workers can write their
    temporary files under the prefix, even inside a private temporary folder."""
    router.apply(table(router.port, "churn", (start(backends, "7"), 100)))
    status, _, body = request(router, "/churn/predict", b"x" * 300_000)
    assert (status, body["length"]) == (200, 300_000)


@pytest.mark.system
def test_a_body_over_the_routers_limit_is_a_json_413_naming_it(
    router: Router, backends: list[EchoBackend]
) -> None:
    """nginx refuses a declared body over its 100Mi limit before reading it, in JSON as the
    service refuses one over the model's own limit."""
    router.apply(table(router.port, "churn", (start(backends, "7"), 100)))
    connection = connect(router)
    try:
        connection.putrequest("POST", "/churn/predict")
        connection.putheader("Content-Length", str(100 * 1024 * 1024 + 1))
        connection.putheader("Content-Type", "application/json")
        connection.endheaders()
        response = connection.getresponse()
        status, kind, body = response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()
    assert (status, kind) == (413, "application/json")
    assert json.loads(body) == {
        "error": "the request body is over 100Mi, the router's limit: split the request",
        "limit": "100Mi",
    }


@pytest.mark.system
def test_a_model_without_traffic_answers_503(router: Router, backends: list[EchoBackend]) -> None:
    """It answers 503 with a JSON reason for a model none of whose versions has weight."""
    router.apply(table(router.port, "churn", (start(backends, "7"), 0)))
    status, headers, body = request(router, "/churn/predict", b"{}")
    assert status == 503
    assert headers["Content-Type"] == "application/json"
    assert body["error"] == "no version of model churn is deployed"


@pytest.mark.system
def test_applying_the_running_table_again_changes_nothing(
    router: Router, backends: list[EchoBackend]
) -> None:
    """It leaves nginx alone when the table it serves is already the one asked for."""
    routes = table(router.port, "churn", (start(backends, "7"), 100))
    router.apply(routes)
    pid = router.master_pid()
    assert pid is not None
    workers = processes.children(pid)
    router.apply(routes)
    assert router.master_pid() == pid
    assert processes.children(pid) == workers


@pytest.mark.system
def test_canary_split_follows_the_weights(router: Router, backends: list[EchoBackend]) -> None:
    """It sends exactly 180 of 200 requests to the 90% version and 20 to the 10% canary
    (nginx's weighted round robin is deterministic)."""
    stable, canary = start(backends, "9"), start(backends, "10")
    router.apply(table(router.port, "fraud-score", (stable, 90), (canary, 10)))
    connection = connect(router)
    seen: Counter[str] = Counter()
    for _ in range(200):
        connection.request("POST", "/fraud-score/predict", b"{}")
        response = connection.getresponse()
        assert response.status == 200
        seen[json.loads(response.read())["version"]] += 1
    connection.close()
    assert seen == {"9": 180, "10": 20}


@pytest.mark.system
def test_replicas_split_their_versions_share(router: Router, backends: list[EchoBackend]) -> None:
    """Version 9 on two replicas at 90% and a 10% canary on one: of 200 requests each v9
    replica answers 90 and the canary 20."""
    first, second, canary = start(backends, "9"), start(backends, "9"), start(backends, "10")
    router.apply(table(router.port, "fraud-score", (first, 90), (second, 90), (canary, 10)))
    connection = connect(router)
    for _ in range(200):
        connection.request("POST", "/fraud-score/predict", b"{}")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    connection.close()
    assert [first.answered, second.answered, canary.answered] == [90, 90, 20]
    assert router.observed() == table(router.port, "fraud-score", (first, 90), (second, 90),
                                      (canary, 10))  # fmt: skip


@dataclass
class Outcome:
    started: float
    version: str | None = None
    error: str | None = None


@dataclass
class Load:
    """Clients sending predictions until told to stop: half reuse one keep-alive connection,
    half open a fresh connection per request. Most predictions take 20 ms; a few clients'
    take a second, so that requests are in flight whenever the routing switches."""

    port: int
    context: ssl.SSLContext  # trusts the router's CA
    fast: int = 4
    slow: int = 2
    limit: int = 3000  # requests per client at most
    outcomes: list[Outcome] = field(default_factory=list)
    reconnects: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(i % 2 == 0, i >= self.fast),
                                    daemon=True)
                   for i in range(self.fast + self.slow)]  # fmt: skip
        for thread in threads:
            thread.start()
        return threads

    def _client(self, keep_alive: bool, slow: bool) -> None:
        headers = {"Content-Type": "application/json", "X-Delay": "1.0" if slow else "0.02"}
        connection: http.client.HTTPConnection | None = None
        for _ in range(self.limit):
            if self.done.is_set():
                break
            outcome = Outcome(time.monotonic())
            if not keep_alive or connection is None or self._dropped(connection):
                connection = self._fresh(connection)
                reused = False
            else:
                reused = True
            try:
                outcome.version = self._predict(connection, headers)
            except (OSError, http.client.HTTPException) as error:
                if not reused:
                    outcome.error = repr(error)
                else:
                    # The server closed the idle keep-alive connection as this request left
                    # (RFC 9112 9.3.1): a client sends it again on a new connection.
                    self.reconnects += 1
                    connection = self._fresh(connection)
                    try:
                        outcome.version = self._predict(connection, headers)
                    except (OSError, http.client.HTTPException) as again:
                        outcome.error = repr(again)
            self.outcomes.append(outcome)
            if not keep_alive:
                connection.close()
        if connection is not None:
            connection.close()

    def _fresh(self, old: http.client.HTTPConnection | None) -> http.client.HTTPConnection:
        if old is not None:
            old.close()
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10,
                                           context=self.context)  # fmt: skip

    @staticmethod
    def _dropped(connection: http.client.HTTPConnection) -> bool:
        """An idle connection the server has closed reads as ready (EOF), as urllib3 checks."""
        sock = connection.sock
        return sock is None or bool(select.select([sock], [], [], 0)[0])

    def _predict(self, connection: http.client.HTTPConnection, headers: dict[str, str]) -> str:
        connection.request("POST", "/fraud-score/predict", b'{"rows": []}', headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise http.client.HTTPException(f"status {response.status}: {body[:200]!r}")
        return str(json.loads(body)["version"])


def switch_under_load(
    router: Router, old: list[EchoBackend], new: list[EchoBackend]
) -> tuple[Load, float]:
    """Route all traffic to `old`, start a steady load, switch it all to `new` mid-way through
    the slow clients' second predictions, stop `old` the moment apply returns, and let the
    load run on: the load and when the switch returned."""
    router.apply(table(router.port, "fraud-score", *((b, 100) for b in old)))
    load = Load(router.port, certificates.client_context(router.tls.ca))
    threads = load.run()
    time.sleep(1.3)
    router.apply(table(router.port, "fraud-score", *((b, 100) for b in new)))
    switched = time.monotonic()
    for backend in old:
        backend.stop()
    time.sleep(1.5)
    load.done.set()
    for thread in threads:
        thread.join(timeout=30)
    return load, switched


@pytest.mark.system
def test_blue_green_switch_loses_no_request(router: Router, backends: list[EchoBackend]) -> None:
    """It switches from blue to green under steady load with zero failed requests, although
    blue is shut down the moment apply returns; every request sent after that reaches green."""
    blue, green = start(backends, "1"), start(backends, "2")
    load, switched = switch_under_load(router, [blue], [green])
    failures = [o for o in load.outcomes if o.error is not None]
    assert failures == [], failures[:5]
    before = Counter(o.version for o in load.outcomes if o.started < switched)
    after = Counter(o.version for o in load.outcomes if o.started >= switched)
    assert before["1"] > 20 and sum(after.values()) > 20, (before, after)
    assert set(after) == {"2"}, after
    assert blue.late == 0
    assert load.reconnects <= load.fast + load.slow


@pytest.mark.system
def test_blue_green_between_replica_sets_loses_no_request(
    router: Router, backends: list[EchoBackend]
) -> None:
    """Two blue replicas switch to two green ones under steady load, both blues stopped the
    moment apply returns: no request fails, and both greens share what follows."""
    blues = [start(backends, "1"), start(backends, "1")]
    greens = [start(backends, "2"), start(backends, "2")]
    load, switched = switch_under_load(router, blues, greens)
    failures = [o for o in load.outcomes if o.error is not None]
    assert failures == [], failures[:5]
    assert {o.version for o in load.outcomes if o.started >= switched} == {"2"}
    assert all(b.answered > 10 and b.late == 0 for b in blues), [b.answered for b in blues]
    assert all(g.answered > 10 for g in greens), [g.answered for g in greens]


@pytest.mark.system
def test_refused_configuration_keeps_the_old_routing(
    router: Router, backends: list[EchoBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It raises nginx's own complaint for a configuration nginx refuses, and the running
    nginx and its configuration file stay as they were."""
    blue, green = start(backends, "1"), start(backends, "2")
    old = table(router.port, "fraud-score", (blue, 100))
    router.apply(old)
    running = router.conf.read_text()

    def broken(
        routes: RouteTable, prefix: str, user: str | None = None, tls: TlsFiles | None = None
    ) -> str:
        return render(routes, prefix, user, tls).replace(green.address, "127.0.0.1:99999")

    monkeypatch.setattr(nginx_adapter, "render", broken)
    with pytest.raises(RouterError, match=r"invalid port in upstream \"127.0.0.1:99999\""):
        router.apply(table(router.port, "fraud-score", (green, 100)))

    assert router.conf.read_text() == running
    assert router.observed() == old
    assert request(router, "/fraud-score/predict", b"{}")[2]["version"] == "1"


@pytest.mark.system
def test_a_busy_port_is_named(router: Router, backends: list[EchoBackend]) -> None:
    """It refuses to start on a port another socket holds, and says which port."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", router.port))
        squatter.listen()
        with pytest.raises(RouterError, match=rf"port {router.port}\b.*in use"):
            router.apply(table(router.port, "churn", (start(backends, "7"), 100)))
    assert not router.running()


@pytest.mark.system
def test_stop_stops_and_is_idempotent(router: Router, backends: list[EchoBackend]) -> None:
    """It stops nginx so that the port no longer answers, and stopping again does nothing."""
    router.apply(table(router.port, "churn", (start(backends, "7"), 100)))
    assert router.running()
    router.stop()
    assert not router.running()
    assert router.observed() is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", router.port), timeout=2).close()
    router.stop()
    assert not router.running()


def test_a_missing_nginx_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: TlsFiles
) -> None:
    """It says which Debian package to install when no nginx can be found."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(nginx_adapter, "DEBIAN_NGINX", str(tmp_path / "sbin" / "nginx"))
    with pytest.raises(
        RouterError, match=r"install the Debian package `nginx` \(or `nginx-light`\)"
    ):
        Router(tmp_path / "router", 18080, tls).apply(RouteTable("staging", 18080))


def test_a_pid_file_naming_another_process_is_left_alone(tmp_path: Path, tls: TlsFiles) -> None:
    """A pid file whose pid another process holds by now (a recycled pid) names no running
    nginx: stopping the router signals nothing."""
    router = Router(tmp_path / "router", free_port(), tls)
    router.prefix.mkdir(parents=True)
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        router.pid_file.write_text(f"{stranger.pid}\n")
        assert router.master_pid() is None and not router.running()
        router.stop(timeout=1)
        assert stranger.poll() is None, "the unrelated process was signalled"
    finally:
        stranger.kill()
        stranger.wait()
