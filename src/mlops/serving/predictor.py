"""One model version's predictions for checked rows, whatever language trained it.

A scikit-learn model saved as a pickle is read from its local model directory without MLflow
(`native_model`); any other model, or one named by a models:/ or runs:/ URI, is loaded by
`mlflow.pyfunc`, so R and Julia worker models answer alike. When every feature is a number,
a scikit-learn estimator gets the rows as one float array in its fitted column order: no
DataFrame and no second schema check after the request's own. Otherwise the rows become a
DataFrame typed as the signature expects. A binary classifier also gives the
positive-class probability.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from typing import Any

from mlops.adapters import tracking
from mlops.core.features import model_schema
from mlops.errors import MlopsError
from mlops.serving import native_model
from mlops.serving.config import ServeConfig

NUMERIC_DTYPES = frozenset({"float64", "float32", "int64", "int32", "bool"})
Rows = list[dict[str, Any]]


class Predictor:
    """The loaded model of one version and the way its rows reach it."""

    def __init__(self, config: ServeConfig) -> None:
        directory = native_model.model_directory(config.model_uri)
        native = native_model.load(directory) if directory is not None else None
        self.model: Any = None  # the pyfunc, when MLflow loaded the model
        if native is not None:
            estimator, predict_fn, schema = native.estimator, native.predict_fn, native.signature
            self.input_example = native.example
        else:
            estimator, predict_fn, schema = self._load_pyfunc(config)
            self.input_example = None
        self.features, self.dtypes = model_schema(config.features, schema)
        self.names = [feature.name for feature in self.features]
        self.predict_frame: Callable[[Any], Any] = (
            self.model.predict if self.model is not None else getattr(estimator, predict_fn)
        )
        self.estimator = _binary_classifier(estimator) if config.task == "classification" else None
        self.direct = self._direct(estimator, predict_fn)

    def _load_pyfunc(self, config: ServeConfig) -> tuple[Any, str, Any]:
        """Load through MLflow: the scikit-learn estimator inside (or None), the method its
        pyfunc calls, and the input schema."""
        import mlflow.pyfunc

        if config.tracking_uri and config.tracking_uri.startswith(("http://", "https://")):
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")  # fail fast, not late
            tracking.check_server(config.tracking_uri)
        self.model = mlflow.pyfunc.load_model(config.model_uri)
        flavors = self.model.metadata.flavors
        estimator = self.model.get_raw_model() if "sklearn" in flavors else None
        predict_fn = flavors.get("python_function", {}).get("predict_fn") or "predict"
        return estimator, predict_fn, self.model.metadata.get_input_schema()

    def _direct(
        self, estimator: Any, predict_fn: str
    ) -> tuple[Callable[[Any], Any], list[str]] | None:
        """The estimator's predict method and its column order when every feature is a
        number (the rows then go to it as one float array), else None."""
        if estimator is None or not set(self.dtypes.values()) <= NUMERIC_DTYPES:
            return None
        method = getattr(estimator, predict_fn, None)
        order = [str(name) for name in getattr(estimator, "feature_names_in_", self.names)]
        if method is None or sorted(order) != sorted(self.names):
            return None
        # The array's columns are in the fitted order, which the warning cannot know.
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        return method, order

    def matrix(self, rows: Rows, order: list[str]) -> Any:
        """The rows as one float array in `order`, or None when a value is missing (the
        DataFrame path keeps a null as the model's own flavour would)."""
        import numpy as np

        values = [[row[name] for name in order] for row in rows]
        if any(None in row for row in values):
            return None
        return np.array(values, dtype=np.float64)

    def frame(self, rows: Rows) -> Any:
        """The rows as a DataFrame, each column typed as the model expects (pandas infers the
        type of a column with nulls); column by column, much faster than DataFrame.astype."""
        import numpy as np
        import pandas as pd

        columns: dict[str, Any] = {}
        for name, dtype in self.dtypes.items():
            values = [row[name] for row in rows]
            columns[name] = values if None in values else np.array(values, dtype=dtype)
        return pd.DataFrame(columns, columns=self.names, copy=False)

    def __call__(self, rows: Rows) -> Rows:
        output, probabilities = self._direct_call(rows) if self.direct else (None, None)
        if output is None:
            output, probabilities = self._frame_call(rows)
        predictions = list(output)
        if len(predictions) != len(rows):
            raise MlopsError(f"the model returned {len(predictions)} predictions for"
                             f" {len(rows)} rows")  # fmt: skip
        if probabilities is None:
            return [{"prediction": plain(p)} for p in predictions]
        return [{"prediction": plain(p), "probability": plain(q)}
                for p, q in zip(predictions, list(probabilities), strict=True)]  # fmt: skip

    def _direct_call(self, rows: Rows) -> tuple[Any, Any]:
        """The estimator's predictions (and probabilities) from one float array, or (None,
        None) when the rows need a DataFrame."""
        assert self.direct is not None
        predict, order = self.direct
        matrix = self.matrix(rows, order)
        if matrix is None:
            return None, None
        output = predict(matrix)
        return output, self.estimator.predict_proba(matrix)[:, 1] if self.estimator else None

    def _frame_call(self, rows: Rows) -> tuple[Any, Any]:
        """The model's predictions (and probabilities) from a DataFrame of the rows."""
        import pandas as pd

        frame = self.frame(rows)
        output = self.predict_frame(frame)
        if isinstance(output, pd.DataFrame):
            probabilities = output.get("probability")
            return (output["prediction"] if "prediction" in output else output.iloc[:, 0],
                    probabilities)  # fmt: skip
        if self.estimator is None:
            return output, None
        columns = list(getattr(self.estimator, "feature_names_in_", self.names))
        return output, self.estimator.predict_proba(frame[columns])[:, 1]

    def example(self) -> dict[str, Any] | None:
        """The first row of the model's logged input example, if it has one."""
        if self.model is None:
            return self.input_example
        try:
            first = self.model.input_example.head(1).to_dict(orient="records")[0]
            return {str(k): plain(v) for k, v in first.items()}
        except Exception:  # no example, or not a table
            return None

    def close(self) -> None:
        """Stop an R or Julia model's worker process."""
        try:
            close = getattr(self.model.unwrap_python_model(), "close", None)
        except Exception:  # a native flavour: nothing to stop
            return
        if callable(close):
            close()


def _binary_classifier(estimator: Any) -> Any:
    """`estimator` when it is a binary classifier with probabilities, else None."""
    binary = len(getattr(estimator, "classes_", ())) == 2
    return estimator if binary and hasattr(estimator, "predict_proba") else None


def plain(value: Any) -> Any:
    """A JSON value: numpy scalars unwrapped, NaN and infinities as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
