"""Shared helpers for the breast-cancer example model (ingest, train, evaluate, predict)."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

# sklearn's 30 feature names in their original order, converted to snake_case.
_MEASURES = [
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave_points",
    "symmetry",
    "fractal_dimension",
]
FEATURES = (
    [f"mean_{m}" for m in _MEASURES]
    + [f"{m}_error" for m in _MEASURES]
    + [f"worst_{m}" for m in _MEASURES]
)
TARGET = "malignant"
MODEL_FILE = "model.pkl"
FEATURES_FILE = "features.json"


class InputError(Exception):
    """Bad user input (file, column, value); reported as one line on stderr."""


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line on stderr (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text!r}")
    return value


# argparse shows the type function's __name__ in "invalid <name> value" messages.
positive_float.__name__ = "positive float"
positive_int.__name__ = "positive integer"
fraction.__name__ = "fraction"


def run(main, argv: list[str] | None = None) -> None:
    """Run `main`, turning expected failures into a one-line message and exit code 1."""
    prog = Path(sys.argv[0]).name
    try:
        main(argv)
    except (InputError, OSError) as exc:
        sys.exit(f"{prog}: error: {exc}")


def read_table(path: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a train/holdout CSV; return (features in FEATURES order, integer 0/1 target)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    missing = [c for c in [*FEATURES, TARGET] if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise InputError(f"{path}: no data rows")
    x = frame[FEATURES]
    if not all(pd.api.types.is_numeric_dtype(t) for t in x.dtypes) or x.isna().any().any():
        raise InputError(f"{path}: feature columns must be numbers without gaps")
    y = frame[TARGET]
    if not y.isin([0, 1]).all():
        raise InputError(f"{path}: column {TARGET!r} must contain only 0 and 1")
    return x.astype(float), y.to_numpy(dtype=int)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Metrics of positive-class probabilities `proba` against 0/1 labels."""
    pred = (proba >= 0.5).astype(int)
    metrics = {
        "accuracy": accuracy_score(y_true, pred),
        "f1": f1_score(y_true, pred, zero_division=0),
        "log_loss": log_loss(y_true, proba, labels=[0, 1]),
    }
    # ROC AUC is undefined when only one class is present.
    metrics["roc_auc"] = roc_auc_score(y_true, proba) if len(set(y_true)) == 2 else float("nan")
    return metrics


def write_metrics(path: str, metrics: dict[str, float | int]) -> None:
    """Flat JSON, keys sorted, floats rounded to 6 decimals (NaN written as null)."""
    clean: dict[str, float | int | None] = {}
    for key, value in metrics.items():
        if isinstance(value, int):
            clean[key] = value
        else:
            clean[key] = round(float(value), 6) if math.isfinite(value) else None
    text = json.dumps(clean, indent=2, sort_keys=True, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def fresh_dir(path: str) -> Path:
    """Create an empty directory at `path`, replacing an old directory there."""
    directory = Path(path)
    if directory.is_dir():
        shutil.rmtree(directory)
    elif directory.exists():
        raise InputError(f"{path} exists and is not a directory")
    directory.mkdir(parents=True)
    return directory
