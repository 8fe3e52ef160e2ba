"""API keys of the clients that call served models: one per client, scoped to models and
environments, kept only as hashes.

A key reads `mlk_<id>_<secret>`: the id (8 hex digits) names it in logs, listings and audits;
the secret (32 random bytes, base64url) is shown once, when the key is made, and stored only
as its SHA-256. A plain hash suffices because the secret is random and 256 bits long: no
dictionary guesses it, and checking it costs a microsecond per request, where a password hash
(bcrypt, Argon2) would cost tens of milliseconds on every call for no added safety.

The entries live in `policies/api-keys.yaml` (reviewed like every other change); reconcile
copies them to the deploy host, where every server rereads them when they change, so a key
revoked there is refused from the next request on, without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlops.core.diagnostics import Diagnostic
from mlops.core.document import Document
from mlops.core.moments import parse_moment

PREFIX = "mlk"
ANY = "*"
KEY = re.compile(r"^mlk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
ID = re.compile(r"^[0-9a-f]{8}$")


@dataclass(frozen=True)
class KeyEntry:
    """One client's key as the keys file records it (never the key itself)."""

    id: str
    client: str
    digest: str  # sha256:<hex> of the secret
    models: tuple[str, ...]
    environments: tuple[str, ...]
    created: datetime
    expires: datetime | None = None
    revoked: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.revoked is not None and self.revoked <= now:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"

    def allows(self, model: str, environment: str) -> bool:
        return (ANY in self.models or model in self.models) and (
            ANY in self.environments or environment in self.environments
        )

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id, "client": self.client, "sha256": self.digest.removeprefix("sha256:"),
            "models": list(self.models), "environments": list(self.environments),
            "created": stamp(self.created),
        }  # fmt: skip
        if self.expires is not None:
            entry["expires"] = stamp(self.expires)
        if self.revoked is not None:
            entry["revoked"] = stamp(self.revoked)
        return entry


@dataclass(frozen=True)
class Verdict:
    """Whether a request's key may call: its id (None: no key of ours) and, when it may not,
    the status (401 unknown, wrong, revoked or expired; 403 out of scope) and why."""

    key_id: str | None
    status: int = 200
    error: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


def new_key(random: bytes, taken: Iterable[str] = ()) -> tuple[str, str]:
    """A new key's id and the key itself, from 36 random bytes (4 for the id, 32 for the
    secret); the id must not be one of `taken`."""
    if len(random) != 36:
        raise ValueError("a key needs 36 random bytes")
    key_id = random[:4].hex()
    if key_id in set(taken):
        raise ValueError(f"key id {key_id} is taken")
    secret = base64.urlsafe_b64encode(random[4:]).decode().rstrip("=")
    return key_id, f"{PREFIX}_{key_id}_{secret}"


def digest(key: str) -> str:
    """What the keys file stores of a key: the SHA-256 of its secret."""
    match = KEY.fullmatch(key)
    secret = match.group(2) if match else key
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def offered_key(authorization: str | None, header: str | None) -> str | None:
    """The key a request carries: `Authorization: Bearer <key>`, else `X-API-Key`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return header.strip() if header and header.strip() else None


def verdict(keys: Mapping[str, KeyEntry], offered: str | None, model: str, environment: str,
            now: datetime) -> Verdict:  # fmt: skip
    """Whether `offered` may call `model` in `environment` at `now`."""
    if offered is None:
        return Verdict(
            None,
            401,
            "an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>",
        )
    match = KEY.fullmatch(offered)
    entry = keys.get(match.group(1)) if match else None
    if match is None or entry is None:
        return Verdict(None, 401, "the API key is not valid")
    if not hmac.compare_digest(digest(offered), entry.digest):
        return Verdict(None, 401, "the API key is not valid")
    state = entry.state(now)
    if state == "revoked":
        return Verdict(entry.id, 401, f"API key {entry.id} was revoked")
    if state == "expired":
        return Verdict(entry.id, 401, f"API key {entry.id} expired at {stamp(entry.expires)}")
    if not entry.allows(model, environment):
        return Verdict(entry.id, 403, f"API key {entry.id} may not call {model} in {environment}")
    return Verdict(entry.id)


def parse_entries(data: Any) -> tuple[list[KeyEntry], list[tuple[tuple[Any, ...], str]]]:
    """The entries of a keys document (`{"keys": [...]}`) and, for each one that cannot be
    used, its JSON path and what is wrong (the schema says the same for the repository's
    file; the deploy host's copy is read with this alone)."""
    entries: list[KeyEntry] = []
    problems: list[tuple[tuple[Any, ...], str]] = []
    items = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        return [], [((), "expected an object with a list of keys under `keys`")]
    seen: set[str] = set()
    for index, item in enumerate(items):
        where: tuple[Any, ...] = ("keys", index)
        try:
            entry = _entry(item)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append((where, str(exc).strip("'\"")))
            continue
        if entry.id in seen:
            problems.append(((*where, "id"), f"key id {entry.id} appears twice"))
            continue
        seen.add(entry.id)
        entries.append(entry)
    return entries, problems


def _entry(item: Any) -> KeyEntry:
    if not isinstance(item, Mapping):
        raise TypeError("expected a key entry (an object)")
    key_id = str(item["id"])
    if not ID.fullmatch(key_id):
        raise ValueError(f"id {key_id!r} is not 8 hex digits")
    sha = str(item["sha256"])
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValueError("sha256 is not 64 hex digits")
    return KeyEntry(
        key_id, str(item["client"]), f"sha256:{sha}", _names(item, "models"),
        _names(item, "environments"), _time(item["created"]),
        _time(item["expires"]) if item.get("expires") else None,
        _time(item["revoked"]) if item.get("revoked") else None,
    )  # fmt: skip


def _names(item: Mapping[str, Any], field: str) -> tuple[str, ...]:
    names = item[field]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{field} must be a non-empty list of names (or '*')")
    return tuple(names)


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} names no zone: write it in UTC, ending in Z")
    return moment


def keys_rules(doc: Document, known: set[str]) -> list[Diagnostic]:
    """What the schema cannot say: each id once, and each model one the repository has."""
    items = doc.get(("keys",))
    if not isinstance(items, list):
        return []
    problems: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        key_id = item.get("id")
        if isinstance(key_id, str) and key_id in seen:
            twice = f"expected each id once; {key_id} is also $.keys[{seen[key_id]}]'s"
            problems.append(doc.error(("keys", index, "id"), twice))
        elif isinstance(key_id, str):
            seen[key_id] = index
        for place, model in enumerate(item.get("models") or []):
            if isinstance(model, str) and model != ANY and model not in known:
                problems.append(doc.error(("keys", index, "models", place),
                                          f"expected a model of this repository; {model!r} has"
                                          " no models/<name>/model.yaml"))  # fmt: skip
    return problems


def expiry(text: str, now: datetime) -> datetime:
    """When a key made `now` expires: `90d` (days from now) or an ISO 8601 time or date (UTC
    unless it says otherwise); ValueError says what was expected."""
    days = re.fullmatch(r"(\d{1,5})d", text.strip())
    if days:
        return now + timedelta(days=int(days.group(1)))
    try:
        return parse_moment(text)
    except ValueError:
        raise ValueError(f"{text!r}: expected a number of days like 90d, or a time like"
                         " 2027-01-31T00:00Z") from None  # fmt: skip


def document(entries: Sequence[KeyEntry]) -> dict[str, Any]:
    return {"keys": [entry.to_dict() for entry in entries]}


def stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds").replace("+00:00", "Z")
