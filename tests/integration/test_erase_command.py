"""`mlops erase` on a scratch repository with real prediction logs (JSON lines, compacted
Parquet, labels), a published batch output and its quarantine file: a plan by default, the
subject's rows removed with --apply, today's log left to its server, broken lines kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mlops.adapters.prediction_logs import compact
from mlops.core import batch
from mlops.core.prediction_log import Protection, pii_fields
from mlops.serving.prediction_logs import PredictionLog

MODEL = "disease-progression"
KEY = "serving-secret"
SUBJECT, OTHER = "P-0042", "P-0007"


def day(days_ago: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def with_subject_field(repo: Path) -> dict[str, object]:
    """The model gains a patient_id feature (a PII field), names it the subject field and
    carries it into batch outputs."""
    path = repo / "models" / MODEL / "model.yaml"
    data = yaml.safe_load(path.read_text())
    data["data"]["features"].append(
        {"name": "patient_id", "type": "string", "description": "Patient number."}
    )
    data["compliance"]["pii_fields"].append("patient_id")
    data["compliance"]["subject_id_field"] = "patient_id"
    data["serving"]["batch"]["id_column"] = "patient_id"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return data


def serve(folder: Path, manifest: dict[str, object], days_ago: int, key: str | None) -> Path:
    """Two requests logged `days_ago` as a server with `key` writes them: the subject's two
    rows and another patient's row."""
    protection = Protection(pii_fields(manifest), key.encode() if key else None)
    writer = PredictionLog(folder, "production", MODEL, "1", protection)
    when = datetime.now(UTC) - timedelta(days=days_ago)
    rows = [{"patient_id": SUBJECT, "age": 0.03, "sex": 0.05},
            {"patient_id": OTHER, "age": -0.01, "sex": -0.04}]  # fmt: skip
    writer.write(f"a{days_ago}", 3.0, rows, [{"prediction": 151.0}, {"prediction": 75.0}], when)
    writer.write(f"b{days_ago}", 3.0, rows[:1], [{"prediction": 150.0}], when)
    writer.close()
    return next((folder / "production" / MODEL / f"date={day(days_ago)}").glob("v1-*.jsonl"))


@pytest.fixture
def place(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Logs of today (open), two days ago (JSON lines plus a broken line, and labels) and
    three days ago (compacted to Parquet); a batch output and its quarantine file."""
    monkeypatch.setenv("MLOPS_SERVE_PII_KEY", KEY)
    manifest = with_subject_field(repo)
    logs = tmp_path / "logs"
    today = serve(logs, manifest, 0, KEY)
    closed = serve(logs, manifest, 2, KEY)
    with closed.open("ab") as handle:
        handle.write(b'{"time": "cut short by a full dis\n')
    labels = closed.parent / "labels-20260101T000000Z-abcd1234.jsonl"
    labels.write_text('{"request_id": "a2", "row": 0, "label": 140}\n'
                      '{"request_id": "a2", "row": 1, "label": 80}\n')  # fmt: skip
    parquet = compact(serve(logs, manifest, 3, KEY)).source.with_suffix(".parquet")
    out = repo / "models" / MODEL / "data" / "batch" / "patients-scored.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    scored = datetime.now(UTC).isoformat()
    pq.write_table(pa.table({
        "patient_id": [SUBJECT, OTHER, "P-0100"], "prediction": [150.0, 80.0, 99.0],
        batch.MODEL_COLUMN: [MODEL] * 3, batch.VERSION_COLUMN: ["1"] * 3,
        batch.RUN_COLUMN: ["r"] * 3, batch.BATCH_COLUMN: ["run-9"] * 3,
        batch.TIME_COLUMN: [scored] * 3,
    }), out)  # fmt: skip
    quarantine = Path(batch.quarantine_location(str(out)))
    quarantine.write_text(
        json.dumps({"row": 4, "reason": "age is not a number",
                    "record": {"patient_id": SUBJECT, "age": "old"}}) + "\n"
        + json.dumps({"row": 5, "reason": "3 fields, expected 4",
                      "line": f"{SUBJECT},0.1,0.2"}) + "\n"
        + json.dumps({"row": 6, "reason": "age is not a number",
                      "record": {"patient_id": OTHER, "age": "x"}}) + "\n"
    )  # fmt: skip
    return {"logs": logs, "today": today, "closed": closed, "labels": labels,
            "parquet": parquet, "output": out, "quarantine": quarantine}  # fmt: skip


def by_path(result: dict[str, object]) -> dict[str, dict[str, object]]:
    return {p["path"]: p for p in result["places"]}  # type: ignore[attr-defined,index]


def test_without_apply_it_is_a_plan_that_changes_nothing(cli, repo: Path,
                                                         place: dict[str, Path]) -> None:  # fmt: skip
    """The plan counts the subject's rows in every place (hashed log rows found with the
    key) and leaves every file byte for byte as it was."""
    before = {name: path.read_bytes() for name, path in place.items() if path.is_file()}
    planned = cli("--repo", repo, "erase", MODEL, "--subject", SUBJECT, "--logs", place["logs"],
                  "--json")  # fmt: skip
    assert planned.code == 0, planned.err
    result = json.loads(planned.out)
    found = by_path(result)
    assert (result["applied"], result["field"]) == (False, "patient_id")
    assert found[str(place["closed"])]["rows"] == 2
    assert found[str(place["closed"])]["action"] == "erase"
    assert found[str(place["closed"])]["broken"] == 1
    assert found[str(place["parquet"])]["rows"] == 2
    assert found[str(place["today"])]["action"] == "pending"
    assert found[str(place["labels"])]["rows"] == 1
    assert found[str(place["output"])]["rows"] == 1
    assert found[str(place["quarantine"])]["rows"] == 2
    assert result["rows"] == {"erase": 8, "pending": 2}
    assert {name: place[name].read_bytes() for name in before} == before
    assert (
        "would be erased: run again with --apply"
        in cli("--repo", repo, "erase", MODEL, "--subject", SUBJECT, "--logs", place["logs"]).out
    )


def test_apply_removes_the_subject_and_keeps_everything_else(cli, repo: Path,
                                                             place: dict[str, Path]) -> None:  # fmt: skip
    """With --apply the subject's rows leave the closed logs, the Parquet log, the labels,
    the batch output and the quarantine file; other patients' rows and the broken line stay;
    today's log, still written to by its server, is untouched and reported as pending."""
    today = place["today"].read_bytes()
    applied = cli("--repo", repo, "erase", MODEL, "--subject", SUBJECT, "--logs", place["logs"],
                  "--apply")  # fmt: skip
    assert applied.code == 0, applied.err
    assert "erased 8 row(s)" in applied.out
    assert "2 row(s) are pending" in applied.out
    assert "not a record, kept" in applied.out
    assert place["today"].read_bytes() == today
    lines = place["closed"].read_text().splitlines()
    assert len(lines) == 2 and lines[-1] == '{"time": "cut short by a full dis'
    assert json.loads(lines[0])["request_id"] == "a2" and json.loads(lines[0])["row"] == 1
    compacted = pq.read_table(place["parquet"])
    assert compacted.num_rows == 1 and compacted.column("row").to_pylist() == [1]
    assert [json.loads(line)["row"] for line in place["labels"].read_text().splitlines()] == [1]
    assert pq.read_table(place["output"]).column("patient_id").to_pylist() == [OTHER, "P-0100"]
    assert [json.loads(line)["row"] for line in place["quarantine"].read_text().splitlines()] == [6]
    assert not list(place["closed"].parent.glob(".*"))

    again = cli("--repo", repo, "erase", MODEL, "--subject", SUBJECT, "--logs", place["logs"],
                "--json")  # fmt: skip
    assert json.loads(again.out)["rows"] == {"pending": 2}


def test_it_says_where_else_the_subject_may_live(cli, repo: Path, place: dict[str, Path]) -> None:
    """Training data tracked by DVC comes with the commands of a retraining pull request;
    model versions, the batch input and backups are named too."""
    result = cli("--repo", repo, "erase", MODEL, "--subject", SUBJECT, "--logs", place["logs"])
    assert result.code == 0, result.err
    assert f"training data (DVC): models/{MODEL}/data/train.csv" in result.out
    assert f"mlops train {MODEL}" in result.out and f"mlops retrain {MODEL} --apply" in result.out
    assert "backups: `mlops backup` archives" in result.out
    assert f"batch input: models/{MODEL}/data/batch/patients.parquet" in result.out


def test_without_the_key_hashed_rows_cannot_be_told_apart(cli, repo: Path, place: dict[str, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Without MLOPS_SERVE_PII_KEY the logs' hashed IDs are counted as rows that cannot be
    judged, the note says which variable finds them, and --apply removes none of them."""
    monkeypatch.delenv("MLOPS_SERVE_PII_KEY")
    closed = place["closed"].read_bytes()
    result = cli("--repo", repo, "erase", MODEL, "--subject", SUBJECT, "--logs", place["logs"],
                 "--apply", "--json")  # fmt: skip
    assert result.code == 0, result.err
    found = json.loads(result.out)
    logged = by_path(found)[str(place["closed"])]
    assert (logged["rows"], logged["unjudged"], logged["action"]) == (0, 3, "cannot tell")
    assert any("MLOPS_SERVE_PII_KEY" in note for note in found["notes"])
    assert place["closed"].read_bytes() == closed
    assert (
        by_path(found)[str(place["output"])]["action"] == "erased"
    )  # batch files hold it in clear


def test_rows_logged_without_a_key_are_reported_as_masked(cli, repo: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A server without a key left the field out: erase cannot find those rows and says so."""
    monkeypatch.setenv("MLOPS_SERVE_PII_KEY", KEY)
    manifest = with_subject_field(repo)
    logs = tmp_path / "logs"
    serve(logs, manifest, 2, None)
    result = cli("--repo", repo, "erase", MODEL, "--subject", SUBJECT, "--logs", logs, "--json")
    found = json.loads(result.out)
    assert [p["unjudged"] for p in found["places"] if p["kind"] == "prediction log"] == [3]
    assert any("left out" in note for note in found["notes"])


def test_an_unknown_model_is_refused(cli, repo: Path, tmp_path: Path) -> None:
    result = cli("--repo", repo, "erase", "no-such-model", "--subject", "1", "--logs", tmp_path)
    assert result.code != 0
    assert "no model named 'no-such-model'" in result.err


def test_a_model_without_a_subject_field_is_refused(cli, repo: Path, tmp_path: Path) -> None:
    """breast-cancer declares no subject field: erase refuses rather than finding nothing."""
    result = cli("--repo", repo, "erase", "breast-cancer", "--subject", "1", "--logs", tmp_path)
    assert result.code != 0
    assert "breast-cancer declares no compliance.subject_id_field" in result.err
    assert "hint:" in result.err


def test_a_subject_field_that_is_only_the_batch_id_skips_the_served_logs(
    cli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subject field that is the batch id column but not a feature: the served logs cannot
    hold it (said in a note), the batch output is searched in clear."""
    path = repo / "models" / MODEL / "model.yaml"
    data = yaml.safe_load(path.read_text())
    data["compliance"]["subject_id_field"] = "patient_id"
    data["serving"]["batch"]["id_column"] = "patient_id"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out = repo / "models" / MODEL / "data" / "batch" / "patients-scored.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"patient_id": [42, 43], "prediction": [1.0, 2.0],
                             batch.TIME_COLUMN: ["2026-01-01T00:00:00Z"] * 2}), out)  # fmt: skip
    result = cli("--repo", repo, "erase", MODEL, "--subject", "42", "--logs", tmp_path, "--json")
    assert result.code == 0, result.err
    found = json.loads(result.out)
    assert any("not a feature" in note for note in found["notes"])
    assert [(p["kind"], p["rows"]) for p in found["places"]] == [("batch output", 1)]


def test_an_unreadable_parquet_log_is_reported_and_kept(cli, repo: Path, place: dict[str, Path]
                                                        ) -> None:  # fmt: skip
    """A compacted log that cannot be read is named as not a record, left as it is, and the
    other files are still erased."""
    damaged = place["parquet"].with_name("v2-damaged.parquet")
    damaged.write_bytes(b"PAR1 not really")
    result = cli("--repo", repo, "erase", MODEL, "--subject", SUBJECT, "--logs", place["logs"],
                 "--apply", "--json")  # fmt: skip
    assert result.code == 0, result.err
    found = by_path(json.loads(result.out))[str(damaged)]
    assert (found["broken"], found["rows"], found["action"]) == (1, 0, "none")
    assert "not a readable Parquet file" in found["broken_lines"][0]
    assert damaged.read_bytes() == b"PAR1 not really"
    assert pq.read_table(place["parquet"]).num_rows == 1
