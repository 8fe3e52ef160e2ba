"""`mlops train`: run a model's DVC pipeline and record the result as a new MLflow version.

Order matters for "failure leaves nothing half-done": the pipeline runs before any run is
opened; its data is pushed while the run is logged, and the version is registered only once
the push succeeded; the run is FAILED on any error; the candidate record is written last.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import resource
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters import dvc, git, platform_probe, preload, runtimes
from mlops.adapters.pipeline_files import artifact_digest, read_json, read_params
from mlops.adapters.settings import Settings, load_settings
from mlops.adapters.tracking import public_uri
from mlops.core import layout, platform
from mlops.core.candidate import candidate_record, store_tags
from mlops.core.costs import cost_labels
from mlops.core.document import Document
from mlops.core.lineage import flatten, input_hashes, metric_table, params_hash
from mlops.core.progress import QUIET, Reporter
from mlops.flows import candidates
from mlops.flows.plan import compute_plan
from mlops.flows.repository import checked_models
from mlops.flows.storage import use_configured_remote


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


@dataclass(frozen=True)
class Outputs:
    """What the pipeline left in the model folder, as training and registration need it."""

    lock: dict[str, Any]
    metrics: dict[str, float]
    digest: str
    inputs: list[str]
    dirty: bool  # the model folder differed from the commit before training
    rewritten: list[str]  # what training changed in it (dvc.lock, metrics), relative to it

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


def train_model(
    root: Path, settings: Settings, name: str, manifest: Document, progress: Reporter = QUIET
) -> TrainResult:
    """Train one model end to end; see the module docstring for the failure guarantees.
    `progress` hears of each stage: DVC starting, each DVC stage it runs, the look-up in the
    tracking store, logging to MLflow, storing the data and registering the version."""
    data = manifest.data
    language = str(data["language"])
    runtimes.check_runtime(language)
    params = read_params(root, name)
    clock = Clock.start()
    warmup = preload.tracking()
    before = git.changes(root, layout.model_dir(name))
    with ExitStack() as stages:
        stages.enter_context(progress.stage(f"{name}: start its pipeline (DVC, {language})"))
        pipeline = dvc.Pipeline(root, name, on_line=_stages(progress, stages, name))
        try:
            repro = pipeline.reproduced()
        except BaseException:
            pipeline.close()
            raise
    try:
        outputs = _read_outputs(root, name, [i["path"] for i in data["data"]["inputs"]], before)
        # Registered from this machine: its data was stored then, and MLflow is not needed.
        existing = candidates.registered_here(settings, name, outputs.digest)
        if existing is None:
            pipeline.push()  # stores the data while MLflow works; a version waits for it
            with progress.stage(f"{name}: look for this artifact in the tracking store"):
                warmup.join()
                existing = _registered_in_store(settings, name, outputs)
            if existing is None:
                version, run_id = _record(root, settings, name, data, params, outputs, pipeline,
                                          clock, progress)  # fmt: skip
                seconds = clock.seconds()
                return TrainResult(name, version, False, outputs.metrics, seconds, repro.ran,
                                   run_id)  # fmt: skip
            with progress.stage(f"{name}: store its data in the DVC remote"):
                pipeline.pushed()
    finally:
        pipeline.close()  # never leave it running after a failure
    return TrainResult(name, existing, True, outputs.metrics, clock.seconds(), repro.ran)


def _record(
    root: Path, settings: Settings, name: str, manifest: dict[str, Any], params: dict[str, Any],
    outputs: Outputs, pipeline: dvc.Pipeline, clock: Clock, progress: Reporter,
) -> tuple[str, str]:  # fmt: skip
    """Log the run and the model, register the version once the pipeline's data is stored,
    then write the candidate record; returns the version and the run id."""
    from mlops.adapters import environment, tracking

    probe = platform_probe.Probe(dvc.stage_environment())  # beside the logging below
    language = str(manifest["language"])
    folder = root / layout.model_dir(name)
    commit = git.head_commit(root)
    env = environment.describe(language)
    lock = (folder / "dvc.lock").read_text(encoding="utf-8")
    tags = _lineage_tags(name, language, params, outputs, commit, env.runtime, lock)
    tags |= cost_labels(manifest)  # who pays for this run, as `mlops costs` reports it
    experiment = tracking.experiment_id(settings, f"models/{name}")
    with tracking.run(experiment, f"{name}@{commit[:12]}", tags) as active:
        run_id = active.info.run_id
        with progress.stage(f"{name}: log the run and the model to MLflow"):
            tracking.log_run_data(flatten(params), outputs.metrics, {
                "lineage/environment.txt": env.lock,
                "lineage/dvc.lock": lock,
                **{f"lineage/{n}": (folder / n).read_text(encoding="utf-8")
                   for n in ("params.yaml", "metrics.json", "evaluation.json")},
            })  # fmt: skip
            model_uri = _log_model(manifest, folder)
            found = platform.fingerprint(probe.result(), language, env.lock)
            tracking.set_tags({"mlops.platform": platform.summary(found)})
            cpu = _cpu_seconds() - clock.cpu
            timing = {"wall_seconds": clock.seconds(), "cpu_seconds": cpu}
            tracking.log_run_data(
                {}, timing, {"lineage/platform.json": json.dumps(found, indent=2)}
            )
        lineage = {
            "run_id": run_id,
            "git_commit": commit,
            "params_hash": tags["mlops.params_hash"],
            "model_sha256": tracking.logged_model_digest(model_uri),
        }
        created = clock.started.strftime("%Y-%m-%dT%H:%M:%SZ")
        # The version's tags hold its whole candidate record, set in the one call that
        # registers it: any machine that reaches the store can promote it.
        record = _candidate(settings, name, "", outputs, lineage, created)
        version_tags = {"artifact_sha256": outputs.digest, "created": created,
                        "dvc_lock_sha256": tags["mlops.dvc_lock_sha256"], **store_tags(record),
                        **{k: v for k, v in lineage.items() if k != "run_id"}}  # fmt: skip
        with progress.stage(f"{name}: store its data in the DVC remote"):
            pipeline.pushed()  # a version is registered only once its data is stored
        with progress.stage(f"{name}: register the version"):
            version = tracking.register(name, model_uri, run_id, version_tags)
    candidates.write(settings, _candidate(settings, name, version, outputs, lineage, created))
    return version, run_id


def _stages(progress: Reporter, stages: ExitStack, name: str) -> Callable[[str], None]:
    """Each DVC stage that runs becomes a stage of `progress`; the one before it ends."""

    def show(line: str) -> None:
        if line.startswith("Running stage"):
            stages.close()
            # Running stage 'models/<name>/dvc.yaml:train':
            stage = (line.split("'")[1] if "'" in line else line).rpartition(":")[2]
            stages.enter_context(progress.stage(f"{name}: DVC stage {stage}"))

    return show


def _read_outputs(root: Path, name: str, inputs: list[str], before: dict[str, str]) -> Outputs:
    folder = root / layout.model_dir(name)
    holdout, training = read_json(folder / "evaluation.json"), read_json(folder / "metrics.json")
    after = git.changes(root, layout.model_dir(name))
    prefix = layout.model_dir(name) + "/"
    return Outputs(
        lock=dvc.read_lock(root, name),
        metrics=metric_table(holdout, training),
        digest=artifact_digest(folder / "model"),
        inputs=inputs,
        dirty=bool(before),
        rewritten=sorted(p.removeprefix(prefix) for p in after if after[p] != before.get(p)),
    )


def _registered_in_store(settings: Settings, name: str, outputs: Outputs) -> str | None:
    """The version of the tracking store already holding this artifact, if any; it then
    becomes this machine's candidate."""
    from mlops.adapters import tracking

    tracking.connect(settings)
    existing = tracking.version_with_artifact(name, outputs.digest)
    if existing is not None:
        candidates.write(settings, candidates.of_version(settings, name, existing))
    return existing


def _lineage_tags(
    name: str, language: str, params: dict[str, Any], outputs: Outputs, commit: str,
    runtime: str, lock: str,
) -> dict[str, str]:  # fmt: skip
    """The run's lineage tags. `git_dirty` is the model folder before training; what the
    pipeline itself rewrote is listed apart, and the exact lock it wrote is hashed (and
    stored with the run), so a reproduction pulls exactly what was registered."""
    return {
        "mlops.model": name,
        "mlops.language": language,
        "mlops.runtime": runtime,
        "mlops.git_commit": commit,
        "mlops.git_dirty": str(outputs.dirty).lower(),
        "mlops.rewritten": ",".join(outputs.rewritten),
        "mlops.dvc_lock_sha256": hashlib.sha256(lock.encode()).hexdigest(),
        "mlops.params_hash": params_hash(params),
        "mlops.artifact_sha256": outputs.digest,
        "mlops.seed": str(params.get("train", {}).get("seed", params.get("seed", ""))),
        **{
            f"mlops.dvc.{path}": md5
            for path, md5 in input_hashes(outputs.lock, outputs.inputs).items()
        },
    }


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


def _candidate(
    settings: Settings, name: str, version: str, outputs: Outputs, lineage: dict[str, str],
    created: str,
) -> dict[str, Any]:  # fmt: skip
    return candidate_record(
        name, version, lineage, dvc_hashes=input_hashes(outputs.lock, outputs.inputs),
        metrics=outputs.held_out, artifact_sha256=outputs.digest, created=created,
        tracking_uri=public_uri(settings.tracking_uri),
    )  # fmt: skip


def train_models(
    root: Path, names: list[str], *, changed_since: str | None, progress: Reporter = QUIET
) -> list[TrainResult]:
    """Train `names`, or with `changed_since` the models a change since that ref touches."""
    if changed_since is not None:
        names = [m.name for m in compute_plan(root, changed_since, "HEAD").to_train]
    check = checked_models(root, names, "trained")
    settings = load_settings(root)
    use_configured_remote(settings)
    # Libraries print progress (MLflow's run links) to stdout: keep stdout for the results.
    with contextlib.redirect_stdout(sys.stderr):
        return [train_model(root, settings, n, check.manifests[n], progress) for n in names]
