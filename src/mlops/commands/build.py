"""`mlops build NAME VERSION [--apply]`: the bento and container image of one registered version.

Prints what would be built by default; `--apply` verifies the logged model against the
`model_sha256` registry.yaml recorded, builds the image, pushes it to the image registry when
one is configured (`[tool.mlops.deploy] registry`, or MLOPS_IMAGE_REGISTRY; without one the
image stays on this engine), and records its bento tag, image ID and pinned reference in the
version's registry entry, ready to commit (see `mlops.flows.building`).
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.core import layout
from mlops.flows.building import version_image
from mlops.output import console, print_json, progress


@click.command("build")
@click.argument("name")
@click.argument("version")
@click.option("--apply", "apply", is_flag=True, help="Build and write the digest (default: plan).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, version: str, apply: bool, as_json: bool) -> None:
    """Build NAME's VERSION into a container image, push it, and record it in registry.yaml."""
    root = find_root(obj.get("repo"))
    with progress(apply and not as_json) as reporter:  # stages on stderr, as they run
        result = version_image(root, name, version, apply=apply, progress=reporter)
    if as_json:
        print_json(result.to_dict())
        return
    out = console(stderr=True)
    built, recorded = result.built, result.recorded
    if built is None:
        digest = recorded.get("image_digest")
        now = (f"registry.yaml records {recorded.get('image') or digest[:19]} (bento "
               f"{recorded.get('bento_tag')})" if digest else "no image yet")  # fmt: skip
        push = f" and push it to {result.registry}" if result.registry else ""
        out.print(f"Plan: verify {result.model_uri} and build its image{push}; {now}")
        out.print("Plan only: run again with --apply to build and record the image")
        return
    out.print(f"[green]✓[/] {built.image} ({built.digest[:19]}), bento {built.bento_tag}")
    pushed = (result.record or {}).get("image")
    if pushed and result.registry:
        out.print(f"[green]✓[/] pushed {pushed}")
    if result.registry_changed:
        out.print(f"wrote the image into {layout.REGISTRY}; commit it")
