"""Score held-out rows with a registered model, whatever its language, in one shape.

Python models are stored in scikit-learn's native flavour, whose pyfunc returns labels only;
the platform needs the positive-class probability as well for ROC AUC and log loss, so for that
flavour it asks the estimator itself. Worker-backed models (R, Julia) answer through pyfunc
with `prediction` and, for classifiers, `probability` columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.errors import MlopsError, first_line


class ModelUnavailable(MlopsError):
    """The tracking store has no such model (for example production lives in another store)."""


@dataclass(frozen=True)
class Scored:
    predictions: list[float]
    scores: list[float] | None


def score(model_uri: str, frame: Any, features: list[str], task: str) -> Scored:
    """Predictions (and positive-class probabilities for classifiers) for `frame`'s rows."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        flavors = Model.load(model_uri).flavors
    except (MlflowException, OSError) as exc:
        raise ModelUnavailable(f"cannot load {model_uri}: {first_line(exc)}") from None
    rows = frame[features]
    if "sklearn" in flavors:
        return _sklearn(model_uri, rows, task)
    return _pyfunc(model_uri, rows)


def _sklearn(model_uri: str, rows: Any, task: str) -> Scored:
    import mlflow.sklearn

    estimator = mlflow.sklearn.load_model(model_uri)
    predictions = [float(v) for v in estimator.predict(rows)]
    scores = None
    if task == "classification" and hasattr(estimator, "predict_proba"):
        scores = [float(v) for v in estimator.predict_proba(rows)[:, 1]]
    return Scored(predictions, scores)


def _pyfunc(model_uri: str, rows: Any) -> Scored:
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(model_uri)
    try:
        output = model.predict(rows)
    finally:
        close_pyfunc(model)
    if isinstance(output, pd.DataFrame):
        predictions = [float(v) for v in output["prediction"]]
        probability = output.get("probability")
        scores = None if probability is None else [float(v) for v in probability]
        return Scored(predictions, scores)
    return Scored([float(v) for v in output], None)


def close_pyfunc(model: Any) -> None:
    """Stop a worker-backed model's process now rather than at interpreter exit."""
    try:
        inner = model.unwrap_python_model()
    except Exception:  # not a python_function model with a PythonModel inside
        return
    close = getattr(inner, "close", None)
    if callable(close):
        close()
