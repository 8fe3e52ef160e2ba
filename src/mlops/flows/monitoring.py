"""Monitoring one model in one environment: the window's logged predictions against the
serving version's own training data, judged by the manifest's drift rules; the labelled
predictions against its performance rule; each version's latency and failures in Prometheus
against its SLO.

The window's rows are the prediction-log lines of the version the environment serves
(registry.yaml), or the rows the production version wrote into batch outputs (environment
`batch`); `mlops.flows.windows` reads either. The reference is that version's training input
exactly as it recorded it (DVC md5), and the reference predictions are the version's own on
those rows. Evidently
computes the statistics and the HTML report; `mlops.core.drift` gives the verdicts. The
summary and the report are written to a folder and logged to MLflow (experiment
`monitor/<model>`).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops.adapters import atomic, tracking
from mlops.adapters.batch_model import BatchModel
from mlops.adapters.batch_model import prepare as prepare_batch_model
from mlops.adapters.drift_report import Column, DriftEngine, DriftReport
from mlops.adapters.prediction_logs import FEATURE, LogWindow, read_labels
from mlops.adapters.recorded_data import recorded_bytes
from mlops.adapters.row_checks import check_batch
from mlops.adapters.settings import load_settings
from mlops.core import alerts, drift, layout, performance
from mlops.core.alerts import Delivery
from mlops.core.drift import ColumnDrift, Quality, Verdict
from mlops.core.features import Feature, ManifestError, features_from_manifest
from mlops.core.performance import Performance
from mlops.core.stages import PRODUCTION
from mlops.errors import InvalidInput, MlopsError
from mlops.flows import alerting, service_health, windows
from mlops.flows.repository import (
    checked_models,
    manifest_data,
    registry_entry,
    require_shared_files,
)
from mlops.flows.storage import use_configured_remote

EXPERIMENT_PREFIX = "monitor/"
PREDICTION = "prediction"


@dataclass(frozen=True)
class Request:
    environment: str = PRODUCTION
    window: timedelta | None = None  # default: the manifest's window_days, else 7 days
    logs: Path | None = None  # default: this deploy host's prediction logs
    out: Path | None = None  # default: .mlops/monitoring/<model>/<environment>/<time>
    now: datetime | None = None
    alert: bool = False  # deliver the alerts through the manifest's channels
    # Batch outputs instead of served logs: these, or none given for serving.batch.output.
    batch: tuple[str, ...] | None = None


@dataclass
class Monitored:
    summary: dict[str, Any]
    verdict: Verdict
    folder: Path
    run_id: str | None
    delivery: Delivery | None = None


def monitor(root: Path, name: str, request: Request) -> Monitored:
    """The window of `name` judged, reported, recorded and (with `request.alert`) alerted."""
    with DriftEngine() as engine:  # Evidently's import starts now, on another core
        return _monitor(root, name, request, engine)


def _monitor(root: Path, name: str, request: Request, engine: DriftEngine) -> Monitored:
    check = checked_models(root, [name], "monitored")
    require_shared_files(check, "monitored")
    manifest = manifest_data(check, name)
    rules = (manifest.get("monitoring") or {}).get("drift") or {}
    method, threshold = str(rules.get("method", "psi")), float(rules.get("threshold", 0.2))
    try:
        features = features_from_manifest(manifest)
    except ManifestError as exc:
        raise InvalidInput(f"{layout.manifest_path(name)}: {exc}") from None
    entry = registry_entry(check, name)
    now = request.now or datetime.now(UTC)
    window = request.window or timedelta(days=int(rules.get("window_days", 7)))
    settings = load_settings(root)
    folder_of_logs = request.logs or settings.prediction_logs
    with contextlib.redirect_stdout(sys.stderr), ThreadPoolExecutor(1) as pool:
        # Arrow parses the window off the interpreter lock while this thread imports
        # MLflow's model loading and connects to the tracking store (and the engine's
        # process imports Evidently): on a million logged rows, the imports then cost no
        # wall time.
        if request.batch is None:
            reading = pool.submit(windows.served, name, manifest, entry, request.environment,
                                  folder_of_logs, now - window, now)  # fmt: skip
        else:
            reading = pool.submit(windows.scored, root, name, manifest, entry, request.batch,
                                  now - window, now, features)  # fmt: skip
        tracking.connect(settings)
        prepare_batch_model()
        rows = reading.result()
    version, logs = rows.version, rows.rows
    record = (entry.get("versions") or {}).get(version) or {}
    watched, not_monitored = _watched(features, rules.get("features"), rows.unwatched)
    current = _frame(logs, features)
    checked = [f for f in features if f.name not in rows.absent]
    quality = _quality(current, checked, watched) if len(current) and checked else None
    context = {"model": name, "environment": rows.environment, "version": version,
               "window": {"start": _stamp(now - window), "end": _stamp(now)},
               "method": method, "threshold": threshold, "logs": _log_summary(logs),
               **({"outputs": rows.outputs} if rows.outputs is not None else {}),
               "not_monitored": not_monitored}  # fmt: skip
    verdicts: list[ColumnDrift] = []
    prediction: ColumnDrift | None = None
    report: DriftReport | None = None
    with contextlib.redirect_stdout(sys.stderr):  # MLflow prints download progress
        if len(current) >= drift.MIN_ROWS:
            use_configured_remote(settings)  # where a fresh runner finds the reference data
            reference = _reference(root, name, manifest, record)
            current[PREDICTION] = logs.values("prediction")
            model_uri = str(record.get("model_uri") or f"models:/{name}/{version}")
            report = _compare(engine, model_uri, manifest, reference, current, watched,
                              features)  # fmt: skip
            columns = report.columns
            judged = drift.judge([(c.name, c.method) for c in columns], report.statistics(),
                                 threshold)  # fmt: skip
            verdicts, prediction = judged[:-1], judged[-1]
        judged_performance = _performance(manifest, logs, folder_of_logs, rows.environment,
                                          name, now - window, now)  # fmt: skip
        service = None  # batch outputs were not served: no SLO applies
        if request.batch is None:
            service = service_health.check(settings, manifest, name, rows.environment, window,
                                           now)  # fmt: skip
        verdict = drift.verdict(len(current), verdicts, prediction, quality, judged_performance,
                                service)  # fmt: skip
        summary = drift.summary(verdict, verdicts, prediction, quality, context,
                                judged_performance, service)  # fmt: skip
        folder = request.out or (settings.state_dir / "monitoring" / name / rows.environment
                                 / now.strftime("%Y%m%dT%H%M%SZ"))  # fmt: skip
        found = alerts.from_summary(summary)
        run_id = _record(settings, name, summary, report, folder, found)
        delivery = _alert(settings, manifest, summary, run_id, folder) if request.alert else None
    summary["run_id"] = run_id
    atomic.write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
    return Monitored(summary, verdict, folder, run_id, delivery)


def _compare(engine: DriftEngine, model_uri: str, manifest: dict[str, Any], reference: Any,
             current: Any, watched: list[Feature], features: list[Feature]
             ) -> DriftReport:  # fmt: skip
    """The watched features and the prediction of the window against the reference (and
    the version's own predictions on it), by the manifest's method."""
    import pandas as pd

    rules = (manifest.get("monitoring") or {}).get("drift") or {}
    method, threshold = str(rules.get("method", "psi")), float(rules.get("threshold", 0.2))
    classifier = manifest.get("task") == "classification"
    model = BatchModel(model_uri, classifier)
    try:
        reference[PREDICTION], _ = model.predict(reference[[f.name for f in features]])
    finally:
        model.close()
    columns = [Column(f.name, drift.method_for(method, _numeric(f)), _numeric(f))
               for f in watched]  # fmt: skip
    label = not classifier  # a classifier's prediction is a class: compared as a category
    columns.append(Column(PREDICTION, drift.method_for(method, label), label))
    for column in (c for c in columns if c.numeric):
        current[column.name] = pd.to_numeric(current[column.name], errors="coerce")
    return engine.compare(reference, current, columns, threshold)


def _alert(settings: Any, manifest: dict[str, Any], summary: dict[str, Any], run_id: str,
           folder: Path) -> Delivery:  # fmt: skip
    """The run's alerts through the manifest's channels, changes judged against the states
    the previous run of this model and environment recorded in the tracking store."""
    found = alerts.from_summary(summary, tracking.run_url(settings, run_id) or str(folder))
    name, environment = summary["model"], summary["environment"]
    experiment = tracking.experiment_id(settings, f"{EXPERIMENT_PREFIX}{name}")
    recent = tracking.recent_run_tags(
        experiment, {"mlops.model": name, "mlops.environment": environment}, 1, run_id
    )
    last = recent[0] if recent else {}
    previous = {kind: last.get(f"mlops.alert.{kind}", alerts.CLEAR) for kind in alerts.KINDS}
    delivery = alerting.deliver(manifest, found, previous)
    summary["alerts"] = delivery.as_dict()
    return delivery


def _watched(features: list[Feature], named: Any, unwatched: dict[str, str]
             ) -> tuple[list[Feature], list[str]]:  # fmt: skip
    """The features to compare (the manifest's list, else all), less those the rows cannot
    show as they came (personal data the logs hash or leave out, a feature a batch output did
    not keep), each of those named with why."""
    wanted = [f for f in features if not named or f.name in named]
    return [f for f in wanted if f.name not in unwatched], [
        f"{f.name}: {unwatched[f.name]}" for f in wanted if f.name in unwatched
    ]


def _numeric(feature: Feature) -> bool:
    return feature.type in ("number", "integer")


def _frame(logs: LogWindow, features: list[Feature]) -> Any:
    """The logged features as a frame, one column per feature (nulls where none was
    logged, as for a personal-data field left out)."""
    import pandas as pd

    names = [f.name for f in features]
    if logs.table is None:
        return pd.DataFrame(columns=names)
    present = [n for n in names if f"{FEATURE}{n}" in logs.table.column_names]
    frame = logs.table.select([f"{FEATURE}{n}" for n in present]).to_pandas()
    frame.columns = present
    for name in names:
        if name not in present:
            frame[name] = None
    return frame[names]


def _quality(current: Any, features: list[Feature], watched: list[Feature]) -> Quality:
    """Rows that break the schema of `features` (those the rows hold), and each watched
    feature's share of nulls."""
    import pyarrow as pa

    table = pa.Table.from_pandas(current[[f.name for f in features]], preserve_index=False)
    rejected: list[dict[str, Any]] = []
    offset = 0
    for chunk in table.to_batches(max_chunksize=100_000):
        rejected += check_batch(chunk, features, _numbered(offset), False).rejected
        offset += chunk.num_rows
    nulls = {f.name: float(current[f.name].isna().mean()) for f in watched}
    examples = [f"row {r['row']}: {r['reason']}" for r in rejected[:5]]
    return Quality(len(current), len(rejected), nulls, examples)


def _numbered(offset: int) -> Callable[[int], int]:
    return lambda index: offset + index + 1


def _reference(root: Path, name: str, manifest: dict[str, Any], record: dict[str, Any]) -> Any:
    """The version's training input, as it recorded it."""
    import pandas as pd

    inputs = [i for i in (manifest.get("data") or {}).get("inputs") or []
              if i.get("role") == "train"]  # fmt: skip
    if not inputs:
        raise InvalidInput(f"{layout.manifest_path(name)}: no data input has `role: train`;"
                           " drift is measured against the training data")  # fmt: skip
    path = str(inputs[0]["path"])
    md5 = (record.get("dvc_hashes") or {}).get(path)
    if not md5:
        raise MlopsError(f"{name}: the serving version records no DVC hash of {path}")
    content = recorded_bytes(root, name, path, md5, record.get("git_commit"))
    if path.endswith(".parquet"):
        return pd.read_parquet(io.BytesIO(content))
    return pd.read_csv(io.BytesIO(content))


def _performance(manifest: dict[str, Any], logs: LogWindow, folder: Path, environment: str,
                 name: str, since: datetime, until: datetime) -> Performance | None:  # fmt: skip
    """The labelled predictions' metrics against monitoring.performance (None when the
    manifest sets no performance rule); the labels are those attached in `environment`."""
    rules = (manifest.get("monitoring") or {}).get("performance")
    if not rules:
        return None
    labels = performance.latest(read_labels(folder, environment, name, since, until))
    if not labels:  # nothing attached yet: no row to match
        return performance.judge(str(manifest.get("task")), rules, [], [], None)
    truth: list[Any] = []
    predicted: list[Any] = []
    scores: list[float] = []
    complete = True
    served = zip(logs.column("request_id"), logs.column("row"), logs.column("prediction"),
                 logs.column("probability"), strict=True)  # fmt: skip
    for request_id, row, prediction, score in served:
        key = performance.key(request_id, row)
        if key in labels:
            truth.append(labels[key])
            predicted.append(prediction)
            if isinstance(score, int | float) and not isinstance(score, bool):
                scores.append(float(score))
            else:
                complete = False
    complete = complete and bool(scores)
    return performance.judge(str(manifest.get("task")), rules, truth, predicted,
                             scores if complete else None)  # fmt: skip


def _log_summary(logs: LogWindow) -> dict[str, Any]:
    return {"files": logs.files, "rows": logs.rows, "other_versions": logs.other_versions,
            "skipped_lines": logs.skipped, "skipped": logs.skipped_lines}  # fmt: skip


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _record(settings: Any, name: str, summary: dict[str, Any], report: DriftReport | None,
            folder: Path, found: list[alerts.Alert]) -> str:  # fmt: skip
    """The report in the folder, and the summary and the report in an MLflow run."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"summary.json": json.dumps(summary, indent=2) + "\n"}
    if report is not None:
        report.save_html(folder / "report.html")
        files["report.html"] = (folder / "report.html").read_text(encoding="utf-8")
    experiment = tracking.experiment_id(settings, f"{EXPERIMENT_PREFIX}{name}")
    tags = {"mlops.model": name, "mlops.environment": summary["environment"],
            "mlops.version": summary["version"], "mlops.status": summary["status"],
            **{f"mlops.alert.{a.kind}": a.state for a in found}}  # fmt: skip
    metrics = {"rows": float(summary["rows"]),
               "drifted_features": float(sum(d["drifted"] for d in summary["drift"])),
               "skipped_lines": float(summary["logs"]["skipped_lines"])}  # fmt: skip
    for item in summary["drift"]:
        if item["statistic"] is not None:
            metrics[f"drift.{item['column']}"] = float(item["statistic"])
    for health in (summary.get("service") or {}).get("versions", []):
        metrics[f"service.requests.v{health['version']}"] = float(health["requests"])
        metrics[f"service.error_rate.v{health['version']}"] = float(health["error_rate"])
        if health["p95_ms"] is not None:
            metrics[f"service.p95_ms.v{health['version']}"] = float(health["p95_ms"])
    with tracking.run(experiment, f"{name}-{summary['environment']}", tags) as run:
        tracking.log_run_data({"window_start": summary["window"]["start"],
                               "window_end": summary["window"]["end"],
                               "method": summary["method"], "threshold": summary["threshold"]},
                              metrics, files)  # fmt: skip
        return str(run.info.run_id)
