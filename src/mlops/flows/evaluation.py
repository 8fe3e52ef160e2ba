"""Evaluation: a candidate and production scored on the same holdout, and the promotion gates
applied to the result. The record it writes feeds `mlops card` and the pull request report."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any

from mlops.adapters import atomic, dvc, scoring, tracking
from mlops.adapters.settings import Settings, load_settings
from mlops.core import layout, metrics
from mlops.core.evaluation_plot import Side
from mlops.core.lineage import input_hashes
from mlops.core.policy import Decision, MetricRow, comparison, decide
from mlops.errors import InvalidInput, UsageError
from mlops.flows import candidates, evaluation_plot
from mlops.flows.repository import (
    RepositoryCheck,
    checked_models,
    manifest_data,
    promotion_policy,
    registry_entry,
    require_shared_files,
)
from mlops.flows.storage import use_configured_remote


def evaluate_model(
    root: Path, name: str, candidate: str | None, output: Path | None
) -> dict[str, Any]:
    """Evaluate `candidate` (default: this machine's last trained version) against production
    and write the result to the state folder (and to `output`), each with its plot beside it
    (NAME.png; the record's `plot` says where, or why there is none)."""
    check = checked_models(root, [name], "evaluated")
    require_shared_files(check, "evaluated")
    settings = load_settings(root)
    use_configured_remote(settings)
    version = candidate or _last_candidate(settings, root, name)
    folder = settings.state_dir / "evaluations"
    plot = folder / f"{name}.png"
    with contextlib.redirect_stdout(sys.stderr):  # MLflow prints download progress
        result = evaluate(root, settings, name, manifest_data(check, name), version, check, plot)
    _write(folder / f"{name}.json", result)
    if output is not None:
        copied = evaluation_plot.copy_beside(result["plot"], plot, output)
        _write(output, {**result, "plot": copied})
    return result


def evaluate(
    root: Path,
    settings: Settings,
    name: str,
    manifest: dict[str, Any],
    version: str,
    check: RepositoryCheck,
    plot: Path,
) -> dict[str, Any]:
    """The evaluation record: both versions' held-out metrics, the table and the decision,
    and the plot of both on the holdout drawn to `plot` and logged to the candidate's run."""
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
    production, production_scored = _production(name, entry, frame, features, task, y)
    production_metrics = production["metrics"] if production else None
    decision: Decision = decide(
        name, manifest, promotion_policy(check), candidate_metrics, production_metrics,
        production["version"] if production else None,
    )  # fmt: skip
    rows: list[MetricRow] = comparison(manifest, candidate_metrics, production_metrics)
    lock = dvc.read_lock(root, name)
    result: dict[str, Any] = {
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
    other = None
    if production is not None and production_scored is not None:
        other = Side(production["version"], production_scored.predictions, production_scored.scores)
    shown = str(plot.relative_to(root)) if plot.is_relative_to(root) else str(plot)
    mine = Side(version, scored.predictions, scored.scores)
    result["plot"] = evaluation_plot.draw(settings, result, task, y, mine, other, plot, shown)
    return result


def _last_candidate(settings: Settings, root: Path, name: str) -> str:
    version = candidates.latest(settings, root, name)
    if version is None:
        raise UsageError(
            f"no candidate of {name}: nothing trained here, and the tracking store holds no "
            f"version of this commit; pass --candidate VERSION or run `mlops train {name}`"
        )
    return version


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
) -> tuple[dict[str, Any] | None, scoring.Scored | None]:
    """Production's held-out metrics: scored like the candidate when its model is reachable,
    else as recorded in registry.yaml (said so in the result); and its scored output."""
    version = (entry.get("stages") or {}).get("production")
    if version is None:
        return None, None
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
        }, None  # fmt: skip
    scored_metrics = _clean(metrics.compute(task, y, scored.predictions, scored.scores))
    note = "scored on the holdout"
    return {**base, "source": "scored", "metrics": scored_metrics, "note": note}, scored


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: an undefined metric (e.g. ROC AUC of one class) becomes null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in data.items()}


def _write(path: Path, result: dict[str, Any]) -> None:
    atomic.write_text(path, json.dumps(result, indent=2, allow_nan=False) + "\n")
