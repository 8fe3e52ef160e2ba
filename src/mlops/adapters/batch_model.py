"""One registered version loaded once and asked for predictions chunk after chunk.

scikit-learn models are scored through the estimator itself (their pyfunc returns labels
only; a classifier's output also carries the positive-class probability). Every other model,
R and Julia included, goes through its MLflow pyfunc, whose worker process stays up for the
whole run and answers `prediction` (and `probability`) columns.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from typing import Any

from mlops.core.batch import BatchError
from mlops.errors import first_line


@dataclass(frozen=True)
class Logged:
    """What a registered version's MLmodel file says, without loading the model."""

    flavors: frozenset[str]
    input_schema: Any
    output_schema: Any


def describe(model_uri: str) -> Logged:
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        logged = Model.load(model_uri)
    except (MlflowException, OSError) as exc:
        raise BatchError(f"cannot load {model_uri}: {first_line(exc)}") from None
    return Logged(frozenset(logged.flavors), logged.get_input_schema(),  # type: ignore[no-untyped-call]
                  logged.get_output_schema())  # type: ignore[no-untyped-call]  # fmt: skip


def prepare() -> None:
    """Import MLflow's model loading and scikit-learn now, when there is time to spare."""
    import mlflow.pyfunc  # noqa: F401

    with contextlib.suppress(ImportError):  # most models here are scikit-learn's
        importlib.import_module("sklearn.pipeline")


class BatchModel:
    def __init__(self, model_uri: str, classifier: bool) -> None:
        from mlflow.exceptions import MlflowException

        self.uri, self.classifier = model_uri, classifier
        logged = describe(model_uri)
        self.input_schema: Any = logged.input_schema
        try:
            if "sklearn" in logged.flavors:
                import mlflow.sklearn

                self.estimator: Any = mlflow.sklearn.load_model(model_uri)
                self.pyfunc: Any = None
            else:
                import mlflow.pyfunc

                self.estimator, self.pyfunc = None, mlflow.pyfunc.load_model(model_uri)
        except (MlflowException, OSError) as exc:
            raise BatchError(f"cannot load {model_uri}: {first_line(exc)}") from None

    def predict(self, frame: Any) -> tuple[Any, Any]:
        """Predictions for the frame's rows, and positive-class probabilities (classifiers)."""
        import numpy as np
        import pandas as pd

        if self.estimator is not None:
            final, rows = self.estimator, frame
            if hasattr(final, "steps") and len(final.steps) > 1:  # a Pipeline: transform once,
                final, rows = final[-1], final[:-1].transform(frame)  # not once per method
            predictions = final.predict(rows)
            probability = None
            if self.classifier and hasattr(final, "predict_proba"):
                probability = final.predict_proba(rows)[:, 1]
            return np.asarray(predictions), probability
        output = self.pyfunc.predict(frame)
        if isinstance(output, pd.DataFrame):
            probability = output.get("probability")
            return (output["prediction"].to_numpy(),
                    None if probability is None else probability.to_numpy())  # fmt: skip
        return np.asarray(output), None

    def close(self) -> None:
        """Stop a worker-backed model's process now rather than at interpreter exit."""
        if self.pyfunc is not None:
            close_pyfunc(self.pyfunc)


def close_pyfunc(model: Any) -> None:
    """Stop a worker-backed model's process now rather than at interpreter exit."""
    try:
        inner = model.unwrap_python_model()
    except Exception:  # not a python_function model with a PythonModel inside
        return
    close = getattr(inner, "close", None)
    if callable(close):
        close()
