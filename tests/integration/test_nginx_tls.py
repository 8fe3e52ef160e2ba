"""TLS on the router for real: nginx serves HTTPS only, refuses plain HTTP, is trusted with
the deploy folder's CA and not without it, reloads a renewed certificate, and a site's
certificate that cannot serve stops `mlops reconcile` before the router changes."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from cryptography import x509
from deploying import MODEL, require_nginx
from support import make_repository

from mlops.adapters import certificates
from mlops.adapters.nginx import Router
from mlops.adapters.probes import free_port
from mlops.adapters.settings import load_settings
from mlops.core.routing import Backend, RouteTable
from mlops.core.tls import TlsFiles
from mlops.flows import rollout

pytestmark = [pytest.mark.integration, pytest.mark.system]


class Backend200(BaseHTTPRequestHandler):
    """A model server stand-in: counts what reaches it and answers JSON."""

    server: Counting

    def do_GET(self) -> None:
        self.server.hits += 1
        body = json.dumps({"version": "1", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Counting(ThreadingHTTPServer):
    daemon_threads = True
    hits = 0


@pytest.fixture
def backend() -> Iterator[Counting]:
    server = Counting(("127.0.0.1", 0), Backend200)
    Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def routed(tmp_path: Path, backend: Counting) -> Iterator[Router]:
    """A router with the local CA's certificate, routing `churn` to the backend."""
    require_nginx()
    port = free_port()
    router = Router(tmp_path / "nginx", port, certificates.ensure_local(tmp_path))
    address = f"127.0.0.1:{backend.server_address[1]}"
    router.apply(RouteTable("staging", port, {"churn": (Backend("1", address, 100),)}))
    yield router
    router.stop(timeout=10)


def get(
    router: Router, path: str, context: ssl.SSLContext | None, host: str = "127.0.0.1"
) -> tuple[int, Any]:
    connection = http.client.HTTPSConnection(host, router.port, timeout=10, context=context)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def handshake(router: Router) -> tuple[str | None, x509.Certificate]:
    """The TLS version and the certificate of one verified handshake with the router."""
    context = certificates.client_context(router.tls.ca)
    raw = socket.create_connection(("127.0.0.1", router.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        version, der = sock.version(), sock.getpeercert(binary_form=True)
    assert der is not None
    return version, x509.load_der_x509_certificate(der)


def test_plain_http_to_the_router_is_refused(routed: Router, backend: Counting) -> None:
    """A plain HTTP request to the router's port gets a 400 naming the https URL, and
    nothing reaches the model."""
    connection = http.client.HTTPConnection("127.0.0.1", routed.port, timeout=10)
    try:
        connection.request("GET", "/churn/predict")
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 400
    assert body == {"error": f"this port speaks HTTPS only: call https://127.0.0.1:{routed.port}/"}
    assert backend.hits == 0


def test_https_without_the_ca_fails_verification(routed: Router, backend: Counting) -> None:
    """A client that trusts only the system's CAs cannot verify the router."""
    with pytest.raises(ssl.SSLCertVerificationError):
        get(routed, "/churn/predict", ssl.create_default_context())
    assert backend.hits == 0


def test_https_with_the_ca_reaches_the_model(routed: Router, backend: Counting) -> None:
    """With the deploy folder's CA a client verifies the router as 127.0.0.1 and as
    localhost, over TLS 1.2 or 1.3, and its request reaches the model."""
    context = certificates.client_context(routed.tls.ca)
    for host in ("127.0.0.1", "localhost"):
        assert get(routed, "/churn/predict", context, host) == (200, {"version": "1",
                                                                      "path": "/predict"})  # fmt: skip
    assert backend.hits == 2
    assert routed.observed() is not None
    assert handshake(routed)[0] in ("TLSv1.2", "TLSv1.3")


def test_a_renewed_certificate_is_served_without_a_route_change(
    routed: Router, tmp_path: Path
) -> None:
    """A certificate 20 days from expiry is renewed, and applying the same routes reloads
    nginx with it; applying once more changes nothing."""
    now = datetime.now(UTC)
    table = routed.observed()
    assert table is not None
    Path(routed.tls.cert).unlink()
    certificates.ensure_local(tmp_path, now - timedelta(days=70))  # valid for 20 more days
    routed.apply(table)
    aging = handshake(routed)[1]
    assert aging.not_valid_after_utc < now + timedelta(days=21)

    certificates.ensure_local(tmp_path)
    renewed = x509.load_pem_x509_certificate(Path(routed.tls.cert).read_bytes())
    assert renewed.serial_number != aging.serial_number
    assert renewed.not_valid_after_utc > now + timedelta(days=89)
    routed.apply(table)
    assert handshake(routed)[1].serial_number == renewed.serial_number
    assert routed.observed() == table
    conf = routed.conf.read_text()
    routed.apply(table)
    assert routed.conf.read_text() == conf


# -- a site's certificate that cannot serve -------------------------------------------------


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Path, Router]]:
    """A repository whose production router runs with the local CA (empty routes)."""
    require_nginx()
    root = make_repository(tmp_path / "repo", (MODEL,))
    (root / "pyproject.toml").write_text(config(free_port(), free_port()))
    settings = load_settings(root)
    rollout.prepare_tls(settings)
    router = rollout.router(settings, "production")
    router.apply(RouteTable("production", settings.deploy.ports["production"]))
    yield root, router
    router.stop(timeout=10)


def config(staging: int, production: int, tls: TlsFiles | None = None) -> str:
    text = (f'[tool.mlops.deploy]\ntarget = "local"\n'
            f"ports = {{ staging = {staging}, production = {production} }}\n")  # fmt: skip
    if tls is not None:
        text += f'tls = {{ cert = "{tls.cert}", key = "{tls.key}", ca = "{tls.ca}" }}\n'
    return text


@pytest.mark.parametrize("problem", ["missing certificate", "key of another certificate"])
def test_a_site_certificate_that_cannot_serve_keeps_the_router_as_it_was(
    deployed: tuple[Path, Router], tmp_path: Path, cli: Any, problem: str
) -> None:
    """`mlops reconcile --apply` with a configured certificate that does not exist, or a key
    that does not match it, exits 1 naming the file, and the running router keeps its
    configuration and certificate."""
    root, router = deployed
    ports = load_settings(root).deploy.ports
    running, conf = router.observed(), router.conf.read_text()
    assert running is not None
    site = certificates.ensure_local(tmp_path / "site", datetime.now(UTC))
    if problem == "missing certificate":
        named = str(tmp_path / "site" / "no-such.pem")
        files = TlsFiles(named, site.key, site.ca)
    else:
        other = certificates.ensure_local(tmp_path / "other", datetime.now(UTC))
        files, named = TlsFiles(site.cert, other.key, site.ca), other.key
    (root / "pyproject.toml").write_text(config(ports["staging"], ports["production"], files))

    result = cli("--repo", root, "reconcile", "--env", "production", "--apply")

    assert result.code == 1, result.out
    assert named in result.err and "TLS" in result.err, result.err
    assert router.conf.read_text() == conf
    assert router.observed() == running
    assert get(router, "/-/healthz", certificates.client_context(router.tls.ca))[0] == 200


def test_reconcile_renews_a_certificate_near_expiry_and_nginx_serves_it(
    deployed: tuple[Path, Router], cli: Any
) -> None:
    """With nothing else to change, `mlops reconcile --apply` replaces a local certificate
    that expires within 30 days, reloads the router with it, and reports the https URL and
    the CA that verifies it."""
    root, router = deployed
    settings = load_settings(root)
    Path(router.tls.cert).unlink()
    certificates.ensure_local(settings.deploy_folder, datetime.now(UTC) - timedelta(days=70))
    table = router.observed()
    assert table is not None
    router.apply(table)
    aging = handshake(router)[1]

    result = cli("--repo", root, "reconcile", "--env", "production", "--apply", "--json")

    assert result.code == 0, result.err
    (outcome,) = json.loads(result.out)["deployments"]
    assert outcome["steps"] == [] and outcome["failures"] == []
    port = settings.deploy.ports["production"]
    assert outcome["url"] == f"https://127.0.0.1:{port}"
    assert outcome["ca"] == str(settings.deploy_folder / "tls" / "ca.pem") == router.tls.ca
    served = handshake(router)[1]
    assert served.serial_number != aging.serial_number
    assert served.not_valid_after_utc > datetime.now(UTC) + timedelta(days=89)
    assert router.observed() == table
