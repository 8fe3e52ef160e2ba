"""`mlops monitor NAME --batch` and `mlops labels NAME FILE --batch` on what `mlops score`
published with a promoted breast-cancer: the output read as a log of the production version
(environment `batch`), outcomes attached by batch run and row number or id, and every broken
input one clear error that stores nothing.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from support import manifest_edited, promoted_repository, rows_to_score, run_cli

from mlops.adapters.settings import load_settings
from mlops.core.batch import LINEAGE_COLUMNS

MODEL = "breast-cancer"
WATCHED = ["mean_radius", "mean_texture", "mean_concave_points", "worst_area", "worst_concavity"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return promoted_repository(tmp_path_factory.mktemp("monitor-batch") / "repo", MODEL)


@pytest.fixture(scope="module")
def scored(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The holdout scored by production into a Parquet output, every input column kept."""
    folder = tmp_path_factory.mktemp("scored")
    rows_to_score(root, MODEL, "malignant").to_parquet(folder / "in.parquet")
    assert run_cli("--repo", root, "score", MODEL, "--input", folder / "in.parquet",
                   "--output", folder / "out.parquet") == 0  # fmt: skip
    return folder / "out.parquet"


def truth(root: Path) -> list[int]:
    """The holdout's diagnoses, in the order the output holds its rows."""
    return pd.read_csv(root / f"models/{MODEL}/data/holdout.csv")["malignant"].tolist()


def ids_only(root: Path) -> AbstractContextManager[dict[str, Any]]:
    """The manifest with serving.batch.id_column: sample_id, for the block's length."""
    return manifest_edited(root, MODEL, lambda m: m["serving"]["batch"].update(
        id_column="sample_id"))  # fmt: skip


def test_a_batch_output_is_monitored_as_a_log_with_its_outcomes(root: Path, scored: Path,
                                                                tmp_path: Path, cli) -> None:  # fmt: skip
    """The production version's rows of the output are the window (environment `batch`,
    the watched features and the prediction compared, the rows checked); outcomes attached
    by batch run and row number give the task's metrics; an outcome of a row never scored
    is listed and not stored."""
    output = pd.read_parquet(scored)
    run_id = str(output["mlops_batch_run_id"].iloc[0])
    rows = len(output)
    labels = pd.DataFrame({"batch_run_id": run_id, "row": range(1, rows + 1),
                           "malignant": truth(root)})  # fmt: skip
    labels.loc[rows] = [run_id, rows + 5, 1]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    logs = tmp_path / "logs"
    attached = cli("--repo", root, "labels", MODEL, tmp_path / "labels.csv", "--batch", scored,
                   "--logs", logs, "--json")  # fmt: skip
    assert attached.code == 0, attached.err
    found = json.loads(attached.out)
    assert (found["rows"], found["attached"], found["unknown"]) == (rows + 1, rows, 1)
    assert found["unknown_examples"] == [f"{run_id} row {rows + 5}"]
    assert Path(found["stored"]).parent.parent == logs / "batch" / MODEL

    result = cli("--repo", root, "monitor", MODEL, "--batch", scored, "--logs", logs,
                 "--out", tmp_path / "out", "--json")  # fmt: skip
    summary = json.loads(result.out)
    assert (summary["environment"], summary["version"], summary["rows"]) == ("batch", "1", rows)
    assert summary["outputs"] == [str(scored)] and summary["logs"]["files"] == 1
    assert [d["column"] for d in summary["drift"]] == WATCHED
    assert summary["prediction_drift"]["column"] == "prediction"
    assert summary["quality"]["invalid_rows"] == 0 and summary["not_monitored"] == []
    performance = summary["performance"]
    assert (performance["labelled"], performance["breached"]) == (rows, False)
    assert performance["metrics"]["roc_auc"] > 0.95
    drifted = any(d["drifted"] for d in [*summary["drift"], summary["prediction_drift"]])
    assert summary["status"] == ("breach" if drifted else "ok")
    assert result.code == (1 if drifted else 0), result.err
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    assert mlflow.get_run(summary["run_id"]).data.tags["mlops.environment"] == "batch"


def test_an_output_of_ids_only_monitors_the_prediction_and_joins_outcomes_by_id(
    root: Path, tmp_path: Path, cli
) -> None:
    """With serving.batch.id_column the output holds no feature: their drift is listed as
    not monitored, the prediction's is measured. `--batch` alone reads serving.batch.output;
    outcomes name their row by its id, and contradicting ones breach the metric's floor."""
    folder = root / f"models/{MODEL}/data/batch"
    folder.mkdir(parents=True, exist_ok=True)
    rows_to_score(root, MODEL, "malignant").to_parquet(folder / "incoming.parquet")
    logs = tmp_path / "logs"
    with ids_only(root):
        assert cli("--repo", root, "score", MODEL).code == 0
        output = pd.read_parquet(folder / "scored.parquet")
        assert list(output.columns) == ["sample_id", "prediction", "probability",
                                        *LINEAGE_COLUMNS]  # fmt: skip
        pd.DataFrame({"batch_run_id": output["mlops_batch_run_id"], "row": output["sample_id"],
                      "malignant": [1 - t for t in truth(root)]}).to_csv(
            tmp_path / "labels.csv", index=False)  # fmt: skip
        attached = cli("--repo", root, "labels", MODEL, tmp_path / "labels.csv", "--batch",
                       "--logs", logs, "--json")  # fmt: skip
        assert attached.code == 0, attached.err
        assert json.loads(attached.out)["attached"] == len(output)
        result = cli("--repo", root, "monitor", MODEL, "--batch", "--logs", logs, "--out",
                     tmp_path / "out", "--json")  # fmt: skip
    summary = json.loads(result.out)
    assert summary["outputs"] == [str(folder / "scored.parquet")]
    assert summary["drift"] == [] and summary["quality"] is None
    assert summary["not_monitored"] == [
        f"{name}: not in the batch output (serving.batch.id_column keeps only the id)"
        for name in WATCHED
    ]
    assert summary["prediction_drift"]["statistic"] is not None
    assert summary["performance"]["labelled"] == len(output)
    assert result.code == 1
    assert f"{MODEL} in batch: performance: roc_auc" in result.err
    assert "breaks min 0.95" in result.err


def test_a_file_that_is_not_a_batch_output_is_refused_by_name(root: Path, tmp_path: Path,
                                                              cli) -> None:  # fmt: skip
    """The rows scoring reads are not what it writes: exit 1 naming the file and the lineage
    columns it lacks; --env beside --batch is a usage error."""
    rows_to_score(root, MODEL, "malignant").head(5).to_parquet(tmp_path / "in.parquet")
    result = cli("--repo", root, "monitor", MODEL, "--batch", tmp_path / "in.parquet",
                 "--logs", tmp_path / "logs", "--out", tmp_path / "out")  # fmt: skip
    assert result.code == 1
    assert (f"{tmp_path / 'in.parquet'}: not a batch output: it lacks the column(s) prediction,"
            f" {', '.join(LINEAGE_COLUMNS)} that every output of `mlops score` carries"
            ) in result.err  # fmt: skip
    both = cli("--repo", root, "monitor", MODEL, "--env", "staging", "--batch")
    assert both.code == 2 and "--batch monitors the production version's batch outputs" in both.err


def test_outcomes_of_rows_never_scored_store_nothing(root: Path, scored: Path, tmp_path: Path,
                                                     cli) -> None:  # fmt: skip
    run_id = str(pd.read_parquet(scored)["mlops_batch_run_id"].iloc[0])
    source = tmp_path / "labels.csv"
    source.write_text(f"batch_run_id,row,malignant\nno-such-run,1,1\n{run_id},100000,0\n")
    logs = tmp_path / "logs"
    result = cli("--repo", root, "labels", MODEL, source, "--batch", scored, "--logs", logs)
    assert result.code == 1
    assert (f"{source}: none of its 2 label(s) matches a row of {MODEL}'s batch output(s)"
            " scored in the last 90 day(s); nothing was stored") in result.err  # fmt: skip
    assert not logs.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("batch_run_id,row,malignant\nr,abc,1\n",
         "row 1: row 'abc' is not a row number (1, 2, ...)"),
        ("batch_run_id,row,malignant\nr,1,1\nr,0,1\n", "row 2: row 0 is not a row number"),
        ("request_id,row,malignant\nr,1,7\n", "row 1: malignant: 7 is not one of the classes"),
        ("batch_run_id,malignant\nr,1\n",
         "no `row` column: a batch row is named by its row number in the output (1, 2, ...)"),
        ("run,row,malignant\nr,1,1\n",
         "no `batch_run_id` column (the mlops_batch_run_id of the scored row) or `request_id`"),
    ],
)  # fmt: skip
def test_bad_outcome_files_for_batch_rows_store_nothing(root: Path, scored: Path,
                                                        tmp_path: Path, cli, content: str,
                                                        message: str) -> None:  # fmt: skip
    source = tmp_path / "labels.csv"
    source.write_text(content)
    logs = tmp_path / "logs"
    result = cli("--repo", root, "labels", MODEL, source, "--batch", scored, "--logs", logs)
    assert result.code == 1
    assert message in result.err
    assert not logs.exists()


def test_a_scheduled_run_checks_served_logs_and_the_published_batch_output(
    root: Path, scored: Path, tmp_path: Path, cli
) -> None:
    """`--schedule` monitors a batch-scoring model twice: its served logs in production and
    the output at serving.batch.output as `batch`; before anything is published there the
    batch check is a skip, not a failure."""
    published = tmp_path / "published.parquet"
    with manifest_edited(root, MODEL, lambda m: m["serving"]["batch"].update(
            output=str(published))) as manifest:  # fmt: skip
        cron = manifest["monitoring"]["drift"]["schedule"]
        args = ("--repo", root, "monitor", "--schedule", cron, "--logs", tmp_path / "logs",
                "--out", tmp_path / "out", "--json")  # fmt: skip
        first = json.loads(cli(*args).out)
        assert [(o["model"], o["status"]) for o in first] == [
            (MODEL, "insufficient data"), (f"{MODEL} (batch)", "skipped")
        ]  # fmt: skip
        assert first[1]["note"].endswith("published.parquet: no such batch output")
        published.write_bytes(scored.read_bytes())
        second = json.loads(cli(*args).out)
        assert second[1]["model"] == f"{MODEL} (batch)"
        summary = second[1]["summary"]
        assert (summary["environment"], summary["version"]) == ("batch", "1")
        assert summary["rows"] == len(pd.read_parquet(scored))
        for environment in ("production", "batch"):  # each its own report
            written = json.loads((tmp_path / "out" / MODEL / environment / "summary.json")
                                 .read_text())  # fmt: skip
            assert written["environment"] == environment
