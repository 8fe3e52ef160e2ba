"""TLS of the routers: the nginx configuration it renders, the local CA and server certificate
generated with `cryptography` (names, validity, key permissions, renewal), the checks of a
site's own certificate, and the `tls` setting."""

from __future__ import annotations

import ipaddress
import re
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store

from mlops.adapters import certificates
from mlops.adapters.certificates import CertificateError
from mlops.adapters.settings import load_settings
from mlops.core import tls
from mlops.core.routing import Backend, RouteTable, render
from mlops.core.tls import TlsFiles, missing_names, renewal_reason
from mlops.errors import MlopsError

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FILES = TlsFiles("/etc/mlops/router.pem", "/etc/mlops/router-key.pem", "/etc/mlops/ca.pem")


def table() -> RouteTable:
    return RouteTable("production", 18080, {"churn": (Backend("3", "127.0.0.1:9201", 100),)})


def server_block(config: str) -> str:
    return config[config.index("server {") :]


def cert(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


# -- the configuration ---------------------------------------------------------------------


def test_with_certificates_the_router_listens_with_tls_only() -> None:
    """It listens on 127.0.0.1:<port> with `ssl` and no plain listener, serves the given
    certificate and key, TLS 1.2 and 1.3 only, with a shared session cache and no HTTP/2."""
    config = render(table(), "/srv/router", tls=FILES)
    listens = re.findall(r"^\s*listen (.*);$", config, re.MULTILINE)
    assert listens == ["127.0.0.1:18080 ssl"]
    server = server_block(config)
    assert "ssl_certificate '/etc/mlops/router.pem';" in server
    assert "ssl_certificate_key '/etc/mlops/router-key.pem';" in server
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in server
    assert re.search(r"ssl_session_cache shared:\w+:\d+m;", server)
    assert "http2" not in config


def test_plain_http_to_the_tls_port_is_refused_with_json_naming_https() -> None:
    """nginx's code for plain HTTP on a TLS port (497) becomes a JSON 400 that names the
    https URL: a refusal, never a redirect."""
    server = server_block(render(table(), "/srv/router", tls=FILES))
    assert "error_page 497 =400 @plain_http;" in server
    location = server[server.index("location @plain_http") :]
    assert 'return 400 \'{"error": "this port speaks HTTPS only: call ' in location
    assert "https://127.0.0.1:18080/" in location
    assert "return 301" not in server and "return 302" not in server


def test_tls_paths_cannot_inject_nginx_variables() -> None:
    """A certificate path with `$` is refused rather than written into the configuration."""
    with pytest.raises(ValueError, match="contains '\\$'"):
        render(table(), "/srv/router", tls=TlsFiles("/etc/$host.pem", FILES.key, FILES.ca))


def test_tls_files_are_absolute_paths() -> None:
    """Relative certificate paths would be read from nginx's prefix: they are refused."""
    with pytest.raises(ValueError, match="absolute path"):
        TlsFiles("router.pem", FILES.key, FILES.ca)


# -- which names, and when to renew --------------------------------------------------------


def test_a_certificate_must_name_the_address_clients_call() -> None:
    """127.0.0.1 is the name every client verifies; localhost alone is not enough."""
    assert missing_names(["127.0.0.1", "models.example"]) == []
    assert missing_names(["localhost"]) == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("names", "expires", "reason"),
    [
        (("127.0.0.1", "localhost"), NOW + timedelta(days=60), None),
        (("localhost", "127.0.0.1"), NOW + timedelta(days=31), None),
        (("127.0.0.1", "localhost"), NOW + timedelta(days=30), "within 30 days"),
        (("127.0.0.1", "localhost"), NOW - timedelta(days=1), "expired on 2026-05-31"),
        (("127.0.0.1",), NOW + timedelta(days=60), "names 127.0.0.1 are not 127.0.0.1, localhost"),
        (("127.0.0.1", "localhost", "old.example"), NOW + timedelta(days=60), "are not"),
    ],
)  # fmt: skip
def test_renewal_follows_expiry_and_names(
    names: tuple[str, ...], expires: datetime, reason: str | None
) -> None:
    """A generated certificate is renewed within 30 days of expiry, once expired, or when
    its names are not exactly the wanted ones."""
    found = renewal_reason(names, expires, NOW)
    assert (found is None) if reason is None else (found is not None and reason in found)


# -- the local CA --------------------------------------------------------------------------


def test_the_local_ca_signs_a_server_certificate_for_loopback(tmp_path: Path) -> None:
    """The first call makes a CA and a 90-day server certificate for 127.0.0.1 and localhost
    that a client trusting only the CA accepts for both names."""
    files = certificates.ensure_local(tmp_path, NOW)
    assert files == certificates.local_files(tmp_path)
    assert Path(files.ca) == tmp_path / "tls" / "ca.pem"
    server, ca = cert(files.cert), cert(files.ca)
    assert sorted(certificates.names(server)) == ["127.0.0.1", "localhost"]
    assert server.not_valid_after_utc - NOW == tls.SERVER_VALIDITY
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in (x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")):
        verifier = PolicyBuilder().store(Store([ca])).time(NOW).build_server_verifier(name)
        verifier.verify(server, [])
    key = serialization.load_pem_private_key(Path(files.key).read_bytes(), None)
    assert key.public_key() == server.public_key()


def test_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """The CA key and the server key are 0600 and their folder 0700; the certificates are
    readable by anyone."""
    files = certificates.ensure_local(tmp_path, NOW)
    folder = tmp_path / "tls"
    mode = lambda path: stat.S_IMODE(Path(path).stat().st_mode)  # noqa: E731
    assert mode(folder) == 0o700
    assert mode(folder / "ca-key.pem") == mode(files.key) == 0o600
    assert mode(files.cert) == mode(files.ca) == 0o644


def test_a_current_certificate_is_kept(tmp_path: Path) -> None:
    """A second call the next day changes no file."""
    files = certificates.ensure_local(tmp_path, NOW)
    before = {p: Path(p).read_bytes() for p in (files.cert, files.key, files.ca)}
    certificates.ensure_local(tmp_path, NOW + timedelta(days=1))
    assert {p: Path(p).read_bytes() for p in before} == before
    assert certificates.renewal_reason(files, NOW + timedelta(days=1)) is None


def test_a_certificate_near_expiry_is_renewed_by_the_same_ca(tmp_path: Path) -> None:
    """Within 30 days of expiry the server certificate and key are made again; the CA and
    its key stay, so clients keep trusting the router."""
    files = certificates.ensure_local(tmp_path, NOW)
    ca_before = Path(files.ca).read_bytes(), (tmp_path / "tls" / "ca-key.pem").read_bytes()
    old = cert(files.cert)
    later = NOW + timedelta(days=61)
    assert "within 30 days" in (certificates.renewal_reason(files, later) or "")
    certificates.ensure_local(tmp_path, later)
    new = cert(files.cert)
    assert new.serial_number != old.serial_number and new.not_valid_after_utc > later
    assert (Path(files.ca).read_bytes(), (tmp_path / "tls" / "ca-key.pem").read_bytes()) == (
        ca_before
    )
    new.verify_directly_issued_by(cert(files.ca))


def test_a_certificate_another_ca_issued_or_a_lost_key_is_replaced(tmp_path: Path) -> None:
    """A server certificate not issued by the folder's CA, or one whose key is gone, is
    issued again."""
    files = certificates.ensure_local(tmp_path / "a", NOW)
    other = certificates.ensure_local(tmp_path / "b", NOW)
    shutil.copy(other.cert, files.cert)
    shutil.copy(other.key, files.key)
    assert certificates.renewal_reason(files, NOW) == "the local CA did not issue it"
    certificates.ensure_local(tmp_path / "a", NOW)
    cert(files.cert).verify_directly_issued_by(cert(files.ca))
    Path(files.key).unlink()
    certificates.ensure_local(tmp_path / "a", NOW)
    assert certificates.renewal_reason(files, NOW) is None


# -- a site's own certificate --------------------------------------------------------------


def test_a_sites_own_certificate_is_accepted_when_it_fits(tmp_path: Path) -> None:
    """A certificate for 127.0.0.1, its key and the CA that issued it pass the checks."""
    site = certificates.ensure_local(tmp_path, NOW)
    assert certificates.check_configured(site, NOW) == site


def test_a_missing_certificate_file_is_named(tmp_path: Path) -> None:
    """A configured certificate that does not exist is named in the error."""
    site = certificates.ensure_local(tmp_path, NOW)
    missing = str(tmp_path / "nowhere.pem")
    with pytest.raises(CertificateError, match=f"TLS certificate {missing} does not exist"):
        certificates.check_configured(TlsFiles(missing, site.key, site.ca), NOW)


def test_a_key_that_does_not_match_the_certificate_is_named(tmp_path: Path) -> None:
    """The error names both the key and the certificate it does not belong to."""
    site = certificates.ensure_local(tmp_path / "a", NOW)
    other = certificates.ensure_local(tmp_path / "b", NOW)
    with pytest.raises(CertificateError) as raised:
        certificates.check_configured(TlsFiles(site.cert, other.key, site.ca), NOW)
    assert raised.value.message == (f"TLS key {other.key} does not match certificate {site.cert}")


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("untrusted", "is not trusted by CA"),
        ("expired", "is not valid now"),
        ("not pem", "is not a PEM certificate"),
        ("encrypted key", "is not an unencrypted PEM private key"),
    ],
)  # fmt: skip
def test_other_unusable_site_files_are_named(tmp_path: Path, problem: str, message: str) -> None:
    """A certificate another CA issued, an expired one, a file that is not PEM, and a key
    nginx cannot read unattended are refused, naming the file."""
    site = certificates.ensure_local(tmp_path / "a", NOW)
    other = certificates.ensure_local(tmp_path / "b", NOW)
    files, now, named = site, NOW, site.cert
    if problem == "untrusted":
        files = TlsFiles(site.cert, site.key, other.ca)
    elif problem == "expired":
        now = NOW + timedelta(days=365)
    elif problem == "not pem":
        Path(site.cert).write_text("hello\n")
    else:
        key = serialization.load_pem_private_key(Path(site.key).read_bytes(), None)
        encrypted = key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"secret"))  # fmt: skip
        Path(site.key).write_bytes(encrypted)
        named = site.key
    with pytest.raises(CertificateError, match=message) as raised:
        certificates.check_configured(files, now)
    assert named in raised.value.message


def test_a_client_context_without_the_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    """Asking to trust a CA file that is not there names the file."""
    with pytest.raises(CertificateError, match=r"cannot read the routers' CA .*ca\.pem"):
        certificates.client_context(tmp_path / "ca.pem")


# -- the setting ---------------------------------------------------------------------------


def test_the_tls_setting_names_files_relative_to_the_checkout(tmp_path: Path) -> None:
    """`[tool.mlops.deploy] tls` gives cert, key and ca; relative paths are the checkout's;
    without it the local CA is used."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mlops.deploy]\ntls = { cert = "tls/r.pem", key = "/k.pem", ca = "tls/ca.pem" }\n'
    )
    found = load_settings(tmp_path).deploy.tls
    assert found == TlsFiles(str(tmp_path / "tls/r.pem"), "/k.pem", str(tmp_path / "tls/ca.pem"))
    (tmp_path / "pyproject.toml").write_text("[tool.mlops.deploy]\n")
    assert load_settings(tmp_path).deploy.tls is None


@pytest.mark.parametrize(
    "value",
    ['"tls/r.pem"', '{ cert = "r.pem", key = "k.pem" }', '{ cert = "r.pem", key = "k.pem", ca = 3 }',
     '{ cert = "r.pem", key = "", ca = "ca.pem" }'],
)  # fmt: skip
def test_a_malformed_tls_setting_is_refused(tmp_path: Path, value: str) -> None:
    """Anything but a table of three file paths is refused, naming the setting."""
    (tmp_path / "pyproject.toml").write_text(f"[tool.mlops.deploy]\ntls = {value}\n")
    with pytest.raises(MlopsError, match=r"\[tool.mlops.deploy\] tls"):
        load_settings(tmp_path)
