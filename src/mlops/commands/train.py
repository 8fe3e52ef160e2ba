"""`mlops train`: run a model's DVC pipeline and record the result as a new MLflow version.

Order matters for "failure leaves nothing half-done": the pipeline runs before any run is
opened; its data is pushed while the run is logged, and the version is registered only once
the push succeeded; the run is FAILED on any error; the candidate record is written last.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from mlops.adapters import atomic, dvc, git, preload, runtimes
from mlops.adapters.repository import find_root
from mlops.adapters.settings import Settings, load_settings
from mlops.adapters.yaml_files import load_yaml_file
from mlops.commands.loading import checked_models
from mlops.commands.plan import compute_plan
from mlops.core import layout
from mlops.core.document import Document
from mlops.core.lineage import flatten, input_hashes, metric_table, params_hash, tree_sha256
from mlops.errors import InvalidInput, MlopsError, UsageError
from mlops.output import console, print_json, print_table


@dataclass
class TrainResult:
    model: str
    version: str
    reused: bool
    metrics: dict[str, float]
    seconds: float
    stages_ran: list[str] = field(default_factory=list)
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "reused": self.reused,
            "run_id": self.run_id,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 3),
            "stages_ran": self.stages_ran,
        }


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MlopsError(f"{path.name} was not written by the pipeline ({path})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MlopsError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MlopsError(f"{path}: expected a JSON object of metrics")
    return data


def read_params(root: Path, model: str) -> dict[str, Any]:
    display = f"{layout.model_dir(model)}/params.yaml"
    loaded = load_yaml_file(root / display, display)
    if loaded.document is None or loaded.diagnostics:
        for diagnostic in loaded.diagnostics:
            click.echo(diagnostic.render(), err=True)
        raise InvalidInput(f"{display} cannot be read")
    if not isinstance(loaded.document.data, dict):
        raise InvalidInput(f"{display}: expected a mapping of parameters")
    return loaded.document.data


def artifact_digest(folder: Path) -> str:
    files = [
        (p.relative_to(folder).as_posix(), p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]
    if not files:
        raise MlopsError(f"the pipeline wrote no model files into {folder}")
    return tree_sha256(files)


@dataclass(frozen=True)
class Outputs:
    """What the pipeline left in the model folder, as training and registration need it."""

    lock: dict[str, Any]
    metrics: dict[str, float]
    digest: str
    inputs: list[str]

    @property
    def held_out(self) -> dict[str, float]:
        return {k: v for k, v in self.metrics.items() if not k.startswith("train_")}


@dataclass(frozen=True)
class Clock:
    """When training started, in wall and CPU time (this process and its children)."""

    started: datetime
    wall: float
    cpu: float

    @classmethod
    def start(cls) -> Clock:
        return cls(datetime.now(UTC), time.perf_counter(), _cpu_seconds())

    def seconds(self) -> float:
        return time.perf_counter() - self.wall


def train_model(root: Path, settings: Settings, name: str, manifest: Document) -> TrainResult:
    """Train one model end to end; see the module docstring for the failure guarantees."""
    data = manifest.data
    language = str(data["language"])
    runtimes.check_runtime(language)
    params = read_params(root, name)
    clock = Clock.start()
    out = console(stderr=True)  # progress on stderr; results (and --json) on stdout
    warmup = preload.tracking()
    out.print(f"[bold]{name}[/]: running its pipeline ({language})")
    pipeline = dvc.Pipeline(root, name, on_line=_progress(out, name))
    try:
        repro = pipeline.reproduced()
        outputs = _read_outputs(root, name, [i["path"] for i in data["data"]["inputs"]])
        # Registered from this machine: its data was stored then, and MLflow is not needed.
        existing = _registered_locally(settings, name, outputs.digest)
        if existing is None:
            pipeline.push()  # stores the data while MLflow works; a version waits for it
            warmup.join()
            existing = _registered_in_store(settings, name, outputs)
            if existing is None:
                version, run_id = _record(root, settings, name, data, params, outputs, pipeline,
                                          clock)  # fmt: skip
                seconds = clock.seconds()
                return TrainResult(name, version, False, outputs.metrics, seconds, repro.ran,
                                   run_id)  # fmt: skip
            pipeline.pushed()
    finally:
        pipeline.close()  # never leave it running after a failure
    out.print(f"{name}: unchanged, already registered as version {existing}")
    return TrainResult(name, existing, True, outputs.metrics, clock.seconds(), repro.ran)


def _record(
    root: Path, settings: Settings, name: str, manifest: dict[str, Any], params: dict[str, Any],
    outputs: Outputs, pipeline: dvc.Pipeline, clock: Clock,
) -> tuple[str, str]:  # fmt: skip
    """Log the run and the model, register the version once the pipeline's data is stored,
    then write the candidate record; returns the version and the run id."""
    from mlops.adapters import environment, tracking

    language = str(manifest["language"])
    folder = root / layout.model_dir(name)
    commit = git.head_commit(root)
    env = environment.describe(language)
    tags = _lineage_tags(root, name, language, params, outputs, commit, env.runtime)
    experiment = tracking.experiment_id(settings, name)
    with tracking.run(experiment, f"{name}@{commit[:12]}", tags) as active:
        run_id = active.info.run_id
        tracking.log_run_data(
            flatten(params),
            outputs.metrics,
            {
                "lineage/environment.txt": env.lock,
                "lineage/dvc.lock": (folder / "dvc.lock").read_text(),
                "lineage/params.yaml": (folder / "params.yaml").read_text(),
            },
        )
        model_uri = _log_model(manifest, folder)
        cpu = _cpu_seconds() - clock.cpu
        tracking.log_run_data({}, {"wall_seconds": clock.seconds(), "cpu_seconds": cpu}, {})
        lineage = {
            "run_id": run_id,
            "git_commit": commit,
            "params_hash": tags["mlops.params_hash"],
            "model_sha256": tracking.logged_model_digest(model_uri),
        }
        version_tags = {"artifact_sha256": outputs.digest,
                        **{k: v for k, v in lineage.items() if k != "run_id"}}  # fmt: skip
        pipeline.pushed()  # a version is registered only once its data is stored
        version = tracking.register(name, model_uri, run_id, version_tags)
    created = clock.started.strftime("%Y-%m-%dT%H:%M:%SZ")
    _write_candidate(settings, _candidate(settings, name, version, outputs, lineage, created))
    return version, run_id


def _progress(out: Any, name: str) -> Callable[[str], None]:
    """Show DVC's stage lines as the pipeline runs."""

    def show(line: str) -> None:
        if line.startswith(("Running stage", "Stage ")):
            out.print(f"  {name}: {line}", markup=False, style="dim")

    return show


def _read_outputs(root: Path, name: str, inputs: list[str]) -> Outputs:
    folder = root / layout.model_dir(name)
    holdout, training = read_json(folder / "evaluation.json"), read_json(folder / "metrics.json")
    return Outputs(
        lock=dvc.read_lock(root, name),
        metrics=metric_table(holdout, training),
        digest=artifact_digest(folder / "model"),
        inputs=inputs,
    )


def _registered_in_store(settings: Settings, name: str, outputs: Outputs) -> str | None:
    """The version of the tracking store already holding this artifact, if any; it then
    becomes this machine's candidate."""
    from mlops.adapters import tracking

    tracking.connect(settings)
    existing = tracking.version_with_artifact(name, outputs.digest)
    if existing is not None:
        found = tracking.version_info(name, existing)
        lineage = {k: found[k] for k in ("run_id", "git_commit", "params_hash", "model_sha256")}
        record = _candidate(settings, name, existing, outputs, lineage, found["created"])
        _write_candidate(settings, record)
    return existing


def _lineage_tags(
    root: Path, name: str, language: str, params: dict[str, Any], outputs: Outputs,
    commit: str, runtime: str,
) -> dict[str, str]:  # fmt: skip
    return {
        "mlops.model": name,
        "mlops.language": language,
        "mlops.runtime": runtime,
        "mlops.git_commit": commit,
        "mlops.git_dirty": str(git.is_dirty(root, layout.model_dir(name))).lower(),
        "mlops.params_hash": params_hash(params),
        "mlops.artifact_sha256": outputs.digest,
        "mlops.seed": str(params.get("train", {}).get("seed", params.get("seed", ""))),
        **{
            f"mlops.dvc.{path}": md5
            for path, md5 in input_hashes(outputs.lock, outputs.inputs).items()
        },
    }


def _candidate(
    settings: Settings, name: str, version: str, outputs: Outputs, lineage: dict[str, str],
    created: str,
) -> dict[str, Any]:  # fmt: skip
    """The candidate record: the registry.yaml entry this version would get if promoted."""
    return {
        "model": name,
        "version": version,
        "run_id": lineage["run_id"],
        "model_uri": f"models:/{name}/{version}",
        "git_commit": lineage["git_commit"],
        "dvc_hashes": input_hashes(outputs.lock, outputs.inputs),
        "params_hash": lineage["params_hash"],
        "metrics": outputs.held_out,
        "artifact_sha256": outputs.digest,
        **({"model_sha256": lineage["model_sha256"]} if lineage.get("model_sha256") else {}),
        "created": created,
        "tracking_uri": settings.tracking_uri,
    }


def _write_candidate(settings: Settings, record: dict[str, Any]) -> None:
    path = settings.candidates / f"{record['model']}.json"
    atomic.write_text(path, json.dumps(record, indent=2) + "\n")


def _registered_locally(settings: Settings, name: str, digest: str) -> str | None:
    """The version this machine last registered for `name`, if its artifact is this one and
    it went to the same tracking store: lets an unchanged model skip importing MLflow."""
    path = settings.candidates / f"{name}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    same = (
        isinstance(record, dict)
        and record.get("artifact_sha256") == digest
        and record.get("tracking_uri") == settings.tracking_uri
    )
    return str(record["version"]) if same and "version" in record else None


def _log_model(manifest: dict[str, Any], folder: Path) -> str:
    from mlops.adapters import tracking, workers

    features = [f["name"] for f in manifest["data"]["features"]]
    holdout = folder / "data" / "holdout.csv"
    example = _example(holdout, features)
    if manifest["language"] == "python" and (folder / "model" / "model.pkl").is_file():
        return tracking.log_sklearn(folder / "model", example)
    info = workers.log_worker_model(
        name="model",
        language=str(manifest["language"]),
        entry=str(manifest["entrypoints"]["predict"]),
        features=features,
        code_dir=folder,
        model_dir=folder / "model",
        input_example=example,
    )
    return str(info.model_uri)


def _example(path: Path, features: list[str]) -> Any:
    import pandas as pd

    if not path.is_file():
        return None
    frame = pd.read_csv(path, nrows=5)
    missing = [f for f in features if f not in frame.columns]
    return None if missing else frame[features]


def _cpu_seconds() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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
    selected = list(names)
    if changed:
        selected = [m.name for m in compute_plan(root, str(base), "HEAD").to_train]
    check = checked_models(root, selected, "trained")
    settings = load_settings(root)
    # Libraries print progress (MLflow's run links) to stdout: keep stdout for the results.
    with contextlib.redirect_stdout(sys.stderr):
        results = [train_model(root, settings, n, check.manifests[n]) for n in selected]
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
