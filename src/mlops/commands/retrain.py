"""`mlops retrain`: open a retraining pull request when a model is stale or keeps drifting."""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.errors import MlopsError, UsageError
from mlops.flows.retraining import FAILED, OPENED, PLANNED, Retraining, retrain, retrain_all
from mlops.output import console, print_json, progress


@click.command("retrain")
@click.argument("name", required=False)
@click.option("--all", "every", is_flag=True,
              help="Every model with a monitoring.retrain rule (retrain.yml).")  # fmt: skip
@click.option("--apply", "apply_", is_flag=True,
              help="Refresh the data, train on a branch and open the pull request.")  # fmt: skip
@click.option("--base", default="main", show_default=True,
              help="The branch the pull request merges into.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str | None, every: bool, apply_: bool, base: str,
            as_json: bool) -> None:  # fmt: skip
    """Propose retraining NAME when monitoring.retrain says it is due: production older than
    max_age_days, or (with on_drift) drift or a performance breach in each of the last two
    monitoring runs.

    With --apply: re-run the stage that writes the training data, train and register the
    result on a new branch, push it and open a pull request (GITHUB_TOKEN,
    GITHUB_REPOSITORY) that the ordinary review and gates decide on. Never promotes; never
    opens a second pull request while one is open; says why when nothing is due.
    """
    if (name is None) == (not every):
        raise UsageError("give a model NAME or --all (not both)")
    root = find_root(obj.get("repo"))
    with progress(not as_json) as reporter:
        results = (retrain_all(root, apply_, base, reporter) if every
                   else [retrain(root, str(name), apply_, base, progress=reporter)])  # fmt: skip
    if as_json:
        print_json([r.as_dict() for r in results] if every else results[0].as_dict())
    else:
        for result in results:
            _print(result, base)
    failed = [r for r in results if r.status == FAILED]
    if failed:
        raise MlopsError("; ".join(f"{r.model}: {' '.join(r.notes)}" for r in failed))


def _print(result: Retraining, base: str) -> None:
    out = console()
    out.print(f"{result.model}: {result.status}")
    for reason in result.reasons:
        out.print(f"  due: {reason}")
    for note in result.notes:
        out.print(f"  {note}")
    if result.status == PLANNED:
        out.print(f"  would train on branch {result.branch} and open a pull request into {base};"
                  " run again with --apply")  # fmt: skip
    elif result.status == OPENED:
        out.print(f"  version {result.version} trained on {result.branch}: {result.pull_request}")
