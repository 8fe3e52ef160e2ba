"""`mlops monitor` on logged predictions of a promoted breast-cancer: no drift on rows like
the training data, drift named when inputs shift, no verdict on too few rows, malformed log
lines skipped with their place, and the reference found through DVC when the checkout's
copy is gone or changed.

The logs are written by the serving process's own writer, with the model's real predictions.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from support import promoted_repository

from mlops.adapters.batch_model import BatchModel
from mlops.adapters.settings import load_settings
from mlops.core.prediction_log import Protection
from mlops.serving.prediction_logs import PredictionLog

MODEL = "breast-cancer"
SHIFTED = ("mean_radius", "worst_area")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return promoted_repository(tmp_path_factory.mktemp("monitor") / "repo", MODEL)


def rows_like_training(root: Path, count: int, seed: int, shift: float = 1.0) -> pd.DataFrame:
    """`count` training rows with 1% noise; the SHIFTED features times `shift`."""
    train = pd.read_csv(root / f"models/{MODEL}/data/train.csv").drop(columns=["malignant"])
    rng = np.random.default_rng(seed)
    frame = train.sample(count, replace=True, random_state=seed).reset_index(drop=True)
    frame = frame * rng.normal(1, 0.01, frame.shape)
    for name in SHIFTED:
        frame[name] = frame[name] * shift
    return frame


def log_predictions(root: Path, frame: pd.DataFrame, logs: Path, *,
                    environment: str = "production", version: str = "1",
                    when: datetime | None = None) -> None:  # fmt: skip
    """Score `frame` with the model as the server does (label and positive-class
    probability) and log it as served requests of ten rows each."""
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    model = BatchModel(f"models:/{MODEL}/1", classifier=True)
    labels, probability = model.predict(frame)
    answers = [{"prediction": int(a), "probability": float(b)}
               for a, b in zip(labels, probability, strict=True)]  # fmt: skip
    writer = PredictionLog(logs, environment, MODEL, version, Protection())
    rows = frame.to_dict(orient="records")
    moment = when or datetime.now(UTC) - timedelta(hours=1)
    for start in range(0, len(rows), 10):
        writer.write(f"r{start}", 5.0, rows[start : start + 10], answers[start : start + 10],
                     moment)  # fmt: skip
    writer.close()


def run_monitor(cli: Any, root: Path, logs: Path, out: Path, *extra: str) -> tuple[Any, Any]:
    result = cli("--repo", root, "monitor", MODEL, "--logs", logs, "--out", out, "--json",
                 *extra)  # fmt: skip
    summary = json.loads(result.out) if result.out.strip() else None
    return result, summary


def test_rows_like_the_training_data_raise_no_alarm(root: Path, tmp_path: Path, cli) -> None:
    """400 rows drawn from the training data: every watched feature and the prediction
    within the threshold, exit 0, the report and summary written and logged to MLflow."""
    logs = tmp_path / "logs"
    log_predictions(root, rows_like_training(root, 400, seed=1), logs)
    result, summary = run_monitor(cli, root, logs, tmp_path / "out")
    assert result.code == 0, result.err
    assert summary["status"] == "ok"
    assert summary["rows"] == 400 and summary["version"] == "1"
    assert [d["column"] for d in summary["drift"]] == [
        "mean_radius",
        "mean_texture",
        "mean_concave_points",
        "worst_area",
        "worst_concavity",
    ]  # fmt: skip (monitoring.drift.features)
    assert all(d["method"] == "psi" and not d["drifted"] for d in summary["drift"])
    assert summary["prediction_drift"]["column"] == "prediction"
    assert summary["quality"]["invalid_rows"] == 0
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["status"] == "ok"
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    run = mlflow.get_run(summary["run_id"])
    assert run.data.tags["mlops.status"] == "ok"
    assert run.data.metrics["rows"] == 400
    assert mlflow.get_experiment(run.info.experiment_id).name == f"monitor/{MODEL}"


def test_shifted_inputs_are_a_breach_that_names_the_features(root: Path, tmp_path: Path,
                                                               cli) -> None:  # fmt: skip
    """Two watched features 60% larger: exit 1, one line naming both with their PSI, and
    the summary says which drifted."""
    logs = tmp_path / "logs"
    log_predictions(root, rows_like_training(root, 400, seed=2, shift=1.6), logs)
    result, summary = run_monitor(cli, root, logs, tmp_path / "out")
    assert result.code == 1
    assert summary["status"] == "breach"
    moved = {d["column"] for d in summary["drift"] if d["drifted"]}
    assert moved == set(SHIFTED)
    (line,) = [x for x in result.err.splitlines() if x.startswith("error:")]
    assert "data drift in 2 of 5 feature(s)" in line
    assert "mean_radius psi" in line and "> 0.2" in line


def test_too_few_rows_give_no_verdict_and_no_alarm(root: Path, tmp_path: Path, cli) -> None:
    """30 rows, even shifted ones: status `insufficient data`, exit 0, no statistics."""
    logs = tmp_path / "logs"
    log_predictions(root, rows_like_training(root, 30, seed=3, shift=3.0), logs)
    result, summary = run_monitor(cli, root, logs, tmp_path / "out")
    assert result.code == 0, result.err
    assert summary["status"] == "insufficient data"
    assert summary["reasons"] == ["30 row(s) in the window; a drift verdict needs at least 100"]
    assert summary["drift"] == [] and not (tmp_path / "out" / "report.html").exists()


def test_malformed_lines_and_other_rows_are_counted_not_used(root: Path, tmp_path: Path,
                                                              cli) -> None:  # fmt: skip
    """Broken lines are skipped with file and line; lines of another version, of another
    environment and from before the window are not in the window's rows."""
    logs = tmp_path / "logs"
    frame = rows_like_training(root, 200, seed=4)
    log_predictions(root, frame, logs)
    log_predictions(root, frame.head(20), logs, version="2")
    log_predictions(root, frame.head(20), logs, environment="staging")
    old = datetime.now(UTC) - timedelta(days=30)
    log_predictions(root, frame.head(20), logs, when=old)
    written = (datetime.now(UTC) - timedelta(hours=1)).date()  # log_predictions' default time
    (day,) = (logs / "production" / MODEL).glob(f"date={written}")
    broken = day / "v1-broken.jsonl"
    broken.write_text('{"time": "cut sho\n[1, 2]\n\n{"model": "x"}\n')
    result, summary = run_monitor(cli, root, logs, tmp_path / "out", "--window", "2d")
    assert result.code == 0, result.err
    assert summary["rows"] == 200
    assert summary["logs"]["other_versions"] == 20
    assert summary["logs"]["skipped_lines"] == 3
    assert [x.split(": ", 1)[0] for x in summary["logs"]["skipped"]] == [
        f"{broken}:1", f"{broken}:2", f"{broken}:4"
    ]  # fmt: skip
    human = cli("--repo", root, "monitor", MODEL, "--logs", logs, "--out", tmp_path / "o2")
    assert f"skipped {broken}:2: not a JSON object" in human.out
    # text from settings and logs is printed as it is, brackets included
    assert "[tool.mlops.monitoring])" in human.out


def test_the_reference_is_the_recorded_training_data_even_when_the_checkout_changed(
    root: Path, tmp_path: Path, cli
) -> None:
    """The checkout's train.csv edited and the DVC cache emptied: the reference is fetched
    through DVC at the version's commit (from the remote) and the verdict is unchanged."""
    logs = tmp_path / "logs"
    log_predictions(root, rows_like_training(root, 300, seed=5), logs)
    train = root / f"models/{MODEL}/data/train.csv"
    before = train.read_bytes()
    cache = root / ".dvc" / "cache"
    moved = tmp_path / "cache-aside"
    try:
        train.write_bytes(before.replace(b"\n1", b"\n9", 20))
        assert train.read_bytes() != before
        cache.rename(moved)
        result, summary = run_monitor(cli, root, logs, tmp_path / "out")
    finally:
        train.write_bytes(before)
        if moved.exists():
            if cache.exists():
                shutil.rmtree(cache)
            moved.rename(cache)
    assert result.code == 0, result.err
    assert summary["status"] == "ok"


def test_a_window_that_is_not_a_duration_is_refused(root: Path, tmp_path: Path, cli) -> None:
    result = cli("--repo", root, "monitor", MODEL, "--window", "7x", "--logs", tmp_path)
    assert result.code == 2
    assert "window '7x': expected days or hours, like 7d or 36h" in result.err


def labels_file(path: Path, logs: Path, flip: bool, extra: list[dict[str, Any]]) -> Path:
    """An outcome for every logged prediction of production: the prediction itself (or its
    opposite), plus `extra` rows."""
    rows = []
    for log in (logs / "production" / MODEL).glob("date=*/v1-*.jsonl"):
        for line in log.read_text().splitlines():
            record = json.loads(line)
            truth = 1 - record["prediction"] if flip else record["prediction"]
            rows.append({"request_id": record["request_id"], "row": record["row"],
                         "malignant": truth})  # fmt: skip
    pd.DataFrame(rows + extra).to_csv(path, index=False)
    return path


def test_outcomes_attach_to_predictions_and_a_metric_below_its_floor_is_a_breach(
    root: Path, tmp_path: Path, cli
) -> None:
    """Outcomes that agree with the predictions: all metrics 1.0, no breach; outcomes that
    contradict them: ROC AUC 0 below the manifest's 0.95, exit 1 naming it. An outcome for
    a request never logged is reported and not stored."""
    logs = tmp_path / "logs"
    log_predictions(root, rows_like_training(root, 200, seed=6), logs)
    unknown = [{"request_id": "never-served", "row": 0, "malignant": 1}]
    good = cli("--repo", root, "labels", MODEL, labels_file(tmp_path / "a.csv", logs, False,
               unknown), "--logs", logs, "--json")  # fmt: skip
    assert good.code == 0, good.err
    attached = json.loads(good.out)
    assert (attached["rows"], attached["attached"], attached["unknown"]) == (201, 200, 1)
    assert attached["unknown_examples"] == ["never-served row 0"]
    result, summary = run_monitor(cli, root, logs, tmp_path / "out")
    assert result.code == 0, result.err
    performance = summary["performance"]
    assert (performance["labelled"], performance["metric"], performance["breached"]) == (
        200, "roc_auc", False
    )  # fmt: skip
    assert performance["metrics"]["accuracy"] == 1.0
    assert set(performance["metrics"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}

    flipped = cli("--repo", root, "labels", MODEL,
                  labels_file(tmp_path / "b.csv", logs, True, []), "--logs", logs)  # fmt: skip
    assert flipped.code == 0, flipped.err
    result, summary = run_monitor(cli, root, logs, tmp_path / "out2")
    assert result.code == 1
    assert summary["performance"]["breached"] is True
    assert "performance: roc_auc 0 on 200 labelled rows breaks min 0.95" in result.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "request_id,row,malignant\nr0,0,7\n",
            "row 1: malignant: 7 is not one of the classes 0, 1",
        ),
        ("request_id,row,malignant\nr0,-1,1\n", "row 1: row -1 is not a row index"),
        ("request_id,malignant\n,1\n", "row 1: request_id is empty"),
        ("id,malignant\nr0,1\n", "no `request_id` column"),
        ("request_id,outcome\nr0,1\n", "no label column: expected `malignant`"),
    ],
)
def test_bad_outcome_files_store_nothing(root: Path, tmp_path: Path, cli, content: str,
                                         message: str) -> None:  # fmt: skip
    """A bad value anywhere, a missing column: exit 1 naming the row and field, nothing
    written beside the logs."""
    logs = tmp_path / "logs"
    log_predictions(root, rows_like_training(root, 10, seed=7), logs)
    before = sorted(p.name for p in logs.rglob("*"))
    source = tmp_path / "labels.csv"
    source.write_text(content)
    result = cli("--repo", root, "labels", MODEL, source, "--logs", logs)
    assert result.code == 1
    assert message in result.err
    assert sorted(p.name for p in logs.rglob("*")) == before


def test_outcomes_that_match_nothing_store_nothing(root: Path, tmp_path: Path, cli) -> None:
    logs = tmp_path / "logs"
    log_predictions(root, rows_like_training(root, 10, seed=8), logs, environment="staging")
    source = tmp_path / "labels.csv"
    source.write_text("request_id,malignant\nr0,1\n")
    result = cli("--repo", root, "labels", MODEL, source, "--logs", logs)
    assert result.code == 1
    assert "none of its 1 label(s) matches a prediction breast-cancer logged in production" in (
        result.err
    )
    assert not list(logs.rglob("labels-*"))
