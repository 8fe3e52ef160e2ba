"""Evaluation metrics computed by the platform, the same way for every model's language.

`mlops evaluate` scores the candidate and production on the same held-out rows and computes
these, so the two are compared by one implementation rather than by each model's own code.
Binary classification metrics take the probability of the positive class (label 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

LOG_LOSS_CLIP = 1e-15


def accuracy(y: Sequence[float], labels: Sequence[float]) -> float:
    return sum(1 for a, b in zip(y, labels, strict=True) if a == b) / len(y)


def f1(y: Sequence[float], labels: Sequence[float]) -> float:
    """F1 score of the positive class (1)."""
    pairs = list(zip(y, labels, strict=True))
    tp = sum(1 for a, b in pairs if a == 1 and b == 1)
    fp = sum(1 for a, b in pairs if a != 1 and b == 1)
    fn = sum(1 for a, b in pairs if a == 1 and b != 1)
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def precision(y: Sequence[float], labels: Sequence[float]) -> float:
    """Precision of the positive class (1): of the rows called 1, the share that are 1."""
    called = [a for a, b in zip(y, labels, strict=True) if b == 1]
    return math.nan if not called else sum(1 for a in called if a == 1) / len(called)


def recall(y: Sequence[float], labels: Sequence[float]) -> float:
    """Recall of the positive class (1): of the rows that are 1, the share called 1."""
    actual = [b for a, b in zip(y, labels, strict=True) if a == 1]
    return math.nan if not actual else sum(1 for b in actual if b == 1) / len(actual)


def roc_auc(y: Sequence[float], scores: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a positive outranks a negative (ties count half)."""
    ranked = sorted(zip(scores, y, strict=True))
    positives = sum(1 for _, label in ranked if label == 1)
    negatives = len(ranked) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end + 1 < len(ranked) and ranked[end + 1][0] == ranked[index][0]:
            end += 1
        average_rank = (index + end) / 2 + 1
        rank_sum += average_rank * sum(1 for _, label in ranked[index : end + 1] if label == 1)
        index = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def log_loss(y: Sequence[float], scores: Sequence[float]) -> float:
    total = 0.0
    for label, p in zip(y, scores, strict=True):
        p = min(max(p, LOG_LOSS_CLIP), 1 - LOG_LOSS_CLIP)
        total -= math.log(p) if label == 1 else math.log(1 - p)
    return total / len(y)


def rmse(y: Sequence[float], predictions: Sequence[float]) -> float:
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(y, predictions, strict=True)) / len(y))


def mae(y: Sequence[float], predictions: Sequence[float]) -> float:
    return sum(abs(a - b) for a, b in zip(y, predictions, strict=True)) / len(y)


def r2(y: Sequence[float], predictions: Sequence[float]) -> float:
    mean = sum(y) / len(y)
    total = sum((a - mean) ** 2 for a in y)
    residual = sum((a - b) ** 2 for a, b in zip(y, predictions, strict=True))
    return math.nan if total == 0 else 1 - residual / total


LABEL_METRICS: dict[str, Callable[[Sequence[float], Sequence[float]], float]] = {
    "accuracy": accuracy,
    "f1": f1,
}
SCORE_METRICS: dict[str, Callable[[Sequence[float], Sequence[float]], float]] = {
    "roc_auc": roc_auc,
    "log_loss": log_loss,
}
REGRESSION_METRICS: dict[str, Callable[[Sequence[float], Sequence[float]], float]] = {
    "rmse": rmse,
    "mae": mae,
    "r2": r2,
}

# The metrics above where a smaller value is the better model (errors and losses).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})


def supported(task: str) -> list[str]:
    if task == "classification":
        return sorted([*LABEL_METRICS, *SCORE_METRICS])
    return sorted(REGRESSION_METRICS)


def compute(
    task: str,
    y: Sequence[float],
    predictions: Sequence[float],
    scores: Sequence[float] | None = None,
) -> dict[str, float]:
    """Every metric the task supports; score-based ones only when scores are given."""
    if not y:
        raise ValueError("no rows to evaluate")
    if task != "classification":
        return {name: fn(y, predictions) for name, fn in REGRESSION_METRICS.items()}
    result = {name: fn(y, predictions) for name, fn in LABEL_METRICS.items()}
    if scores is not None:
        result |= {name: fn(y, scores) for name, fn in SCORE_METRICS.items()}
    return result


def live(task: str, y: Sequence[float], predictions: Sequence[float],
         scores: Sequence[float] | None = None) -> dict[str, float]:  # fmt: skip
    """The metrics monitoring reports on labelled predictions: for classification accuracy,
    precision, recall, F1 and (with scores) ROC AUC; for regression RMSE, MAE and R2."""
    if not y:
        raise ValueError("no rows to evaluate")
    if task != "classification":
        return {name: fn(y, predictions) for name, fn in REGRESSION_METRICS.items()}
    result = {name: fn(y, predictions) for name, fn in
              (("accuracy", accuracy), ("precision", precision), ("recall", recall),
               ("f1", f1))}  # fmt: skip
    if scores is not None:
        result["roc_auc"] = roc_auc(y, scores)
    return result
