"""Batch scoring's plain-data rules: the version comes from registry.yaml, outputs are named
and shaped one way, and a run with too many rejected rows publishes nothing."""

from __future__ import annotations

import pytest

from mlops.core import batch
from mlops.core.batch import BatchError, BatchSpec

ENTRY = {
    "versions": {"1": {"run_id": "r1", "model_uri": "models:/m/1"}, "2": {"run_id": "r2"}},
    "stages": {"staging": "2", "production": "1"},
}


def test_production_is_the_default_and_a_stage_or_version_can_be_asked_for() -> None:
    """It scores with the version registry.yaml names, never with `latest`."""
    assert batch.pinned_version("m", ENTRY, None, None) == batch.Pinned(
        "m", "1", "models:/m/1", "r1"
    )
    assert batch.pinned_version("m", ENTRY, "staging", None).version == "2"
    assert batch.pinned_version("m", ENTRY, None, "2").model_uri == "models:/m/2"


def test_a_missing_stage_or_unregistered_version_is_refused_by_name() -> None:
    """It says which stage is empty, or which versions are registered."""
    with pytest.raises(BatchError, match="m has no production version"):
        batch.pinned_version("m", {"versions": {}, "stages": {}}, None, None)
    with pytest.raises(BatchError, match=r"version 7 is not registered.*registered: 1, 2"):
        batch.pinned_version("m", ENTRY, None, "7")


def test_formats_come_from_the_suffix() -> None:
    """Parquet, CSV and JSON lines are known; anything else is refused."""
    assert batch.table_format("s3://b/k/out.parquet") == "parquet"
    assert batch.table_format("in.CSV") == "csv"
    assert batch.table_format("x.jsonl") == batch.table_format("x.ndjson") == "jsonl"
    with pytest.raises(BatchError, match="unsupported format"):
        batch.table_format("data.xlsx")


def test_the_rejected_share_decides_whether_a_run_publishes() -> None:
    """Up to the manifest's share passes; above it, and an empty input, do not."""
    assert batch.rejection_problem(100, 1, 0.01) is None
    assert "2 of 100 rows (2.00%)" in str(batch.rejection_problem(100, 2, 0.01))
    assert batch.rejection_problem(0, 0, 0.5) == "the input has no rows"


def test_due_models_match_the_schedule_that_fired() -> None:
    """Only enabled models with exactly that schedule (spacing aside) are due."""
    specs = {
        "a": BatchSpec(True, "0 2 * * 1", None, None),
        "b": BatchSpec(True, "0  2 * * 1", None, None),
        "c": BatchSpec(False, "0 2 * * 1", None, None),
        "d": BatchSpec(True, "0 3 * * 1", None, None),
    }
    assert batch.due_models(specs, "0 2 * * 1") == ["a", "b"]


def test_output_columns_keep_the_input_and_add_prediction_and_lineage() -> None:
    """Every output row carries the lineage columns; an id column replaces the input's own."""
    columns = batch.output_columns(["id", "x"], None, classifier=True)
    assert columns == ["id", "x", "prediction", "probability", *batch.LINEAGE_COLUMNS]
    assert batch.output_columns(["id", "x"], "id", classifier=False)[:2] == ["id", "prediction"]
    with pytest.raises(BatchError, match="prediction"):
        batch.output_columns(["prediction"], None, classifier=False)


def test_the_spec_fills_in_defaults() -> None:
    """The rejected share defaults to 1%; absent fields are None."""
    spec = batch.batch_spec({"serving": {"batch": {"enabled": True, "input": "a.csv"}}})
    assert spec == BatchSpec(True, None, "a.csv", None, 0.01, None)
    assert batch.batch_spec({}).enabled is False
