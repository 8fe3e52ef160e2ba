"""`mlops promote NAME VERSION --to STAGE [--canary WEIGHT] [--apply]`: edit registry.yaml.

Prints the change by default; `--apply` writes it. The policies decide (core.promotion): stage
order, enforced gates on the version's recorded metrics against production, a canary only
beside production. A version not yet in the registry is added from the candidate record
`mlops train` wrote. The new registry is validated before anything is written, and it is
written together with the model's regenerated card (which shows stages and history), each
file atomically: an interrupted run leaves the old files or the new ones.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import click
import yaml

from mlops.adapters import atomic
from mlops.adapters.repository import find_root, model_folders
from mlops.adapters.schemas import load_schemas
from mlops.adapters.settings import load_settings
from mlops.adapters.yaml_files import parse_yaml_text
from mlops.commands.card import gather
from mlops.commands.loading import checked_models, manifest_data, promotion_policy
from mlops.core import layout
from mlops.core.card import card_path, render
from mlops.core.promotion import Refused, promote
from mlops.core.rules import registry_rules
from mlops.errors import InvalidInput, MlopsError
from mlops.output import console, print_json


@click.command("promote")
@click.argument("name")
@click.argument("version")
@click.option("--to", "stage", required=True, type=click.Choice(["staging", "production"]))
@click.option("--canary", "weight", type=click.IntRange(1, 99), help="Percent of production.")
@click.option("--apply", "apply", is_flag=True, help="Write registry.yaml (default: print).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(
    obj: dict[str, Any], name: str, version: str, stage: str, weight: int | None, apply: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Move NAME's VERSION into STAGE in registry.yaml (a plan unless --apply)."""
    root = find_root(obj.get("repo"))
    check = checked_models(root, [name], "promoted")
    for problem in check.diagnostics:
        if problem.severity == "error" and not problem.file.startswith("models/"):
            raise InvalidInput(f"{problem.render()}\n(fix it before promoting: `mlops validate`)")
    registry_path = root / layout.REGISTRY
    before = registry_path.read_text(encoding="utf-8")
    current = check.registry.data if check.registry else {}
    try:
        promotion = promote(
            current, name, version, stage, manifest=manifest_data(check, name),
            policy=promotion_policy(check), candidate=_candidate(root, name),
            canary_weight=weight,
        )  # fmt: skip
    except Refused as refused:
        lines = "\n".join(f"  - {reason}" for reason in refused.reasons)
        raise MlopsError(f"{name} version {version} may not enter {stage}:\n{lines}") from None
    after = render_registry(before, promotion.registry)
    check_registry(root, after)
    files = {registry_path: after}
    if promotion.changed:
        card = _card(root, name, promotion.registry, promotion_policy(check))
        if card is not None:
            files[root / card_path(name)] = card
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            f"a/{layout.REGISTRY}", f"b/{layout.REGISTRY}",
        )
    )  # fmt: skip
    if apply and promotion.changed:
        atomic.write_all(files)
    if as_json:
        print_json(
            {"model": name, "version": version, "stage": stage, "canary": weight,
             "changes": promotion.changes, "applied": apply and promotion.changed,
             "files": sorted(str(p.relative_to(root)) for p in files)},
        )  # fmt: skip
        return
    out = console(stderr=True)
    if not promotion.changed:
        out.print(f"{name} version {version} already holds {stage}: nothing to change")
        return
    click.echo(diff, nl=False)
    for change in promotion.changes:
        out.print(f"  {change}")
    if apply:
        written = ", ".join(sorted(str(p.relative_to(root)) for p in files))
        out.print(f"[green]✓ wrote {written}[/]; commit it to deploy")
    else:
        out.print("Plan only: run again with --apply to write registry.yaml")


def render_registry(original: str, data: dict[str, Any]) -> str:
    """registry.yaml in its canonical form, keeping the file's leading comment block."""
    header = []
    for line in original.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return "\n".join(header) + ("\n" if header else "") + body


def check_registry(root: Path, text: str) -> None:
    """Refuse to write a registry that `mlops validate` would reject."""
    loaded = parse_yaml_text(text, layout.REGISTRY)
    problems = list(loaded.diagnostics)
    schema = load_schemas(root).schemas.get("registry")
    if loaded.document is not None:
        if schema is not None:
            problems += schema.diagnostics(loaded.document)
        problems += registry_rules(loaded.document, set(model_folders(root)))
    errors = [p.render() for p in problems if p.severity == "error"]
    if errors:
        raise MlopsError("the promotion would make registry.yaml invalid:\n" + "\n".join(errors))


def _candidate(root: Path, name: str) -> dict[str, Any] | None:
    path = load_settings(root).candidates / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not a candidate record: {exc}") from None
    return data if isinstance(data, dict) else None


def _card(root: Path, name: str, registry: dict[str, Any], policy: dict[str, Any]) -> str | None:
    """The model's card under the new registry, or None when it has no card yet."""
    if not (root / card_path(name)).exists():
        return None
    models = registry.get("models") or {}
    return render(gather(root, name, load_schemas(root), policy, models))
