"""`mlops evaluate NAME --candidate V`: candidate and production on the same held-out rows.

Both versions are scored by the platform on the model's holdout input (the one whose role is
`holdout`), the metrics are computed by one implementation (core.metrics), and the policy gates
(core.policy) decide. The result is a table and a JSON file that the card and the PR report read.
When production's model cannot be loaded from this tracking store (a laptop or CI runner with
its own embedded store), its metrics recorded in registry.yaml are used and the report says so.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from mlops.adapters import atomic, dvc, scoring, tracking
from mlops.adapters.repository import find_root
from mlops.adapters.settings import Settings, load_settings
from mlops.commands.loading import checked_models, manifest_data, promotion_policy, registry_entry
from mlops.core import layout, metrics
from mlops.core.lineage import input_hashes
from mlops.core.policy import Decision, MetricRow, comparison, decide
from mlops.errors import InvalidInput, MlopsError, UsageError
from mlops.output import console, print_json, print_table


@click.command("evaluate")
@click.argument("name")
@click.option(
    "--candidate", "candidate", metavar="VERSION",
    help="Registered version to evaluate (default: the one `mlops train` last registered here).",
)  # fmt: skip
@click.option("--output", type=click.Path(path_type=Path), help="Also write the result here.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(
    obj: dict[str, Any], name: str, candidate: str | None, output: Path | None, as_json: bool
) -> None:
    """Score NAME's candidate and production versions on the holdout and apply the gates.

    Exits 1 when an enforced gate fails. The result is written to the state folder
    (.mlops/evaluations/NAME.json) for `mlops card` and the PR report.
    """
    root = find_root(obj.get("repo"))
    check = checked_models(root, [name], "evaluated")
    for problem in check.diagnostics:
        if problem.severity == "error" and not problem.file.startswith("models/"):
            raise InvalidInput(f"{problem.render()}\n(fix it before evaluating: `mlops validate`)")
    settings = load_settings(root)
    manifest = manifest_data(check, name)
    version = candidate or _last_candidate(settings, name)
    with contextlib.redirect_stdout(sys.stderr):  # MLflow prints download progress
        result = evaluate(root, settings, name, manifest, version, check)
    _write(settings.state_dir / "evaluations" / f"{name}.json", result)
    if output is not None:
        _write(output, result)
    if as_json:
        print_json(result)
    else:
        _show(result)
    decision = result["decision"]
    if not decision["passed"]:
        raise MlopsError(f"{name} version {version} is {decision['summary']}")


def evaluate(
    root: Path, settings: Settings, name: str, manifest: dict[str, Any], version: str, check: Any
) -> dict[str, Any]:
    """The evaluation record: both versions' held-out metrics, the table and the decision."""
    relative, holdout, frame = _holdout(root, name, manifest)
    features = [f["name"] for f in manifest["data"]["features"]]
    target = manifest["data"]["target"]["name"]
    if target not in frame.columns:
        raise InvalidInput(f"{holdout}: the holdout has no target column {target!r}")
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise InvalidInput(f"{holdout}: the holdout lacks feature column(s) {', '.join(missing)}")
    y = [float(v) for v in frame[target]]
    task = str(manifest["task"])
    tracking.connect(settings)
    tags = tracking.version_tags(name, version)
    candidate_uri = f"models:/{name}/{version}"
    scored = scoring.score(candidate_uri, frame, features, task)
    candidate_metrics = metrics.compute(task, y, scored.predictions, scored.scores)
    entry = registry_entry(check, name)
    production = _production(name, entry, frame, features, task, y)
    production_metrics = production["metrics"] if production else None
    decision: Decision = decide(
        name, manifest, promotion_policy(check), candidate_metrics, production_metrics,
        production["version"] if production else None,
    )  # fmt: skip
    rows: list[MetricRow] = comparison(manifest, candidate_metrics, production_metrics)
    lock = dvc.read_lock(root, name)
    return {
        "model": name,
        "candidate": {
            "version": version,
            "model_uri": candidate_uri,
            "run_id": tags.get("run_id"),
            "run_url": tracking.run_url(settings, tags.get("run_id")),
            "git_commit": tags.get("git_commit"),
            "metrics": _clean(candidate_metrics),
        },
        "production": production,
        "holdout": {
            "path": holdout,
            "rows": len(y),
            "md5": input_hashes(lock, [relative]).get(relative),
        },
        "primary": manifest["metrics"]["primary"],
        "direction": manifest["metrics"]["direction"],
        "rows": [_clean(r.to_dict()) for r in rows],
        "decision": decision.to_dict(),
        "tracking_uri": tracking.public_uri(settings.tracking_uri),
    }


def _last_candidate(settings: Settings, name: str) -> str:
    path = settings.candidates / f"{name}.json"
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["version"])
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        raise UsageError(
            f"no candidate recorded for {name} here: pass --candidate VERSION "
            f"or run `mlops train {name}` first"
        ) from None


def _holdout(root: Path, name: str, manifest: dict[str, Any]) -> tuple[str, str, Any]:
    """The holdout input's path in the model folder, in the repository, and its rows."""
    import pandas as pd

    inputs = [i for i in manifest["data"]["inputs"] if i.get("role") == "holdout"]
    if not inputs:
        raise InvalidInput(
            f"{layout.manifest_path(name)}: no data input has `role: holdout`; "
            "evaluate needs held-out rows to score both versions on"
        )
    relative = str(inputs[0]["path"])
    display = f"{layout.model_dir(name)}/{relative}"
    path = root / display
    if not path.exists():
        dvc.pull(root, name)  # a fresh clone: fetch the recorded data version
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except FileNotFoundError:
        raise InvalidInput(
            f"{display}: the holdout is missing (run `mlops train {name}`)"
        ) from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"{display}: cannot read the holdout: {exc}") from None
    if frame.empty:
        raise InvalidInput(f"{display}: the holdout has no rows")
    return relative, display, frame


def _production(
    name: str, entry: dict[str, Any], frame: Any, features: list[str], task: str, y: list[float]
) -> dict[str, Any] | None:
    """Production's held-out metrics: scored like the candidate when its model is reachable,
    else as recorded in registry.yaml (said so in the result)."""
    version = (entry.get("stages") or {}).get("production")
    if version is None:
        return None
    record = (entry.get("versions") or {}).get(version) or {}
    uri = str(record.get("model_uri") or f"models:/{name}/{version}")
    base = {"version": str(version), "model_uri": uri, "run_id": record.get("run_id")}
    try:
        scored = scoring.score(uri, frame, features, task)
    except scoring.ModelUnavailable as exc:
        recorded = {k: float(v) for k, v in (record.get("metrics") or {}).items()}
        return {
            **base, "source": "recorded", "metrics": recorded,
            "note": f"metrics recorded in registry.yaml at training time ({exc})",
        }  # fmt: skip
    scored_metrics = _clean(metrics.compute(task, y, scored.predictions, scored.scores))
    return {**base, "source": "scored", "metrics": scored_metrics, "note": "scored on the holdout"}


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: an undefined metric (e.g. ROC AUC of one class) becomes null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in data.items()}


def _write(path: Path, result: dict[str, Any]) -> None:
    atomic.write_text(path, json.dumps(result, indent=2, allow_nan=False) + "\n")


def _show(result: dict[str, Any]) -> None:
    production = result["production"]
    label = f"production v{production['version']}" if production else "production"
    rows = [
        (
            row["metric"] + (" (primary)" if row["primary"] else ""),
            _number(row["production"]), _number(row["candidate"]), _delta(row["delta"]),
            _bounds(row["bounds"]),
        )
        for row in result["rows"]
    ]  # fmt: skip
    title = f"{result['model']}: candidate v{result['candidate']['version']} vs {label}"
    print_table(title, ("metric", label, "candidate", "delta", "bounds"), rows)
    out = console()
    if production is None:
        out.print("No production version yet: relative gates are not applicable.")
    elif production["source"] == "recorded":
        out.print(f"Production: {production['note']}.")
    gates = [(g["gate"], g["mode"], _verdict(g), g["reason"]) for g in result["decision"]["gates"]]
    print_table("Gates", ("gate", "mode", "verdict", "reason"), gates)
    out.print(f"Decision: {result['decision']['summary']}")


def _verdict(gate: dict[str, Any]) -> str:
    colour = {"pass": "green", "fail": "red" if gate["blocking"] else "yellow"}.get(gate["verdict"])
    return f"[{colour}]{gate['verdict']}[/]" if colour else str(gate["verdict"])


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _delta(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4g}"


def _bounds(bounds: dict[str, float]) -> str:
    parts = [f">= {bounds['min']:g}" if "min" in bounds else "", ""]
    parts[1] = f"<= {bounds['max']:g}" if "max" in bounds else ""
    return " and ".join(p for p in parts if p)
