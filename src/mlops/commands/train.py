"""`mlops train`: run models' DVC pipelines and record each result as a new MLflow version
(see `mlops.flows.training` for what a failure leaves behind: nothing half-done)."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.errors import UsageError
from mlops.flows.training import train_models
from mlops.output import print_json, print_table, progress


@click.command("train")
@click.argument("names", nargs=-1)
@click.option("--changed", is_flag=True, help="Train the models `mlops plan` finds changed.")
@click.option("--base", help="With --changed: what the change is compared with.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_obj
def command(
    obj: dict[str, Any], names: tuple[str, ...], changed: bool, base: str | None, as_json: bool
) -> None:
    """Train models: run each one's DVC pipeline, track it in MLflow, register a version.

    A model whose trained artifact is already registered is reported, not registered again.
    """
    root = find_root(obj.get("repo"))
    if changed == bool(names) or (changed and not base):
        raise UsageError("give model NAMES, or --changed --base REF")
    with progress(not as_json) as reporter:  # stages on stderr, as they run
        results = train_models(root, list(names), changed_since=base if changed else None,
                               progress=reporter)  # fmt: skip
    if as_json:
        print_json({"results": [r.to_dict() for r in results]})
        return
    rows = [
        (r.model, r.version + (" (unchanged)" if r.reused else " (new)"), _metrics_text(r.metrics),
         f"{r.seconds:.1f}s")
        for r in results
    ]  # fmt: skip
    print_table(f"Trained {len(results)} model(s)", ("model", "version", "metrics", "time"), rows)


def _metrics_text(metrics: dict[str, float]) -> str:
    held_out = sorted((k, v) for k, v in metrics.items() if not k.startswith("train_"))
    return ", ".join(f"{k}={v:.4g}" for k, v in held_out)
