"""`mlops keys create | list | revoke`: one API key per client, scoped to models and
environments, recorded as a hash in policies/api-keys.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core import api_keys
from mlops.core.api_keys import KeyEntry
from mlops.errors import UsageError
from mlops.flows import keys
from mlops.output import console, print_json, print_table


@click.group("keys")
def command() -> None:
    """Make, list and revoke clients' API keys (policies/api-keys.yaml). Commit the file;
    `mlops reconcile` gives the deploy hosts the change."""


@command.command("create")
@click.argument("client")
@click.option("--model", "models", multiple=True, required=True,
              help="A model the key may call (repeat; '*' for all).")  # fmt: skip
@click.option("--env", "environments", multiple=True, default=("production",),
              show_default=True, help="An environment it may call ('*': all).")  # fmt: skip
@click.option("--expires", help="When the key stops working: 90d, or a time (UTC).")
@click.option("--apply", "apply", is_flag=True, help="Make the key (default: show the plan).")
@click.option("--json", "as_json", is_flag=True, help="Print the entry (and key) as JSON.")
@click.pass_obj
def create(obj: dict[str, Any], client: str, models: tuple[str, ...],
           environments: tuple[str, ...], expires: str | None, apply: bool,
           as_json: bool) -> None:  # fmt: skip
    """Make a key for CLIENT. The key is printed once, with --apply: hand it over through a
    secret store; only its hash is kept."""
    now = datetime.now(UTC)
    try:
        until = api_keys.expiry(expires, now) if expires else None
    except ValueError as exc:
        raise UsageError(f"--expires {exc}") from None
    made = keys.create(find_root(obj.get("repo")), client, list(models), list(environments),
                       until, now, apply)  # fmt: skip
    if as_json:
        print_json({"applied": apply, "key": made.key, **_entry(made.entry, now)})
        return
    out = console(markup=False)
    if made.key is None:
        out.print(f"Plan: a key for {client}: {_scope(made.entry)}. Run with --apply to make it.")
        return
    out.print(f"Made key {made.entry.id} for {client}: {_scope(made.entry)}.")
    out.print(f"Key (shown once; only its hash is kept): {made.key}")
    out.print("Commit policies/api-keys.yaml; `mlops reconcile` gives it to the deploy hosts.")


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
@click.pass_obj
def listing(obj: dict[str, Any], as_json: bool) -> None:
    """Every key: id, client, scope and state (never the key)."""
    now = datetime.now(UTC)
    found = keys.entries(find_root(obj.get("repo")))
    if as_json:
        print_json({"keys": [_entry(e, now) for e in found]})
        return
    rows = [(e.id, e.client, ",".join(e.models), ",".join(e.environments), e.state(now),
             api_keys.stamp(e.created), api_keys.stamp(e.expires) or "-")
            for e in found]  # fmt: skip
    columns = ("id", "client", "models", "environments", "state", "created", "expires")
    print_table("API keys (policies/api-keys.yaml)", columns, rows)


@command.command("revoke")
@click.argument("key_id")
@click.option("--apply", "apply", is_flag=True, help="Revoke it (default: show the plan).")
@click.pass_obj
def revoke(obj: dict[str, Any], key_id: str, apply: bool) -> None:
    """Revoke KEY_ID. On a deploy host, --apply also gives its servers the change at once:
    they refuse the key from their next request."""
    entry, published = keys.revoke(find_root(obj.get("repo")), key_id, datetime.now(UTC), apply)
    out = console(markup=False)
    if not apply:
        out.print(f"Plan: revoke key {entry.id} of {entry.client}. Run with --apply to do it.")
        return
    out.print(f"Revoked key {entry.id} of {entry.client} at {api_keys.stamp(entry.revoked)}.")
    if published is not None:
        out.print(f"This deploy host's servers refuse it now ({published}).")
    out.print("Commit policies/api-keys.yaml; `mlops reconcile` gives it to every deploy host.")


def _scope(entry: KeyEntry) -> str:
    until = f", until {api_keys.stamp(entry.expires)}" if entry.expires else ""
    return f"models {', '.join(entry.models)} in {', '.join(entry.environments)}{until}"


def _entry(entry: KeyEntry, now: datetime) -> dict[str, Any]:
    data = entry.to_dict()
    data.pop("sha256")
    return data | {"state": entry.state(now)}
