"""`mlops build NAME VERSION [--apply]`: the bento and container image of one registered version.

Prints what would be built by default; `--apply` verifies the logged model against the
`model_sha256` registry.yaml recorded, builds the image and records its digest and bento tag
in the version's registry entry, ready to commit (see `mlops.flows.building`).
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core import layout
from mlops.flows.building import version_image
from mlops.output import console, print_json


@click.command("build")
@click.argument("name")
@click.argument("version")
@click.option("--apply", "apply", is_flag=True, help="Build and write the digest (default: plan).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, version: str, apply: bool, as_json: bool) -> None:
    """Build NAME's VERSION into a container image and record its digest in registry.yaml."""
    root = find_root(obj.get("repo"))
    result = version_image(root, name, version, apply=apply)
    if as_json:
        print_json(result.to_dict())
        return
    out = console(stderr=True)
    built = result.built
    if built is None:
        tag, digest = result.recorded
        now = f"registry.yaml records {digest[:19]} (bento {tag})" if digest else "no image yet"
        out.print(f"Plan: verify {result.model_uri} and build its image; {now}")
        out.print("Plan only: run again with --apply to build and record the digest")
        return
    out.print(f"[green]✓[/] {built.image} ({built.digest[:19]}), bento {built.bento_tag}")
    if result.registry_changed:
        out.print(f"wrote the digest into {layout.REGISTRY}; commit it")
