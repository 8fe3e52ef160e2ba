"""Monitoring verdicts: distances above and p-values below the threshold are drift, small
windows get no verdict, labels are checked against the target, and live metrics hold the
manifest's floor."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from mlops.core import drift, metrics, performance
from mlops.core.drift import ColumnDrift, Quality, WindowError, judge, parse_window, verdict


def test_windows_are_days_or_hours() -> None:
    assert parse_window("7d") == timedelta(days=7)
    assert parse_window(" 36h ") == timedelta(hours=36)
    for bad in ("0d", "7", "1w", "-1d", "d"):
        with pytest.raises(WindowError):
            parse_window(bad)


def test_distances_drift_above_and_p_values_below_the_threshold() -> None:
    verdicts = judge([("a", "psi"), ("b", "wasserstein"), ("c", "ks"), ("d", "chi2"), ("e", "psi")],
                     {"a": 0.3, "b": 0.05, "c": 0.01, "d": 0.5, "e": None}, 0.1)  # fmt: skip
    assert [v.drifted for v in verdicts] == [True, False, True, False, False]
    assert verdicts[0].describe() == "a psi 0.3 > 0.1"
    assert verdicts[2].describe() == "c ks p-value 0.01 < 0.1"
    assert verdicts[1].describe() == "b wasserstein 0.05 <= 0.1"


def test_numbers_only_methods_compare_other_columns_with_chi2() -> None:
    assert drift.method_for("ks", numeric=False) == "chi2"
    assert drift.method_for("wasserstein", numeric=False) == "chi2"
    assert drift.method_for("psi", numeric=False) == "psi"
    assert drift.method_for("ks", numeric=True) == "ks"


def test_too_few_rows_get_no_drift_verdict_but_a_performance_breach_still_counts() -> None:
    moved = [ColumnDrift("a", "psi", 9.0, 0.2, True)]
    assert verdict(drift.MIN_ROWS - 1, moved, None, None).status == drift.INSUFFICIENT
    low = performance.Performance(80, "f1", 0.5, 0.9, None, {"f1": 0.5})
    found = verdict(10, [], None, None, low)
    assert found.status == drift.BREACH
    assert found.reasons[0] == "performance: f1 0.5 on 80 labelled rows breaks min 0.9"


def test_drift_prediction_drift_and_bad_rows_are_each_a_reason() -> None:
    moved = [ColumnDrift("a", "psi", 0.5, 0.2, True), ColumnDrift("b", "psi", 0.1, 0.2, False)]
    prediction = ColumnDrift("prediction", "psi", 0.4, 0.2, True)
    quality = Quality(rows=200, invalid_rows=5, null_share={"a": 0.0})
    found = verdict(200, moved, prediction, quality)
    assert found.status == drift.BREACH
    assert found.reasons == [
        "data drift in 1 of 2 feature(s): a psi 0.5 > 0.2",
        "prediction drift: prediction psi 0.4 > 0.2",
        "data quality: 5 of 200 rows (2.50%) fail the feature schema",
    ]
    assert verdict(200, moved[1:], None, Quality(200, 2, {})).status == drift.OK


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (1, {"type": "integer", "classes": {"0": "no", "1": "yes"}}, (1, None)),
        (1.0, {"type": "integer", "classes": {"0": "no", "1": "yes"}}, (1, None)),
        ("yes", {"type": "category", "classes": {"yes": "", "no": ""}}, ("yes", None)),
        (2, {"type": "integer", "classes": {"0": "", "1": ""}}, (None, "2 is not one of the classes 0, 1")),
        ("21.5", {"type": "number"}, (21.5, None)),
        ("fast", {"type": "number"}, (None, "'fast' is not a number")),
        (float("inf"), {"type": "number"}, (None, "inf is not a finite number")),
        (2.5, {"type": "integer"}, (None, "2.5 is not a whole number")),
        (None, {"type": "number"}, (None, "the label is empty")),
        (True, {"type": "number"}, (None, "True is not a number")),
    ],
)  # fmt: skip
def test_labels_are_checked_against_the_target(value: object, target: dict[str, object],
                                               expected: tuple[object, object]) -> None:  # fmt: skip
    assert performance.check_label(value, target) == expected


def test_the_latest_label_of_a_prediction_wins() -> None:
    found = performance.latest([{"request_id": "a", "label": 0}, {"request_id": "a", "row": 1,
                                "label": 1}, {"request_id": "a", "row": 0, "label": 1}])  # fmt: skip
    assert found == {("a", "0"): 1, ("a", "1"): 1}


def test_a_row_is_the_same_row_whatever_type_carries_it() -> None:
    """An index, a batch row number or an id value: 7, 7.0 and "7" join, "007" does not."""
    assert performance.key("r", 7) == performance.key("r", 7.0) == performance.key("r", "7")
    assert performance.key("r", "007") != performance.key("r", 7)


def test_live_metrics_need_enough_labels_and_hold_the_floor() -> None:
    truth = [1, 0] * 30
    few = performance.judge("classification", {"metric": "f1", "min": 0.9}, truth[:10],
                            truth[:10], None)  # fmt: skip
    assert few.value is None and not few.breached
    assert few.note == "10 labelled prediction(s); a verdict needs at least 50"
    wrong = [1 - t for t in truth]
    judged = performance.judge("classification", {"metric": "f1", "min": 0.9}, truth, wrong,
                               [float(w) for w in wrong])  # fmt: skip
    assert judged.breached and judged.value == 0.0
    assert set(judged.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    fine = performance.judge("regression", {"metric": "rmse", "max": 1.0}, [1.0] * 60,
                             [1.5] * 60, None)  # fmt: skip
    assert fine.value == pytest.approx(0.5) and not fine.breached
    unknown = performance.judge("classification", {"metric": "roc_auc", "min": 0.9}, truth,
                                truth, None)  # fmt: skip
    assert unknown.value is None and "no probabilities" in str(unknown.note)


def test_precision_and_recall_of_the_positive_class() -> None:
    assert metrics.precision([1, 0, 1, 0], [1, 1, 0, 0]) == 0.5
    assert metrics.recall([1, 1, 1, 0], [1, 0, 0, 1]) == pytest.approx(1 / 3)
    assert math.isnan(metrics.precision([1, 0], [0, 0]))
