"""`mlops card NAME...`: write each model's MODEL_CARD.md from its committed files, or check it.

The card is rendered by `mlops.core.card` from files in the repository only (the manifest, the
pipeline's metrics files, params.yaml, dvc.lock, registry.yaml and the promotion policy), so
`--check` gives the same answer on every clean clone. Every card is rendered before any is
written: when one model's inputs are broken, no card changes.
"""

from __future__ import annotations

from typing import Any

import click

from mlops.adapters import atomic
from mlops.adapters.repository import find_root
from mlops.errors import MlopsError
from mlops.flows.cards import Card, render_cards, select_models
from mlops.output import print_json


@click.command("card")
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("--all", "every", is_flag=True, help="Every model in models/.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a card is out of date.")
@click.option("--json", "as_json", is_flag=True, help="Print [{model, path, current}] as JSON.")
@click.pass_obj
def command(
    obj: dict[str, Any], names: tuple[str, ...], every: bool, check: bool, as_json: bool
) -> None:
    """Write models/NAME/MODEL_CARD.md from the model's committed files.

    The card comes from model.yaml, metrics.json, evaluation.json (held-out metrics, judged by
    the promotion gates), params.yaml, dvc.lock and registry.yaml: the same files give the same
    bytes on every machine. With --check nothing is written: exit 0 when every card is
    current, 1 with a diff when one is stale or missing.
    """
    root = find_root(obj.get("repo"))
    cards = render_cards(root, select_models(root, names, every))
    stale = [card for card in cards if not card.current]
    if not check:
        atomic.write_all({root / card.path: card.text for card in stale})
    if as_json:
        print_json(
            [
                {"model": c.model, "path": c.path, "current": c.current}
                | ({} if check else {"written": not c.current})
                for c in cards
            ]
        )
    if check:
        _report_check(cards, stale, quiet=as_json)
    elif not as_json:
        _report_written(cards)


def _report_check(cards: list[Card], stale: list[Card], *, quiet: bool) -> None:
    if not quiet:
        for card in stale:
            click.echo(card.diff(), nl=False)
    if not stale:
        if not quiet:
            click.secho(f"✓ {len(cards)} model card(s) current", fg="green", err=True)
        return
    paths = ", ".join(c.path for c in stale)
    missing = sum(c.committed is None for c in stale)
    state = f"{len(stale)} model card(s) out of date" + (f" ({missing} missing)" if missing else "")
    raise MlopsError(
        f"{state}: {paths}", hint=f"run `mlops card {' '.join(c.model for c in stale)}`"
    )


def _report_written(cards: list[Card]) -> None:
    for card in cards:
        if card.current:
            click.echo(f"  {card.path} is current", err=True)
            continue
        lines = card.diff().splitlines()[2:]
        added = sum(line.startswith("+") for line in lines)
        removed = sum(line.startswith("-") for line in lines)
        verb = "created" if card.committed is None else "updated"
        click.secho(
            f"✓ {verb} {card.path}: {added} line(s) added, {removed} removed",
            fg="green",
            err=True,
        )
    if all(card.current for card in cards):
        click.secho(f"✓ {len(cards)} model card(s) current; nothing written", fg="green", err=True)
