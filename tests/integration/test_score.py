"""`mlops score`: batch scoring with the version registry.yaml names, against a real trained
model and a real tracking store.

One repository with breast-cancer trained and promoted to staging and production is shared by
the module; each test writes its inputs and outputs in its own folder. Every bad input is
either one clear error (exit 1, nothing published, the previous output untouched) or a line in
the rejected file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from servers import s3_server, use_test_aws_credentials
from support import manifest_edited, promoted_repository, rows_to_score

from mlops.adapters.settings import load_settings
from mlops.core.batch import LINEAGE_COLUMNS

MODEL = "breast-cancer"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return promoted_repository(tmp_path_factory.mktemp("score") / "repo", MODEL)


@pytest.fixture(scope="module")
def holdout(root: Path) -> pd.DataFrame:
    return rows_to_score(root, MODEL, "malignant")


def score(cli: Any, root: Path, *args: str | Path) -> Any:
    return cli("--repo", root, "score", MODEL, *map(str, args))


def runs(root: Path) -> list[Any]:
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    return list(mlflow.search_runs(experiment_names=[f"batch/{MODEL}"], output_format="list"))


def estimator(root: Path) -> Any:
    import mlflow.sklearn

    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    return mlflow.sklearn.load_model(f"models:/{MODEL}/1")


def test_it_scores_parquet_with_production_and_every_row_carries_its_lineage(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli
) -> None:
    """The output is the input's columns, the model's own predictions and probabilities, and
    the model, version, run ids and time; the run is recorded in experiment batch/<model>."""
    holdout.to_parquet(tmp_path / "in.parquet")
    result = score(cli, root, "--input", tmp_path / "in.parquet", "--output",
                   tmp_path / "out.parquet", "--json", "--batch-rows", "50")  # fmt: skip
    assert result.code == 0, result.err
    (summary,) = json.loads(result.out)
    assert (summary["rows_in"], summary["rows_scored"], summary["rows_rejected"]) == (
        len(holdout),
        len(holdout),
        0,
    )
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == [*holdout.columns, "prediction", "probability", *LINEAGE_COLUMNS]
    assert out["sample_id"].tolist() == holdout["sample_id"].tolist()
    model = estimator(root)
    features = holdout.drop(columns=["sample_id"])
    assert out["prediction"].tolist() == model.predict(features).tolist()
    assert out["probability"].tolist() == pytest.approx(model.predict_proba(features)[:, 1])
    registry = yaml.safe_load((root / "registry.yaml").read_text())
    run_id = registry["models"][MODEL]["versions"]["1"]["run_id"]
    assert set(out["mlops_model"]) == {MODEL} and set(out["mlops_version"]) == {"1"}
    assert set(out["mlops_model_run_id"]) == {run_id}
    assert set(out["mlops_batch_run_id"]) == {summary["batch_run_id"]}
    assert out["mlops_scored_at"].nunique() == 1
    (run,) = [r for r in runs(root) if r.info.run_id == summary["batch_run_id"]]
    assert run.info.status == "FINISHED"
    assert run.data.metrics["rows_in"] == len(holdout)
    assert run.data.metrics["rows_per_second"] > 0
    assert run.data.tags["mlops.version"] == "1"
    assert run.data.tags["mlops.input_sha256"] == summary["input_sha256"]
    assert len(summary["output_sha256"]) == 64
    assert (tmp_path / "out.parquet.rejected.jsonl").read_text() == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.parquet",
        "out.parquet",
        "out.parquet.rejected.jsonl",
    ]  # nothing left aside


def test_the_manifest_names_input_and_output_relative_to_the_model_folder(
    root: Path, holdout: pd.DataFrame, cli
) -> None:
    """`mlops score NAME` alone reads serving.batch.input and publishes serving.batch.output."""
    folder = root / f"models/{MODEL}/data/batch"
    folder.mkdir(parents=True, exist_ok=True)
    holdout.to_parquet(folder / "incoming.parquet")
    result = score(cli, root)
    assert result.code == 0, result.err
    assert len(pd.read_parquet(folder / "scored.parquet")) == len(holdout)


def test_csv_and_json_lines_in_and_out(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli
) -> None:
    """CSV in, JSON lines out, and back: the same predictions whatever the format."""
    holdout.to_csv(tmp_path / "in.csv", index=False)
    assert (
        score(cli, root, "--input", tmp_path / "in.csv", "--output", tmp_path / "a.jsonl").code == 0
    )
    scored = pd.read_json(tmp_path / "a.jsonl", lines=True)
    holdout.to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    assert (
        score(cli, root, "--input", tmp_path / "in.jsonl", "--output", tmp_path / "b.csv").code == 0
    )
    again = pd.read_csv(tmp_path / "b.csv")
    assert scored["prediction"].tolist() == again["prediction"].tolist()
    assert len(again) == len(holdout)


def bad_csv(holdout: pd.DataFrame, path: Path) -> None:
    """20 rows: row 3 null, row 4 negative, row 5 ragged, row 6 not a number."""
    frame = holdout.head(20).copy()
    frame["mean_radius"] = frame["mean_radius"].astype(object)
    frame.loc[2, "mean_radius"] = None
    frame.loc[3, "mean_texture"] = -5
    frame.loc[5, "mean_radius"] = "abc"
    frame.to_csv(path, index=False)
    lines = path.read_text().splitlines(keepends=True)
    lines[5] = lines[5].rstrip("\n") + ",99\n"
    path.write_text("".join(lines))


def set_share(root: Path, share: float) -> None:
    path = root / f"models/{MODEL}/model.yaml"
    data = yaml.safe_load(path.read_text())
    data["serving"]["batch"]["max_rejected_share"] = share
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def tolerant(root: Path) -> Any:
    path = root / f"models/{MODEL}/model.yaml"
    before = path.read_text()
    set_share(root, 0.5)
    yield root
    path.write_text(before)


def test_bad_rows_go_to_the_rejected_file_with_their_row_and_reason(
    tolerant: Path, holdout: pd.DataFrame, tmp_path: Path, cli
) -> None:
    """rows_in = rows_scored + rows_rejected; each rejected row names its field."""
    bad_csv(holdout, tmp_path / "in.csv")
    result = score(cli, tolerant, "--input", tmp_path / "in.csv", "--output",
                   tmp_path / "out.parquet", "--json")  # fmt: skip
    assert result.code == 0, result.err
    (summary,) = json.loads(result.out)
    assert (summary["rows_in"], summary["rows_scored"], summary["rows_rejected"]) == (20, 16, 4)
    rejected = [json.loads(line) for line in (tmp_path / "out.parquet.rejected.jsonl").open()]
    reasons = sorted((r["row"], r["reason"]) for r in rejected)
    assert reasons == [
        (3, "field 'mean_radius': got null; expected a number from 0 to 290"),
        (4, "field 'mean_texture': is below the minimum 0; expected a number from 0 to 400"),
        (5, "has 32 fields, expected 31"),
        (6, "field 'mean_radius': got a string ('abc'); expected a number from 0 to 290"),
    ]
    assert pq.read_metadata(tmp_path / "out.parquet").num_rows == 16


def test_too_many_bad_rows_fail_the_run_and_leave_the_previous_output(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli
) -> None:
    """Above serving.batch.max_rejected_share (1% by default) nothing is published, the old
    output and its rejected file stay byte for byte, and the run is recorded as FAILED."""
    out = tmp_path / "out.parquet"
    out.write_bytes(b"yesterday's output")
    (tmp_path / "out.parquet.rejected.jsonl").write_text("yesterday\n")
    bad_csv(holdout, tmp_path / "in.csv")
    result = score(cli, root, "--input", tmp_path / "in.csv", "--output", out)
    assert result.code == 1
    assert "4 of 20 rows (20.00%) failed the feature schema" in result.err
    assert "max_rejected_share allows 1.00%" in result.err
    assert "row 3: field 'mean_radius': got null" in result.err
    assert out.read_bytes() == b"yesterday's output"
    assert (tmp_path / "out.parquet.rejected.jsonl").read_text() == "yesterday\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.csv",
        "out.parquet",
        "out.parquet.rejected.jsonl",
    ]
    failed = [r for r in runs(root) if r.data.tags.get("mlops.input", "").endswith(
        f"{tmp_path.name}/in.csv")]  # fmt: skip
    assert [r.info.status for r in failed] == ["FAILED"]
    assert "failed the feature schema" in failed[0].data.tags["mlops.error"]


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.with_suffix(".csv").write_text(""), "the file is empty"),
        (
            lambda p: p.with_suffix(".parquet").write_bytes(b"PAR1 not really"),
            "cannot read it as parquet",
        ),
        (lambda _: None, "no such input"),
        (
            lambda p: pd.DataFrame({"mean_radius": [1.0]}).to_parquet(p.with_suffix(".parquet")),
            "lacks feature column(s) mean_texture",
        ),
    ],
    ids=["empty", "corrupt-parquet", "missing-file", "missing-columns"],
)
def test_an_unusable_input_is_one_clear_error_and_nothing_is_published(
    root: Path, tmp_path: Path, cli, write: Any, message: str
) -> None:
    """Empty, corrupt, absent or without the features: exit 1, the reason, no output."""
    stem = tmp_path / "in"
    write(stem)
    source = next(iter(tmp_path.iterdir()), stem.with_suffix(".parquet"))
    result = score(cli, root, "--input", source, "--output", tmp_path / "out" / "o.parquet")
    assert result.code == 1
    assert message in result.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_output_location_that_cannot_be_written_fails_before_scoring(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli
) -> None:
    """A file where the output folder should be: one line naming the location."""
    holdout.to_parquet(tmp_path / "in.parquet")
    (tmp_path / "blocked").write_text("a file, not a folder")
    result = score(cli, root, "--input", tmp_path / "in.parquet", "--output",
                   tmp_path / "blocked" / "out.parquet")  # fmt: skip
    assert result.code == 1
    assert "cannot write there" in result.err and "blocked/out.parquet" in result.err


def test_an_unregistered_version_or_unknown_format_is_refused(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli
) -> None:
    """--version must be in registry.yaml; formats come from the suffix."""
    holdout.to_parquet(tmp_path / "in.parquet")
    result = score(cli, root, "--version", "9", "--input", tmp_path / "in.parquet",
                   "--output", tmp_path / "o.parquet")  # fmt: skip
    assert result.code == 1 and "version 9 is not registered in registry.yaml" in result.err
    result = score(cli, root, "--input", tmp_path / "in.parquet", "--output", tmp_path / "o.xlsx")
    assert result.code == 1 and "unsupported format" in result.err
    assert not (tmp_path / "o.parquet").exists()


def test_an_id_column_replaces_the_input_columns(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli
) -> None:
    """serving.batch.id_column keeps the output lean: the id, predictions and lineage."""
    with manifest_edited(root, MODEL, lambda m: m["serving"]["batch"].update(
            id_column="sample_id")):  # fmt: skip
        holdout.to_parquet(tmp_path / "in.parquet")
        result = score(
            cli, root, "--input", tmp_path / "in.parquet", "--output", tmp_path / "o.parquet"
        )
    assert result.code == 0, result.err
    columns = list(pd.read_parquet(tmp_path / "o.parquet").columns)
    assert columns == ["sample_id", "prediction", "probability", *LINEAGE_COLUMNS]


def test_a_schedule_scores_the_models_due_and_skips_those_without_production(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli
) -> None:
    """`--schedule CRON` scores each due model with production; nothing due is not an error."""
    folder = root / f"models/{MODEL}/data/batch"
    folder.mkdir(parents=True, exist_ok=True)
    holdout.to_parquet(folder / "incoming.parquet")
    result = cli("--repo", root, "score", "--schedule", "0 2 * * 1", "--json")
    assert result.code == 0, result.err
    assert [(r["model"], r["status"]) for r in json.loads(result.out)] == [(MODEL, "scored")]
    result = cli("--repo", root, "score", "--schedule", "5 5 * * *", "--json")
    assert result.code == 0 and json.loads(result.out) == []
    registry = root / "registry.yaml"
    before = registry.read_text()
    data = yaml.safe_load(before)
    data["models"][MODEL]["stages"].pop("production")
    registry.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        result = cli("--repo", root, "score", "--schedule", "0 2 * * 1")
    finally:
        registry.write_text(before)
    assert result.code == 0
    assert "skipped: no production version in registry.yaml" in result.err


def test_conflicting_options_are_usage_errors(root: Path, cli) -> None:
    """A model or a schedule; a stage or a version."""
    assert cli("--repo", root, "score").code == 2
    assert cli("--repo", root, "score", MODEL, "--stage", "staging", "--version", "1").code == 2
    assert cli("--repo", root, "score", "--schedule", "0 2 * * 1", "--version", "1").code == 2


def test_no_partial_file_survives_an_interrupted_run(
    root: Path, holdout: pd.DataFrame, tmp_path: Path
) -> None:
    """An interruption mid-run (here: after the first batch) removes what was written aside."""
    from mlops.flows.batch_scoring import Request, score_model

    pd.concat([holdout] * 4).to_parquet(tmp_path / "in.parquet")

    def interrupt(rows: int, total: int | None) -> None:
        raise KeyboardInterrupt

    request = Request(input=str(tmp_path / "in.parquet"), output=str(tmp_path / "o.parquet"),
                      batch_rows=50)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        score_model(root, MODEL, request, interrupt)
    assert [p.name for p in tmp_path.iterdir()] == ["in.parquet"]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """An S3 endpoint (moto) with a bucket `batch`, and the variables a runner would set."""
    import boto3

    use_test_aws_credentials(monkeypatch, tmp_path)
    with s3_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        client.create_bucket(Bucket="batch")
        yield url, client


def test_it_reads_and_publishes_on_s3(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli, s3: tuple[str, Any]
) -> None:
    """s3:// input and output on an S3-compatible endpoint: the output and its rejected file
    appear under their keys, and nothing is left beside them."""
    _, client = s3
    holdout.to_parquet(tmp_path / "in.parquet")
    client.upload_file(str(tmp_path / "in.parquet"), "batch", "in/rows.parquet")
    result = score(cli, root, "--input", "s3://batch/in/rows.parquet", "--output",
                   "s3://batch/out/scored.parquet", "--json")  # fmt: skip
    assert result.code == 0, result.err
    listed = client.list_objects_v2(Bucket="batch")["Contents"]
    keys = sorted(o["Key"] for o in listed if not o["Key"].endswith("/"))  # folder markers aside
    assert keys == ["in/rows.parquet", "out/scored.parquet", "out/scored.parquet.rejected.jsonl"]
    client.download_file("batch", "out/scored.parquet", str(tmp_path / "out.parquet"))
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["sample_id"].tolist() == holdout["sample_id"].tolist()
    (summary,) = json.loads(result.out)
    assert set(out["mlops_batch_run_id"]) == {summary["batch_run_id"]}
    import hashlib

    assert (
        summary["input_sha256"]
        == hashlib.sha256((tmp_path / "in.parquet").read_bytes()).hexdigest()
    )


def test_an_s3_endpoint_that_is_down_is_one_clear_error(
    root: Path, cli, s3: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer from the endpoint: exit 1 naming the location, nothing published."""
    from servers import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    result = score(cli, root, "--input", "s3://batch/in/rows.parquet", "--output",
                   "s3://batch/out/scored.parquet")  # fmt: skip
    assert result.code == 1
    assert "s3://batch/in/rows.parquet" in result.err
