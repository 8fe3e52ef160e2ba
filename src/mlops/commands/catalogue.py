"""`mlops catalogue`: the model catalogue as a static site (and, with --publish, a Pages branch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.flows import catalogue_site
from mlops.output import console, print_json


@click.command("catalogue")
@click.option("--out", type=click.Path(path_type=Path), default=Path("site"), show_default=True,
              help="The folder the site is written to (replaced as a whole).")  # fmt: skip
@click.option("--publish", "branch", metavar="BRANCH",
              help="Also push the site as the next commit of BRANCH (empty: no).")  # fmt: skip
@click.option("--remote", default="origin", show_default=True, help="The remote of --publish.")
@click.option("--ref", default="HEAD", show_default=True,
              help="The branch whose main line gives deploys and rollbacks.")  # fmt: skip
@click.option("--repository", help="OWNER/NAME on GitHub (default: GITHUB_REPOSITORY).")
@click.option("--no-tracking", is_flag=True, help="Do not read the tracking store.")
@click.option("--json", "as_json", is_flag=True, help="Print the overview's data as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], out: Path, branch: str | None, remote: str, ref: str,
            repository: str | None, no_tracking: bool, as_json: bool) -> None:  # fmt: skip
    """Render the model catalogue: index.html, an overview leadership can read (models in
    production, deploys and rollbacks per month, time from pull request to production,
    incidents caught by monitoring), and one page per model (card, owners, stages, versions
    with metrics, latest batch and monitoring results, open alerts).

    Pull requests, deployments and alert issues are read from GitHub with GITHUB_TOKEN and
    GITHUB_REPOSITORY; batch and monitoring runs from the tracking store. What cannot be read
    is shown as not available, with the reason.
    """
    root = find_root(obj.get("repo"))
    built = catalogue_site.build(root, out, branch, remote, ref, repository, not no_tracking)
    found, written, published = built.catalogue, built.files, built.published
    if as_json:
        print_json(catalogue_site.to_json(found) | {"out": str(out), "files": written,
                                                    "published": published})  # fmt: skip
        return
    view = found.overview
    counts = f"{len(found.models)} models, {view.deploys} deploys, {view.rollbacks} rollbacks"
    console().print(f"Wrote {len(written)} files to {out} ({counts})", markup=False)
    if published:
        console().print(f"Published {published[:12]} to {remote} {branch}", markup=False)
    elif branch is not None:
        console().print("Not published: --publish names no branch (a workflow reads it from"
                        " CATALOGUE_PAGES_BRANCH, which is unset)", markup=False)  # fmt: skip
    for source, what in sorted(found.sources.items()):
        if what.startswith("not available"):
            console(stderr=True).print(f"note: {source}: {what}", markup=False)
