"""TLS of the routers: which files nginx serves, which names a certificate must carry, and
when the generated one is renewed.

Every router (one nginx per environment) listens on 127.0.0.1 with TLS only; the model
servers behind it stay plain HTTP on 127.0.0.1. Clients reach a router as
`https://127.0.0.1:<port>` (or `https://localhost:<port>`) and verify it with a CA file:
by default a local CA the deploy host generates once (`<deploy folder>/tls/ca.pem`); a site
may configure its own certificate, key and CA instead (`[tool.mlops.deploy] tls`).

Pure: the certificate's facts (names, validity) come in as plain values; the adapter
`mlops.adapters.certificates` reads and writes the files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# The names a router's certificate carries: the address it listens on, and the name a
# client on the same host may use instead.
SERVER_NAMES = ("127.0.0.1", "localhost")
# The name every certificate must carry: clients (probes, smoke checks, tests) call the
# router at this address and verify the certificate against it.
REQUIRED_NAME = "127.0.0.1"
CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=90)
# A generated server certificate is replaced when it expires within this time, so the next
# reconcile renews it long before a client could see it expire.
RENEW_BEFORE = timedelta(days=30)
# The folder of the deploy folder that holds the generated CA and server certificate, and
# the names of its files.
LOCAL_FOLDER = "tls"
CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"


@dataclass(frozen=True)
class TlsFiles:
    """What one router serves and what its clients trust: absolute paths of PEM files."""

    cert: str  # the server certificate (with its chain, if any)
    key: str  # its private key
    ca: str  # the CA certificate a client verifies the server certificate with

    def __post_init__(self) -> None:
        for name in ("cert", "key", "ca"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith("/"):
                raise ValueError(f"the TLS {name} must be an absolute path, not {value!r}")


def missing_names(names: Iterable[str]) -> list[str]:
    """The names a router's certificate lacks of those clients use (empty: it is usable)."""
    return [] if REQUIRED_NAME in set(names) else [REQUIRED_NAME]


def renewal_reason(
    names: Iterable[str],
    not_after: datetime,
    now: datetime,
    wanted: Iterable[str] = SERVER_NAMES,
    renew_before: timedelta = RENEW_BEFORE,
) -> str | None:
    """Why a generated server certificate must be replaced, or None while it is good: its
    names differ from `wanted`, or it expires within `renew_before` (or has expired)."""
    have, want = sorted(set(names)), sorted(set(wanted))
    if have != want:
        return f"its names {', '.join(have) or '(none)'} are not {', '.join(want)}"
    if not_after <= now:
        return f"it expired on {not_after:%Y-%m-%d}"
    if not_after - now <= renew_before:
        return f"it expires on {not_after:%Y-%m-%d}, within {renew_before.days} days"
    return None
