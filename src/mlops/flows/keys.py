"""Clients' API keys: made, listed and revoked in policies/api-keys.yaml, and published to the
deploy host, where the servers read them (`mlops.serving.access`).

The repository's file is the record, reviewed and merged like any change; `mlops reconcile`
publishes it to `<deploy folder>/access/keys.json` on every run. A revocation is urgent, so
`mlops keys revoke --apply` run on a deploy host also publishes at once: its servers refuse
the key from their next request, before the change is even merged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from mlops.adapters import atomic
from mlops.adapters.settings import Settings, load_settings
from mlops.core import api_keys, layout
from mlops.core.api_keys import KeyEntry
from mlops.core.stages import ENVIRONMENTS
from mlops.errors import InvalidInput, UsageError
from mlops.flows.registry_file import render_registry
from mlops.flows.repository import RepositoryCheck, check_repository


@dataclass(frozen=True)
class Made:
    """A key made (the key itself only when it was written: it is shown once)."""

    entry: KeyEntry
    key: str | None
    published: Path | None = None


def entries(root: Path, check: RepositoryCheck | None = None) -> list[KeyEntry]:
    """The keys policies/api-keys.yaml records (`check`: the repository's, when made
    already); InvalidInput with its lines when it is not valid (nothing is changed or
    published from a file that is not)."""
    check = check or check_repository(root)
    problems = [d for d in check.errors() if d.file == layout.KEYS_POLICY]
    if problems or check.keys is None:
        raise InvalidInput(f"{layout.KEYS_POLICY} is invalid",
                           hint="fix it first: `mlops validate`", diagnostics=problems)  # fmt: skip
    found, unusable = api_keys.parse_entries(check.keys.data)
    if unusable:
        path, problem = unusable[0]
        raise InvalidInput(f"{layout.KEYS_POLICY} at {'/'.join(map(str, path))}: {problem}")
    return found


def create(root: Path, client: str, models: list[str], environments: list[str],
           expires: datetime | None, now: datetime, apply: bool) -> Made:  # fmt: skip
    """A new key for `client`; written to the file (and returned) only with `apply`."""
    check = check_repository(root)
    present = entries(root, check)
    known = set(check.manifests)
    for model in models:
        if model != api_keys.ANY and model not in known:
            raise UsageError(f"no model {model!r} in this repository",
                             hint="name models with --model, or --model '*' for all")  # fmt: skip
    for environment in environments:
        if environment != api_keys.ANY and environment not in ENVIRONMENTS:
            raise UsageError(f"no environment {environment!r}: expected one of"
                             f" {', '.join(ENVIRONMENTS)} or '*'")  # fmt: skip
    if expires is not None and expires <= now:
        raise UsageError(f"--expires {api_keys.stamp(expires)} is not in the future")
    key_id, key = api_keys.new_key(os.urandom(36), [e.id for e in present])
    entry = KeyEntry(key_id, client, api_keys.digest(key), tuple(models), tuple(environments),
                     now.replace(microsecond=0), expires)  # fmt: skip
    if not apply:
        return Made(entry, None)
    _write(root, [*present, entry])
    return Made(entry, key)


def revoke(root: Path, key_id: str, now: datetime, apply: bool) -> tuple[KeyEntry, Path | None]:
    """Revoke `key_id` from `now`; with `apply` the file is written and, on a deploy host,
    the keys published at once. Returns the entry as revoked and where it was published."""
    present = entries(root)
    match = [e for e in present if e.id == key_id]
    if not match:
        known = ", ".join(e.id for e in present) or "none"
        raise UsageError(f"no key {key_id!r} in {layout.KEYS_POLICY} (keys: {known})")
    if match[0].revoked is not None and match[0].revoked <= now:
        raise UsageError(f"key {key_id} was revoked at {api_keys.stamp(match[0].revoked)}")
    revoked = replace(match[0], revoked=now.replace(microsecond=0))
    if not apply:
        return revoked, None
    updated = [revoked if e.id == key_id else e for e in present]
    _write(root, updated)
    settings = load_settings(root)
    deploy_host = settings.access_keys.exists()
    return revoked, publish(settings, updated) if deploy_host else None


def publish(settings: Settings, found: list[KeyEntry]) -> Path:
    """Write the keys where this deploy host's servers read them (atomically, so a server
    never reads half a file); returns the file."""
    path = settings.access_keys
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(api_keys.document(found), indent=1) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic.write_text(path, text)
    return path


def _write(root: Path, found: list[KeyEntry]) -> None:
    path = root / layout.KEYS_POLICY
    data = {"schema_version": 1, **api_keys.document(found)}
    atomic.write_text(path, render_registry(path.read_text(encoding="utf-8"), data))
