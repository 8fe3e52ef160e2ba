"""Erasure and batch retention on plain data: how a subject's rows are recognised (in clear
and as keyed hashes), what a scanned file's plan is, where else a subject may live, and when
a published batch file is past its model's retention."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mlops.core import erasure
from mlops.core.erasure import ErasureError, Scan
from mlops.core.prediction_log import pseudonym
from mlops.core.retention import batch_expiry

KEY = b"serving-secret"
MANIFEST = {
    "data": {
        "inputs": [{"path": "data/train.csv"}, {"path": "data/holdout.csv"}],
        "features": [{"name": "patient_id"}, {"name": "age"}],
    },
    "serving": {"batch": {"enabled": True, "input": "s3://bucket/in.parquet"}},
    "compliance": {"pii": True, "pii_fields": ["patient_id", "age"],
                   "subject_id_field": "patient_id"},
}  # fmt: skip


def test_an_id_matches_each_type_a_logged_value_may_have() -> None:
    """Text from the command line matches the same number logged as an integer or float."""
    assert erasure.id_values(" 42 ") == ("42", 42, 42.0)
    assert erasure.id_values("P-7") == ("P-7",)
    assert erasure.id_values("nan") == ("nan",)
    found = erasure.subject("m", MANIFEST, "42", None)
    assert found.is_value(42) and found.is_value(42.0) and found.is_value("42")
    assert not found.is_value(43) and not found.is_value(None) and not found.is_value(True)
    assert not found.is_value("042")


def test_hashed_values_match_only_with_the_key() -> None:
    """A keyed hash is the subject's when it is the hash of the ID with the same key; without
    a key it cannot be judged; another person's hash is not the subject's."""
    keyed = erasure.subject("m", MANIFEST, "42", KEY)
    assert keyed.is_logged(pseudonym(KEY, 42)) is True
    assert keyed.is_logged(pseudonym(KEY, "42")) is True
    assert keyed.is_logged(pseudonym(KEY, 43)) is False
    assert keyed.is_logged(pseudonym(b"another key", 42)) is False
    assert erasure.subject("m", MANIFEST, "42", None).is_logged(pseudonym(KEY, 42)) is None
    assert (keyed.pii, keyed.feature) == (True, True)


def test_a_model_without_a_subject_field_or_an_empty_id_is_refused() -> None:
    no_field = {"compliance": {"pii": False}}
    with pytest.raises(ErasureError, match=r"m declares no compliance\.subject_id_field") as info:
        erasure.subject("m", no_field, "42", KEY)
    assert "models/m/model.yaml" in str(info.value.hint)
    with pytest.raises(ErasureError, match="empty"):
        erasure.subject("m", MANIFEST, "  ", KEY)


def test_a_file_still_written_to_is_pending_and_broken_lines_are_noted() -> None:
    """Rows in an open log are pending until its day closes; rows that cannot be judged make
    the place 'cannot tell', not 'none'; broken lines are always named as kept."""
    open_log = erasure.place(erasure.LOG, "f", Scan(rows=2), "2026-01-02T01:00:00Z")
    assert open_log.action == erasure.PENDING
    assert "2026-01-02T01:00:00Z" in open_log.note
    assert erasure.place(erasure.LOG, "f", Scan(rows=2)).action == erasure.ERASE
    assert erasure.place(erasure.LOG, "f", Scan(unjudged=3)).action == erasure.UNKNOWN
    assert erasure.place(erasure.LOG, "f", Scan()).action == erasure.NONE
    broken = erasure.place(erasure.LOG, "f", Scan(rows=1, broken=2, broken_lines=("f:3: x",)))
    assert "2 line(s) are not records: kept" in broken.note
    assert broken.broken_lines == ["f:3: x"]
    places = [open_log, erasure.place(erasure.OUTPUT, "g", Scan(rows=4))]
    assert erasure.summary(places) == {erasure.PENDING: 2, erasure.ERASE: 4}


def test_why_rows_cannot_be_judged_depends_on_the_key() -> None:
    assert "set MLOPS_SERVE_PII_KEY" in erasure.unjudged_reason(
        erasure.subject("m", MANIFEST, "42", None))  # fmt: skip
    assert "left out" in erasure.unjudged_reason(erasure.subject("m", MANIFEST, "42", KEY))


def test_elsewhere_names_training_data_with_the_retraining_commands() -> None:
    """The DVC inputs come with the commands that retrain without the subject; versions,
    the batch input (a remote one as it is) and backups are listed too."""
    found = {e.what: e for e in erasure.elsewhere("m", MANIFEST, "models/m")}
    training = found["training data (DVC)"]
    assert training.where == "models/m/data/train.csv, models/m/data/holdout.csv"
    assert "`dvc repro models/m/dvc.yaml`" in training.action
    assert "`mlops train m`" in training.action and "`mlops retrain m --apply`" in training.action
    assert found["batch input"].where == "s3://bucket/in.parquet"
    assert "until they are deleted" in found["backups"].action
    assert "registered model versions" in found


def test_a_batch_file_expires_once_its_run_is_older_than_the_period() -> None:
    """A file scored on the last day within the period stays; one a day older goes; one
    whose scoring time cannot be read is reported and kept; no period keeps everything."""
    today = date(2026, 6, 30)

    def at(day: int) -> datetime:
        return datetime(2026, 6, day, 12, tzinfo=UTC)

    assert batch_expiry("m", "f", "output", at(20), 10, 10, today) is None
    gone = batch_expiry("m", "f", "output", at(19), 10, 10, today)
    assert gone is not None and gone.purgeable and gone.reason == "scored 11 days ago, kept for 10"
    kept = batch_expiry("m", "f", "output", None, 10, 10, today, "cannot read it")
    assert kept is not None and not kept.purgeable and kept.reason == "kept: cannot read it"
    assert batch_expiry("m", "f", "output", at(1), 10, None, today) is None
