"""`mlops score` with an R model: the rows go through the model's own long-lived Rscript
worker, chunk after chunk, and a worker that dies in the middle of a batch fails the run with
nothing published.

fuel-efficiency (an R regression) is trained and promoted once for the module.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from support import promoted_repository, require_system, runtime_present

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
