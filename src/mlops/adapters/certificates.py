"""The routers' certificates: a local CA generated once per deploy folder, or a site's own.

By default the deploy host makes its own CA the first time a router starts, and with it a
server certificate for 127.0.0.1 and localhost, all in `<deploy folder>/tls/`:

    ca.pem          the CA certificate: what clients trust (`--cacert`, `cafile=`)
    ca-key.pem      the CA's key (0600): it never leaves this folder
    server.pem      the routers' certificate, signed by the CA (90 days)
    server-key.pem  its key (0600)

The server certificate is issued again whenever it is within 30 days of expiry, no longer
carries exactly the names it should, or was not issued by the CA beside it; the CA stays, so
clients keep trusting the routers. A site with its own PKI configures `[tool.mlops.deploy]
tls = { cert = "...", key = "...", ca = "..." }` instead: those files are checked (they exist,
the key matches the certificate, the certificate is valid now, names 127.0.0.1 and chains to
the CA) and never written.

Keys are ECDSA P-256: small, fast to make, and served by every TLS 1.2 and 1.3 client.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from mlops.core import tls
from mlops.core.tls import TlsFiles
from mlops.errors import MlopsError

CA_NAME = "mlops local CA"


class CertificateError(MlopsError):
    """A certificate, key or CA file is missing, unreadable or does not fit the others."""


def local_files(deploy_folder: Path) -> TlsFiles:
    """Where the generated CA and server certificate of a deploy folder live."""
    folder = Path(deploy_folder).absolute() / tls.LOCAL_FOLDER
    return TlsFiles(str(folder / tls.CERT_FILE), str(folder / tls.KEY_FILE),
                    str(folder / tls.CA_FILE))  # fmt: skip


def ensure_local(deploy_folder: Path, now: datetime | None = None) -> TlsFiles:
    """The deploy folder's CA (made once) and a current server certificate it signed (made
    or renewed as the module docstring says)."""
    files = local_files(deploy_folder)
    folder = Path(files.ca).parent
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    moment = now or datetime.now(UTC)
    with _lock(folder):
        ca_key, ca_cert = _local_ca(folder, moment)
        if _renewal(files, ca_cert, moment) is not None:
            _issue(files, ca_key, ca_cert, moment)
    return files


def renewal_reason(files: TlsFiles, now: datetime | None = None) -> str | None:
    """Why the generated server certificate in `files` would be issued again (None: it is
    good), as `ensure_local` decides."""
    ca = _certificate(Path(files.ca))
    return _renewal(files, ca, now or datetime.now(UTC))


def check_configured(files: TlsFiles, now: datetime | None = None) -> TlsFiles:
    """A site's own certificate, key and CA, checked; CertificateError naming the file at
    fault otherwise."""
    moment = now or datetime.now(UTC)
    cert_path, key_path, ca_path = Path(files.cert), Path(files.key), Path(files.ca)
    chain = _certificates(cert_path)
    key = _private_key(key_path)
    ca = _certificates(ca_path)
    leaf = chain[0]
    if _public_bytes(key.public_key()) != _public_bytes(leaf.public_key()):
        raise CertificateError(
            f"TLS key {key_path} does not match certificate {cert_path}",
            hint="configure the key the certificate was issued for",
        )
    if not leaf.not_valid_before_utc <= moment < leaf.not_valid_after_utc:
        raise CertificateError(
            f"TLS certificate {cert_path} is not valid now (valid from "
            f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d})"
        )
    missing = tls.missing_names(names(leaf))
    if missing:
        raise CertificateError(
            f"TLS certificate {cert_path} does not name {', '.join(missing)}: the routers "
            "listen there and clients verify that name",
            hint="issue it with subjectAltName IP:127.0.0.1 (and DNS:localhost)",
        )
    try:
        _verify(leaf, chain[1:], ca, moment)
    except VerificationError as error:
        raise CertificateError(
            f"TLS certificate {cert_path} is not trusted by CA {ca_path}: {error}"
        ) from error
    return files


def client_context(ca: str | Path) -> ssl.SSLContext:
    """A client context that trusts the routers' CA (and verifies names, as always)."""
    try:
        return ssl.create_default_context(cafile=str(ca))
    except (OSError, ssl.SSLError) as error:
        raise CertificateError(f"cannot read the routers' CA {ca}: {error}") from error


def fingerprint(files: TlsFiles) -> str:
    """A hash of the certificate and key a router serves: it changes when they change."""
    digest = hashlib.sha256()
    for path in (files.cert, files.key):
        try:
            digest.update(Path(path).read_bytes())
        except OSError as error:
            raise CertificateError(f"cannot read TLS file {path}: {error.strerror}") from error
    return digest.hexdigest()[:16]


def names(certificate: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a certificate's subjectAltName carries."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    found = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    return found + [str(a) for a in san.get_values_for_type(x509.IPAddress)]


# -- the local CA --------------------------------------------------------------------------


def _local_ca(folder: Path, now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The folder's CA key and certificate, made when there is none."""
    key_path, cert_path = folder / tls.CA_KEY_FILE, folder / tls.CA_FILE
    if key_path.is_file() and cert_path.is_file():
        key = _private_key(key_path)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateError(f"the local CA key {key_path} is not an EC key")
        return key, _certificate(cert_path)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    cert = (
        _builder(subject, subject, key.public_key(), now, tls.CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return key, cert


def _renewal(files: TlsFiles, ca: x509.Certificate, now: datetime) -> str | None:
    try:
        cert = _certificate(Path(files.cert))
        key = _private_key(Path(files.key))
    except CertificateError:
        return "there is none"
    if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
        return "its key does not match it"
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return "the local CA did not issue it"
    return tls.renewal_reason(names(cert), cert.not_valid_after_utc, now)


def _issue(
    files: TlsFiles, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, now: datetime
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    alt = [x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n)
           for n in tls.SERVER_NAMES]  # fmt: skip
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, tls.SERVER_NAMES[0])])
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _builder(subject, ca.subject, key.public_key(), now, tls.SERVER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(Path(files.key), key)
    _write(Path(files.cert), cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey,
    now: datetime, validity: timedelta,
) -> x509.CertificateBuilder:  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # clocks of clients may lag a little
        .not_valid_after(now + validity)
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


# -- files ---------------------------------------------------------------------------------


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"TLS {what} {path} does not exist") from None
    except OSError as error:
        raise CertificateError(f"cannot read TLS {what} {path}: {error.strerror}") from error


def _certificates(path: Path) -> list[x509.Certificate]:
    """The PEM certificates of a file, first to last (a certificate and its chain)."""
    data = _read(path, "certificate")
    try:
        found = x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise CertificateError(f"TLS certificate {path} is not a PEM certificate") from error
    return found


def _certificate(path: Path) -> x509.Certificate:
    return _certificates(path)[0]


def _private_key(path: Path) -> PrivateKeyTypes:
    data = _read(path, "key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise CertificateError(
            f"TLS key {path} is not an unencrypted PEM private key",
            hint="nginx reads the key unattended: it cannot ask for a passphrase",
        ) from error


def _public_bytes(public: object) -> bytes:
    encode = getattr(public, "public_bytes", None)
    if encode is None:
        return b""
    der = serialization.Encoding.DER
    return bytes(encode(der, serialization.PublicFormat.SubjectPublicKeyInfo))


def _verify(
    leaf: x509.Certificate, chain: list[x509.Certificate], cas: list[x509.Certificate],
    now: datetime,
) -> None:  # fmt: skip
    """As a client verifies the router: the chain to a CA of `cas`, for 127.0.0.1."""
    verifier = (
        PolicyBuilder()
        .store(Store(cas))
        .time(now)
        .build_server_verifier(x509.IPAddress(ipaddress.ip_address(tls.REQUIRED_NAME)))
    )
    verifier.verify(leaf, chain)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    _write(path, pem, 0o600)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` atomically; the new file has `mode` from its first byte."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(temporary).replace(path)
    finally:
        Path(temporary).unlink(missing_ok=True)


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """One generation at a time per folder, across processes."""
    with (folder / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
