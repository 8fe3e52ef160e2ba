"""The platform's own metrics agree with scikit-learn's on the same predictions."""

from __future__ import annotations

import math

import pytest
import sklearn.metrics as sk
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops.core import metrics

labels = st.lists(st.sampled_from([0, 1]), min_size=2, max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_classification_metrics_match_scikit_learn(data: st.DataObject) -> None:
    """Accuracy, F1, ROC AUC (ties included) and log loss equal scikit-learn's values."""
    y = data.draw(labels.filter(lambda ys: 0 < sum(ys) < len(ys)))
    # Few distinct scores so that ties are common.
    scores = data.draw(
        st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.5, 0.9, 1.0]), min_size=len(y), max_size=len(y))
    )
    predicted = [1 if s >= 0.5 else 0 for s in scores]
    got = metrics.compute("classification", y, predicted, scores)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert got["f1"] == pytest.approx(sk.f1_score(y, predicted, zero_division=0))
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(y, scores))
    clipped = [min(max(s, 1e-15), 1 - 1e-15) for s in scores]
    assert got["log_loss"] == pytest.approx(sk.log_loss(y, clipped, labels=[0, 1]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=50).filter(
        lambda rows: max(a for a, _ in rows) - min(a for a, _ in rows) > 1e-3
    )
)
def test_regression_metrics_match_scikit_learn(rows: list[tuple[float, float]]) -> None:
    """RMSE, MAE and R² equal scikit-learn's values."""
    y, predicted = [a for a, _ in rows], [b for _, b in rows]
    got = metrics.compute("regression", y, predicted)
    assert got["rmse"] == pytest.approx(math.sqrt(sk.mean_squared_error(y, predicted)), abs=1e-9)
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(y, predicted), abs=1e-9)
    assert got["r2"] == pytest.approx(sk.r2_score(y, predicted), abs=1e-9)


def test_roc_auc_is_undefined_for_one_class() -> None:
    """ROC AUC of a holdout with a single class is NaN rather than a made-up number."""
    assert math.isnan(metrics.roc_auc([1, 1, 1], [0.2, 0.4, 0.9]))


def test_label_metrics_only_without_scores() -> None:
    """Without probabilities, only label metrics are computed for classification."""
    assert sorted(metrics.compute("classification", [0, 1], [0, 1])) == ["accuracy", "f1"]


def test_empty_holdout_is_an_error() -> None:
    """An empty holdout is refused."""
    with pytest.raises(ValueError, match="no rows"):
        metrics.compute("regression", [], [])
