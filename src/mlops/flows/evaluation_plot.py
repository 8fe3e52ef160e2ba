"""The evaluation's plot: drawn beside the evaluation record and logged to the candidate's run.

A plot is a reviewer's aid, never a gate: whatever fails here (a model output of the wrong
shape, a drawing error, a tracking store refusing the upload) becomes the record's `warning`,
and the evaluation stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops.adapters import atomic, tracking
from mlops.adapters.settings import Settings
from mlops.core import evaluation_plot
from mlops.core.evaluation_plot import Side
from mlops.errors import first_line


def draw(
    settings: Settings,
    result: Mapping[str, Any],
    task: str,
    y: Sequence[float],
    candidate: Side,
    production: Side | None,
    path: Path,
    shown: str,
) -> dict[str, Any]:
    """Draw the plot of `result` to `path` and log it to the candidate's run: the record's
    `plot` entry (its path `shown`, artifact URI and links, a warning when something was
    skipped)."""
    from mlops.adapters import evaluation_plot as drawing

    name = result["model"]
    record: dict[str, Any] = {"path": None, "artifact": None, "artifact_uri": None,
                              "artifact_url": None, "image_url": None, "warning": None}  # fmt: skip
    version = result["production"]["version"] if result["production"] else None
    try:
        plot = evaluation_plot.plan(name, task, y, candidate, production, version, result["rows"])
        drawing.render(plot, path)
    except Exception as exc:  # any failure to draw leaves the evaluation intact
        record["warning"] = f"no plot of {name}: {first_line(exc)}"
        path.unlink(missing_ok=True)  # an earlier evaluation's plot must not pass for this one
        return record
    record["path"] = shown
    run_id = result["candidate"].get("run_id")
    if not run_id:
        record["warning"] = "the plot is not logged to MLflow: the candidate has no recorded run"
        return record
    artifact = evaluation_plot.artifact_path(name)
    try:
        logged = tracking.log_run_file(settings, str(run_id), path, artifact)
    except Exception as exc:  # the local plot is still there to look at
        record["warning"] = f"the plot is not logged to MLflow run {run_id}: {first_line(exc)}"
        return record
    return {**record, "artifact": artifact, **logged}


def copy_beside(record: Mapping[str, Any], source: Path, output: Path) -> dict[str, Any]:
    """The plot `source` copied beside the evaluation written to `output` (same name, .png),
    and the plot record that copy of the evaluation carries."""
    target = output.with_suffix(".png")
    if target == output:
        target = output.with_name(output.name + ".png")
    if not record.get("path"):
        target.unlink(missing_ok=True)  # no plot of an earlier evaluation beside this one
        return dict(record)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(target, source.read_bytes())
    except OSError as exc:
        return {**record, "warning": f"the plot is not copied to {target}: {first_line(exc)}"}
    return {**record, "path": str(target)}
