"""Score held-out rows with a registered model, whatever its language, in one shape.

Loading and predicting is `batch_model.BatchModel`'s, the same as batch scoring's: Python
models through the scikit-learn estimator itself (its pyfunc returns labels only, and ROC AUC
and log loss need the positive-class probability), worker-backed models (R, Julia) through
their pyfunc's `prediction` and `probability` columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.adapters.batch_model import BatchModel
from mlops.core.batch import BatchError
from mlops.errors import MlopsError


class ModelUnavailable(MlopsError):
    """The tracking store has no such model (for example production lives in another store)."""


@dataclass(frozen=True)
class Scored:
    predictions: list[float]
    scores: list[float] | None


def score(model_uri: str, frame: Any, features: list[str], task: str) -> Scored:
    """Predictions (and positive-class probabilities for classifiers) for `frame`'s rows."""
    try:
        model = BatchModel(model_uri, classifier=task == "classification")
    except BatchError as exc:
        raise ModelUnavailable(str(exc)) from None
    try:
        predictions, probability = model.predict(frame[features])
    finally:
        model.close()
    scores = None if probability is None else [float(v) for v in probability]
    return Scored([float(v) for v in predictions], scores)
