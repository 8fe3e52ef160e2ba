"""`mlops audit`: who called a model's API, how often and with which outcomes."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core.stages import ENVIRONMENTS
from mlops.flows import audit
from mlops.flows.history import parse_time
from mlops.output import console, print_json, print_table


@click.command("audit")
@click.argument("name")
@click.option("--since", "since", metavar="TIME", help="Only calls from TIME on (ISO 8601).")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS),
              help="Only this environment's router (default: both).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the callers as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, since: str | None, environment: str | None,
            as_json: bool) -> None:  # fmt: skip
    """Who called NAME's API on this deploy host, by API key id (never the key): calls,
    outcomes by status, versions that answered, latency, first and last call. Read from the
    routers' access logs."""
    found = audit.read(find_root(obj.get("repo")), name, parse_time(since) if since else None,
                       environment)  # fmt: skip
    if as_json:
        print_json({"model": name, "since": since, "files": [str(f) for f in found.files],
                    "callers": [c.to_dict() for c in found.callers],
                    "skipped_lines": found.skipped})  # fmt: skip
        return
    rows = []
    for caller in found.callers:
        data = caller.to_dict()
        outcomes = ", ".join(f"{s}: {n}" for s, n in data["outcomes"].items())
        latency = data["latency_ms"]
        rows.append((caller.key_id, str(caller.calls), outcomes, ", ".join(data["versions"]),
                     f"{latency['p50']} / {latency['p95']}", data["first"] or "",
                     data["last"] or ""))  # fmt: skip
    print_table(f"Callers of {name}" + (f" since {since}" if since else ""),
                ("key id", "calls", "outcomes", "versions", "p50 / p95 ms", "first", "last"),
                rows)  # fmt: skip
    out = console(stderr=True, markup=False)
    if not found.files:
        out.print("note: no router access log on this deploy host")
    for line in found.skipped[:10]:
        out.print(f"note: {line}: not an access-log record, skipped")
