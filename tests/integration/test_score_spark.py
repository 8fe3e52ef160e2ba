"""`mlops score --engine spark`: the same rows, rejections, predictions and lineage as the
local engine, computed by Spark (`mlflow.pyfunc.spark_udf`) on the configured master.

One repository with breast-cancer trained and promoted is shared by the module. Each Spark
run is a real CLI run that starts and stops its own session on `local[1]`/`local[2]`; small
input splits make Spark read even these small files in several partitions, so the row
numbering across partitions is exercised.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from support import promoted_repository, require_system, rows_to_score, spark_present

from mlops.adapters.settings import load_settings
from mlops.core.batch import LINEAGE_COLUMNS

pytestmark = pytest.mark.system

MODEL = "breast-cancer"


@pytest.fixture(scope="module", autouse=True)
def spark_with_small_splits() -> Iterator[None]:
    require_system("Java 17 (openjdk-17-jre-headless) and pyspark", spark_present(),
                   "run scripts/bootstrap and install the `test` dependency group")  # fmt: skip
    patch = pytest.MonkeyPatch()
    # small splits: the inputs here are read in several partitions, as large ones are
    patch.setenv("PYSPARK_SUBMIT_ARGS", "--conf spark.sql.files.maxPartitionBytes=65536"
                 " --conf spark.sql.files.openCostInBytes=0 pyspark-shell")  # fmt: skip
    yield
    patch.undo()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return promoted_repository(tmp_path_factory.mktemp("score-spark") / "repo", MODEL)


@pytest.fixture(scope="module")
def holdout(root: Path) -> pd.DataFrame:
    return rows_to_score(root, MODEL, "malignant")


def score(cli: Any, root: Path, *args: str | Path) -> Any:
    return cli("--repo", root, "score", MODEL, *map(str, args))


def both(cli: Any, root: Path, source: Path, suffix: str, monkeypatch: pytest.MonkeyPatch,
         master: str = "local[2]") -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Score `source` with each engine into out-<engine><suffix>; their JSON summaries."""
    monkeypatch.setenv("MLOPS_SPARK_MASTER", master)
    summaries = []
    for engine in ("local", "spark"):
        out = source.parent / f"out-{engine}{suffix}"
        result = score(cli, root, "--input", source, "--output", out, "--engine", engine, "--json")
        assert result.code == 0, result.err
        (summary,) = json.loads(result.out)
        summaries.append(summary)
    return summaries[0], summaries[1]


def rejected(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_same_outputs(local: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same columns, rows in the same order, predictions equal, lineage equal but for the run
    that scored them and when."""
    assert list(spark.columns) == list(local.columns)
    assert spark["sample_id"].tolist() == local["sample_id"].tolist()
    assert spark["prediction"].tolist() == local["prediction"].tolist()
    assert str(spark["prediction"].dtype) == str(local["prediction"].dtype)
    assert spark["probability"].tolist() == pytest.approx(local["probability"].tolist(), abs=1e-12)
    for column in ("mlops_model", "mlops_version", "mlops_model_run_id"):
        assert spark[column].tolist() == local[column].tolist()
    for frame in (local, spark):
        assert frame["mlops_batch_run_id"].nunique() == 1
        assert frame["mlops_scored_at"].nunique() == 1
    assert str(spark["mlops_scored_at"].dtype) == str(local["mlops_scored_at"].dtype)
    features = [c for c in local.columns if c not in {"sample_id", "prediction", "probability",
                                                       *LINEAGE_COLUMNS}]  # fmt: skip
    pd.testing.assert_frame_equal(spark[features], local[features])


def test_both_engines_score_parquet_alike_row_for_row(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few thousand rows with bad ones scattered through the file: the same predictions and
    probabilities in the same order, the same rejected rows and reasons, the same lineage."""
    frame = pd.concat([holdout] * 30, ignore_index=True)
    frame["sample_id"] = [f"s{i}" for i in range(len(frame))]
    frame.loc[[10, 1500, len(frame) - 3], "mean_radius"] = None
    frame.loc[[700, 2999], "mean_texture"] = -1.0
    frame.to_parquet(tmp_path / "in.parquet", row_group_size=250)
    local, spark = both(cli, root, tmp_path / "in.parquet", ".parquet", monkeypatch)
    counts = ("rows_in", "rows_scored", "rows_rejected")
    assert (
        [spark[k] for k in counts] == [local[k] for k in counts] == [len(frame), len(frame) - 5, 5]
    )
    assert spark["input_sha256"] == local["input_sha256"]
    assert_same_outputs(pd.read_parquet(tmp_path / "out-local.parquet"),
                        pd.read_parquet(tmp_path / "out-spark.parquet"))  # fmt: skip
    wanted = rejected(tmp_path / "out-local.parquet.rejected.jsonl")
    assert [r["row"] for r in wanted] == [11, 701, 1501, 3000, len(frame) - 2]
    got = rejected(tmp_path / "out-spark.parquet.rejected.jsonl")
    assert {(r["row"], r["reason"]) for r in got} == {(r["row"], r["reason"]) for r in wanted}
    assert [r["row"] for r in got] == [r["row"] for r in wanted]  # in input order
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.parquet", "out-local.parquet", "out-local.parquet.rejected.jsonl",
         "out-spark.parquet", "out-spark.parquet.rejected.jsonl"]
    )  # fmt: skip  # no partial folder left


def set_share(root: Path, share: float) -> str:
    path = root / f"models/{MODEL}/model.yaml"
    before = path.read_text()
    data = yaml.safe_load(before)
    data["serving"]["batch"]["max_rejected_share"] = share
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return before


def bad_csv(holdout: pd.DataFrame, path: Path) -> None:
    """300 rows: row 3 null, row 4 negative, row 5 ragged, row 6 not a number, 250 with two fields fewer."""
    frame = pd.concat([holdout] * 3, ignore_index=True).head(300)
    frame["sample_id"] = [f"s{i}" for i in range(len(frame))]
    frame["mean_radius"] = frame["mean_radius"].astype(object)
    frame.loc[2, "mean_radius"] = None
    frame.loc[3, "mean_texture"] = -5
    frame.loc[5, "mean_radius"] = "abc"
    frame.to_csv(path, index=False)
    lines = path.read_text().splitlines(keepends=True)
    lines[5] = lines[5].rstrip("\n") + ",99\n"
    lines[250] = ",".join(lines[250].split(",")[:-2]) + "\n"
    path.write_text("".join(lines))


def test_both_engines_agree_on_csv_and_the_master_comes_from_the_environment(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CSV with a bad value, a null, a value out of range and lines with too many and too few
    fields: the same rejected rows and reasons from both engines; the Spark run records its
    engine and the master MLOPS_SPARK_MASTER named."""
    bad_csv(holdout, tmp_path / "in.csv")
    before = set_share(root, 0.5)
    try:
        local, spark = both(cli, root, tmp_path / "in.csv", ".csv", monkeypatch, "local[1]")
    finally:
        (root / f"models/{MODEL}/model.yaml").write_text(before)
    assert (spark["rows_in"], spark["rows_rejected"]) == (local["rows_in"], local["rows_rejected"])
    assert local["rows_rejected"] == 5
    wanted = rejected(tmp_path / "out-local.csv.rejected.jsonl")
    got = rejected(tmp_path / "out-spark.csv.rejected.jsonl")
    assert sorted((r["row"], r["reason"]) for r in got) == sorted(
        (r["row"], r["reason"]) for r in wanted
    )
    assert (5, "has 32 fields, expected 31") in {(r["row"], r["reason"]) for r in got}
    assert (250, "has 29 fields, expected 31") in {(r["row"], r["reason"]) for r in got}
    assert {r["row"]: r.get("line") for r in got} == {r["row"]: r.get("line") for r in wanted}
    assert_same_outputs(pd.read_csv(tmp_path / "out-local.csv"),
                        pd.read_csv(tmp_path / "out-spark.csv"))  # fmt: skip
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    tags = {e: mlflow.get_run(s["batch_run_id"]).data.tags for e, s in
            (("local", local), ("spark", spark))}  # fmt: skip
    assert tags["spark"]["mlops.engine"] == "spark"
    assert tags["spark"]["mlops.spark_master"] == "local[1]"
    assert tags["local"]["mlops.engine"] == "local"
    assert "mlops.spark_master" not in tags["local"]


def test_too_many_rejected_rows_on_spark_publish_nothing(
    root: Path, holdout: pd.DataFrame, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above max_rejected_share: exit 1, yesterday's output and rejected file untouched, no
    partial folder left beside them."""
    monkeypatch.setenv("MLOPS_SPARK_MASTER", "local[2]")
    out = tmp_path / "out.parquet"
    out.write_bytes(b"yesterday's output")
    (tmp_path / "out.parquet.rejected.jsonl").write_text("yesterday\n")
    bad_csv(holdout, tmp_path / "in.csv")
    result = score(cli, root, "--input", tmp_path / "in.csv", "--output", out, "--engine", "spark")
    assert result.code == 1
    assert "5 of 300 rows (1.67%) failed the feature schema" in result.err
    assert "row 3: field 'mean_radius': got null" in result.err
    assert out.read_bytes() == b"yesterday's output"
    assert (tmp_path / "out.parquet.rejected.jsonl").read_text() == "yesterday\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.csv", "out.parquet", "out.parquet.rejected.jsonl",
    ]  # fmt: skip


def test_spark_refuses_s3_locations_in_one_line(root: Path, tmp_path: Path, cli) -> None:
    """s3:// needs the hadoop-aws jars a cluster provides: refused before anything starts."""
    result = score(cli, root, "--input", "s3://batch/in.parquet", "--output",
                   tmp_path / "o.parquet", "--engine", "spark")  # fmt: skip
    assert result.code == 1
    assert "s3://batch/in.parquet: --engine spark reads and writes local paths only" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "o.parquet").exists()
