"""`mlops score` with an R model: the rows go through the model's own long-lived Rscript
worker, chunk after chunk, on either engine, and a worker that dies in the middle of a batch
fails the run with nothing published.

fuel-efficiency (an R regression) is trained and promoted once for the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from support import promoted_repository, require_system, runtime_present, spark_present

pytestmark = pytest.mark.system  # R (r-base-core)

MODEL = "fuel-efficiency"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_system("R (r-base-core)", runtime_present("r"))
    return promoted_repository(tmp_path_factory.mktemp("score-r") / "repo", MODEL)


@pytest.fixture
def rows(root: Path, tmp_path: Path) -> Path:
    """The holdout's 8 cars, five times over: 40 rows, four chunks of 10."""
    frame = pd.read_csv(root / f"models/{MODEL}/data/holdout.csv").drop(columns=["mpg"])
    path = tmp_path / "in.parquet"
    pd.concat([frame] * 5, ignore_index=True).to_parquet(path)
    return path


def test_an_r_model_scores_chunk_after_chunk_through_its_worker(
    root: Path, rows: Path, tmp_path: Path, cli
) -> None:
    """Scored in chunks of 10 rows, every row has the prediction `mlops predict` gives for
    the whole file at once, and the lineage columns."""
    result = cli("--repo", root, "score", MODEL, "--input", rows, "--output",
                 tmp_path / "out.parquet", "--batch-rows", "10", "--json")  # fmt: skip
    assert result.code == 0, result.err
    (summary,) = json.loads(result.out)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert summary["rows_scored"] == len(out) == 40
    whole = cli("--repo", root, "predict", MODEL, "--version", "1", "--input", rows, "--json")
    assert whole.code == 0, whole.err
    expected = [r["prediction"] for r in json.loads(whole.out)]
    assert out["prediction"].tolist() == pytest.approx(expected)
    assert "probability" not in out.columns  # a regression
    assert set(out["mlops_version"]) == {"1"}


CRASHING = textwrap.dedent('''
    """Run the real runtime, but die without answering the request number CRASH_AT."""
    import os, subprocess, sys, threading
    crash_at = int(sys.argv[1])
    child = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    def pump():
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
    threading.Thread(target=pump, daemon=True).start()
    for number, line in enumerate(sys.stdin, start=1):
        if number == crash_at:
            child.kill()
            os._exit(137)
        child.stdin.write(line)
        child.stdin.flush()
''')


def test_a_worker_that_dies_mid_batch_fails_the_run_and_publishes_nothing(
    root: Path, rows: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies on its third request: exit 1 naming the rows being scored, the
    previous output untouched, nothing left aside."""
    wrapper = tmp_path / "crashing.py"
    wrapper.write_text(CRASHING)
    monkeypatch.setenv("MLOPS_RSCRIPT", f"{sys.executable} {wrapper} 3 Rscript")
    out = tmp_path / "out" / "scored.parquet"
    out.parent.mkdir()
    out.write_bytes(b"last week's output")
    result = cli("--repo", root, "score", MODEL, "--input", rows, "--output", out,
                 "--batch-rows", "10")  # fmt: skip
    assert result.code == 1
    assert f"{MODEL} version 1 failed while scoring rows from 21" in result.err
    assert "nothing was published" in result.err
    assert out.read_bytes() == b"last week's output"
    assert sorted(p.name for p in out.parent.iterdir()) == ["scored.parquet"]


@pytest.fixture
def spark(monkeypatch: pytest.MonkeyPatch) -> None:
    require_system("Java 17 (openjdk-17-jre-headless) and pyspark", spark_present(),
                   "run scripts/bootstrap and install the `test` dependency group")  # fmt: skip
    monkeypatch.setenv("MLOPS_SPARK_MASTER", "local[2]")


def test_spark_scores_an_r_model_from_json_lines_as_the_local_engine_does(
    root: Path, tmp_path: Path, cli, spark: None
) -> None:
    """JSON lines in, an R model's worker inside Spark's Python workers: the same rows, the
    same predictions in the same order, and the same rejected row, as the local engine."""
    frame = pd.read_csv(root / f"models/{MODEL}/data/holdout.csv").drop(columns=["mpg"])
    frame = pd.concat([frame] * 20, ignore_index=True)  # 160 rows: one bad is within 1%
    frame.insert(0, "car", [f"c{i}" for i in range(len(frame))])
    lines = frame.to_json(orient="records", lines=True).splitlines()
    bad = json.loads(lines[7])
    bad[frame.columns[1]] = "heavy"  # a feature that must be a number
    lines[7] = json.dumps(bad)
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    summaries, outputs = {}, {}
    for engine in ("local", "spark"):
        out = tmp_path / f"out-{engine}.parquet"
        result = cli("--repo", root, "score", MODEL, "--input", source, "--output", out,
                     "--engine", engine, "--json")  # fmt: skip
        assert result.code == 0, result.err
        (summaries[engine],) = json.loads(result.out)
        outputs[engine] = pd.read_parquet(out)
    for engine in ("local", "spark"):
        assert summaries[engine]["rows_in"] == 160
        assert summaries[engine]["rows_rejected"] == 1
        assert len(outputs[engine]) == 159
    local, spark_out = outputs["local"], outputs["spark"]
    assert spark_out["car"].tolist() == local["car"].tolist()
    assert "c7" not in local["car"].tolist()
    assert spark_out["prediction"].tolist() == pytest.approx(local["prediction"].tolist())
    assert set(spark_out["mlops_version"]) == set(local["mlops_version"]) == {"1"}
    reasons = {engine: (tmp_path / f"out-{engine}.parquet.rejected.jsonl").read_text()
               for engine in ("local", "spark")}  # fmt: skip
    assert [json.loads(x)["row"] for x in reasons["spark"].splitlines()] == [8]
    assert [json.loads(x)["reason"] for x in reasons["spark"].splitlines()] == [
        json.loads(x)["reason"] for x in reasons["local"].splitlines()
    ]


def test_a_worker_that_dies_inside_spark_fails_the_run_and_publishes_nothing(
    root: Path, rows: Path, tmp_path: Path, spark: None
) -> None:
    """The R worker dies on its first request inside a Spark task: exit 1, one clear line,
    last week's output untouched and no folder left aside. (A process of its own: Spark's
    Python workers take their environment from the JVM, which outlives a session.)"""
    wrapper = tmp_path / "crashing.py"
    wrapper.write_text(CRASHING)
    env = {**os.environ, "MLOPS_RSCRIPT": f"{sys.executable} {wrapper} 1 Rscript"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = tmp_path / "out" / "scored.parquet"
    out.parent.mkdir()
    out.write_bytes(b"last week's output")
    done = subprocess.run(
        [sys.executable, "-m", "mlops", "--repo", str(root), "score", MODEL, "--input",
         str(rows), "--output", str(out), "--engine", "spark"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert f"{MODEL} version 1 failed while scoring on Spark" in line
    assert "nothing was published" in line
    assert "Traceback" not in done.stderr
    assert out.read_bytes() == b"last week's output"
    assert sorted(p.name for p in out.parent.iterdir()) == ["scored.parquet"]
