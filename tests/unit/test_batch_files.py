"""Published batch files on disk for retention and erasure: an output's scoring time, and
one subject's rows removed from CSV and JSON-lines outputs and quarantine files, with every
other line (broken ones included) kept."""

from __future__ import annotations

import json
from pathlib import Path

from mlops.adapters import batch_files
from mlops.core import batch, erasure

MANIFEST = {"data": {"features": [{"name": "x"}]},
            "compliance": {"pii": False, "subject_id_field": "customer"}}  # fmt: skip


def test_csv_output_rows_of_the_subject_are_removed_only_with_apply(tmp_path: Path) -> None:
    """The plan changes nothing; with apply the subject's rows go and the others are written
    back with the same values (each kept as its text, quoted), and the labels' keys are the
    run id and id of the rows found."""
    out = tmp_path / "scored.csv"
    out.write_text("customer,prediction,mlops_batch_run_id,mlops_scored_at\n"
                   "7,0.5,run-1,2026-01-01T00:00:00Z\n8,0.6,run-1,2026-01-01T00:00:00Z\n"
                   "7,0.7,run-1,2026-01-02T00:00:00Z\n")  # fmt: skip
    found = erasure.subject("m", MANIFEST, "7", None)
    before = out.read_bytes()
    planned = batch_files.erase_output(out, found, "customer", apply=False)
    assert planned.rows == 2 and planned.keys == {("run-1", "7")}
    assert out.read_bytes() == before
    batch_files.erase_output(out, found, "customer", apply=True)
    assert out.read_text().splitlines()[1:] == ['"8","0.6","run-1","2026-01-01T00:00:00Z"']
    moment, why = batch_files.scored_at(out)
    assert moment is not None and moment.isoformat() == "2026-01-01T00:00:00+00:00" and not why


def test_json_lines_output_keeps_lines_that_are_not_rows(tmp_path: Path) -> None:
    out = tmp_path / "scored.jsonl"
    out.write_text('{"customer": "a1", "prediction": 1}\nnot json\n'
                   '{"customer": "b2", "prediction": 0}\n')  # fmt: skip
    found = erasure.subject("m", MANIFEST, "a1", None)
    scan = batch_files.erase_output(out, found, None, apply=True)
    assert (scan.rows, scan.broken) == (1, 1)
    assert scan.broken_lines == (f"{out}:2: not a JSON object",)
    assert out.read_text() == 'not json\n{"customer": "b2", "prediction": 0}\n'


def test_quarantine_rows_are_found_in_records_and_in_raw_lines(tmp_path: Path) -> None:
    """A rejected row kept as a record matches by its field; one kept as the raw line it came
    as matches when the ID is one of its values (not a part of one)."""
    path = tmp_path / f"scored.parquet{batch.QUARANTINE_SUFFIX}"
    rows = [{"row": 1, "reason": "r", "record": {"customer": "a1", "x": "?"}},
            {"row": 2, "reason": "r", "line": "a1,0.3,extra"},
            {"row": 3, "reason": "r", "line": "a12,0.3,extra"},
            {"row": 4, "reason": "r", "record": {"customer": "b2", "x": "?"}}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    scan = batch_files.erase_quarantine(path, erasure.subject("m", MANIFEST, "a1", None), True)
    assert (scan.rows, scan.broken) == (2, 1)
    kept = path.read_text().splitlines()
    assert [json.loads(line)["row"] for line in kept[:-1]] == [3, 4] and kept[-1] == "{broken"


def test_an_output_without_a_readable_time_says_why(tmp_path: Path) -> None:
    out = tmp_path / "scored.csv"
    out.write_text("customer,prediction\n1,0.5\n")
    moment, why = batch_files.scored_at(out)
    assert moment is None and "mlops_scored_at" in why
    assert [f.kind for f in batch_files.published(out)] == ["output"]
    assert batch_files.published(tmp_path / "missing.parquet") == []
