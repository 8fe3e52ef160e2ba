"""Batch outputs read as a prediction-log window: the same rows whatever the format, only
one version's rows of the time window, row numbers that count the lines that are not rows,
and a clear refusal of a file that is not an output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as csv
import pyarrow.parquet as pq
import pytest

from mlops.adapters.batch_outputs import read_outputs
from mlops.errors import InvalidInput

WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY = (WHEN - timedelta(days=1), WHEN + timedelta(hours=1))


def output(versions: list[str], when: datetime = WHEN) -> pa.Table:
    """An output as `mlops score` writes it: ids, one feature, prediction, lineage."""
    n = len(versions)
    return pa.table({
        "sample_id": [f"s{i}" for i in range(n)], "age": [40.0 + i for i in range(n)],
        "prediction": [i % 2 for i in range(n)], "probability": [i / n for i in range(n)],
        "mlops_model": ["clinic"] * n, "mlops_version": versions,
        "mlops_model_run_id": ["m1"] * n, "mlops_batch_run_id": ["run-a"] * n,
        "mlops_scored_at": pa.array([when] * n, pa.timestamp("us", "UTC")),
    })  # fmt: skip


def test_every_format_reads_as_the_same_window(tmp_path: Path) -> None:
    """Parquet, CSV (with a ragged line, skipped and named) and JSON lines give the same
    rows of version 1; the version-2 row is counted; a folder reads every output in it but
    not the rejected rows beside them."""
    table = output(["1", "1", "2", "1"])
    pq.write_table(table, tmp_path / "a.parquet")
    csv.write_csv(table, tmp_path / "b.csv")
    with (tmp_path / "b.csv").open("a") as handle:
        handle.write("ragged,line\n")
    frame = table.to_pandas()
    (tmp_path / "c.jsonl").write_text(frame.to_json(orient="records", lines=True,
                                                    date_format="iso") + "\n")  # fmt: skip
    (tmp_path / "a.parquet.rejected.jsonl").write_text('{"row": 9}\n')
    for name in ("a.parquet", "b.csv", "c.jsonl"):
        window = read_outputs([str(tmp_path / name)], "clinic", "1", *DAY, None, ["age", "bmi"])
        assert window.rows == 3 and window.other_versions == 1
        assert window.column("request_id") == ["run-a"] * 3
        assert window.column("row") == [1, 2, 4]
        assert window.column("features.age") == [40.0, 41.0, 43.0]
        assert "features.bmi" not in window.table.column_names
    everything = read_outputs([str(tmp_path)], "clinic", "1", *DAY, "sample_id", ["age"])
    assert everything.files == 3 and everything.rows == 9
    assert everything.column("row")[:3] == ["s0", "s1", "s3"]
    assert everything.skipped_lines == [f"{tmp_path}/b.csv row 5: has 2 fields, expected 9"]


def test_rows_scored_outside_the_window_are_not_in_it(tmp_path: Path) -> None:
    pq.write_table(output(["1", "1"], WHEN - timedelta(days=3)), tmp_path / "old.parquet")
    window = read_outputs([str(tmp_path / "old.parquet")], "clinic", "1", *DAY, None, [])
    assert window.files == 1 and window.rows == 0 and window.table is None


@pytest.mark.parametrize(
    ("drop", "id_column", "message"),
    [
        (["mlops_version", "prediction"], None, "not a batch output: it lacks the column(s)"
         " prediction, mlops_version that every output of `mlops score` carries"),
        (["sample_id"], "sample_id", "no id column 'sample_id' (serving.batch.id_column)"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_an_output_is_refused_by_name(tmp_path: Path, drop: list[str],
                                                         id_column: str | None,
                                                         message: str) -> None:  # fmt: skip
    pq.write_table(output(["1"]).drop(drop), tmp_path / "input.parquet")
    with pytest.raises(InvalidInput) as caught:
        read_outputs([str(tmp_path / "input.parquet")], "clinic", "1", *DAY, id_column, [])
    assert caught.value.message == f"{tmp_path / 'input.parquet'}: {message}"
