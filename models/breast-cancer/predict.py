"""Long-lived prediction worker: one JSON request per stdin line, one JSON response line out.

Request:  {"columns": ["mean_radius", ...], "data": [[17.99, ...], ...]}
Response: {"predictions": [1, ...], "probabilities": [0.99, ...]} or {"error": "..."}
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from pathlib import Path

import pandas as pd
from common import FEATURES_FILE, MODEL_FILE, InputError, Parser, run


class RequestError(Exception):
    """A bad request; answered with {"error": ...} while the worker keeps running."""


def load_model(model_dir: str):
    """Return (fitted pipeline, ordered feature names) from a model directory."""
    directory = Path(model_dir)
    try:
        features = json.loads((directory / FEATURES_FILE).read_text(encoding="utf-8"))
        with (directory / MODEL_FILE).open("rb") as fh:
            model = pickle.load(fh)  # our own trusted artefact
    except (OSError, ValueError, pickle.UnpicklingError) as exc:
        raise InputError(f"cannot load model from {model_dir}: {exc}") from exc
    return model, features


def _reject_constant(name: str) -> float:
    raise RequestError(f"invalid number {name}")


def parse_request(line: str, features: list[str]) -> pd.DataFrame:
    """Validate one request line and return its rows as a frame in model feature order."""
    try:
        request = json.loads(line, parse_constant=_reject_constant)
    except ValueError as exc:
        raise RequestError(f"invalid JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise RequestError("request must be a JSON object")
    unknown_keys = sorted(set(request) - {"columns", "data"})
    if unknown_keys:
        raise RequestError(f"unknown key {unknown_keys[0]!r}")
    columns, data = request.get("columns"), request.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise RequestError("'columns' must be a list of strings")
    if not isinstance(data, list):
        raise RequestError("'data' must be a list of rows")
    for name in columns:
        if name not in features:
            raise RequestError(f"unknown column {name!r}")
    if len(set(columns)) != len(columns):
        raise RequestError("duplicate column names")
    for name in features:
        if name not in columns:
            raise RequestError(f"missing column {name!r}")
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise RequestError(f"row {i} must be a list of {len(columns)} numbers")
        for value in row:
            # bool is a subclass of int in Python; JSON true/false are not numbers.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RequestError(f"row {i} has a non-numeric value {json.dumps(value)}")
    return pd.DataFrame(data, columns=columns, dtype=float)[features]


def respond(line: str, model, features: list[str]) -> dict:
    try:
        frame = parse_request(line, features)
        if frame.empty:
            return {"predictions": [], "probabilities": []}
        proba = model.predict_proba(frame)[:, 1].tolist()
    except RequestError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # any model failure must not kill the worker
        return {"error": f"prediction failed: {exc}"}
    if not all(math.isfinite(p) for p in proba):
        return {"error": "prediction failed: non-finite probability"}
    return {"predictions": [int(p >= 0.5) for p in proba], "probabilities": proba}


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="predict.py", description="Prediction worker reading JSON lines.")
    parser.add_argument("--model-dir", default="model")
    args = parser.parse_args(argv)

    model, features = load_model(args.model_dir)
    out = sys.stdout
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        # json.dumps writes floats with repr(), which round-trips exactly.
        out.write(json.dumps(respond(line, model, features), allow_nan=False) + "\n")
        out.flush()


if __name__ == "__main__":
    run(main)
