"""`mlops retention` on published batch outputs and their quarantine files: an output (and
its quarantine file) whose run is older than the model's retention_days is planned, then
purged with --apply; a recent one stays; one whose scoring time cannot be read is listed
and kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mlops.core import batch

# serving.batch.output of the example manifests (retention_days: 730, 365, 1095)
OUTPUTS = {
    "breast-cancer": "data/batch/scored.parquet",
    "disease-progression": "data/batch/patients-scored.parquet",
    "fuel-efficiency": "data/batch/offers-scored.parquet",
}


def publish(repo: Path, model: str, scored_at: object, quarantine: bool = True) -> Path:
    """A batch output of `model` as `mlops score` publishes it, scored at `scored_at`, with
    a quarantine file beside it."""
    out = repo / "models" / model / OUTPUTS[model]
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"x": [1.0, 2.0], "prediction": [0.1, 0.2],
                             batch.MODEL_COLUMN: [model] * 2,
                             batch.TIME_COLUMN: [scored_at] * 2}), out)  # fmt: skip
    if quarantine:
        Path(batch.quarantine_location(str(out))).write_text('{"row": 3, "reason": "x"}\n')
    return out


def ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def test_batch_files_past_retention_are_planned_then_purged(cli, repo: Path, tmp_path: Path
                                                            ) -> None:  # fmt: skip
    """fuel-efficiency's output scored 1100 days ago (kept 1095) goes with its quarantine
    file; breast-cancer's from last week stays; disease-progression's output whose
    mlops_scored_at is not a time is reported as kept, never purged."""
    old = publish(repo, "fuel-efficiency", ago(1100))
    recent = publish(repo, "breast-cancer", ago(7))
    unknown = publish(repo, "disease-progression", "yesterday-ish", quarantine=False)
    logs = tmp_path / "logs"

    planned = cli("--repo", repo, "retention", "--logs", logs, "--json")
    assert planned.code == 0, planned.err
    plan = json.loads(planned.out)
    expired = {
        (Path(e["file"]).name, e["kind"], e["retention_days"]) for e in plan["batch_expired"]
    }
    assert expired == {
        ("offers-scored.parquet", "output", 1095),
        ("offers-scored.parquet.rejected.jsonl", "quarantine", 1095),
        ("patients-scored.parquet", "output", None),
    }
    assert plan["batch_purged"] == []
    assert old.exists() and Path(batch.quarantine_location(str(old))).exists()
    text = cli("--repo", repo, "retention", "--logs", logs).out
    assert "2 batch file(s) would be purged: run again with --apply" in text

    applied = cli("--repo", repo, "retention", "--logs", logs, "--apply", "--json")
    assert applied.code == 0, applied.err
    purged = json.loads(applied.out)["batch_purged"]
    assert sorted(Path(e["file"]).name for e in purged) == [
        "offers-scored.parquet", "offers-scored.parquet.rejected.jsonl"]  # fmt: skip
    assert not old.exists() and not Path(batch.quarantine_location(str(old))).exists()
    assert recent.exists() and Path(batch.quarantine_location(str(recent))).exists()
    assert unknown.exists()
    again = json.loads(cli("--repo", repo, "retention", "--logs", logs, "--json").out)
    assert [e["reason"] for e in again["batch_expired"]] == [
        "kept: no row has a mlops_scored_at time"]  # fmt: skip


def test_a_quarantine_file_without_its_output_goes_by_its_own_time(cli, repo: Path,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    """A quarantine file whose output is gone is as old as the file itself."""
    import os

    out = repo / "models" / "fuel-efficiency" / OUTPUTS["fuel-efficiency"]
    out.parent.mkdir(parents=True, exist_ok=True)
    rejected = Path(batch.quarantine_location(str(out)))
    rejected.write_text('{"row": 1, "reason": "x"}\n')
    old = (datetime.now(UTC) - timedelta(days=1200)).timestamp()
    os.utime(rejected, (old, old))
    result = cli("--repo", repo, "retention", "--logs", tmp_path / "logs", "--apply")
    assert result.code == 0, result.err
    assert "purged 1 batch file(s)" in result.out
    assert not rejected.exists()
