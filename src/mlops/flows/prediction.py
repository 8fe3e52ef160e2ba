"""Scoring a file of rows with one registered version, through the pyfunc interface every
language shares."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from mlops.adapters import tracking
from mlops.adapters.settings import load_settings
from mlops.errors import MlopsError, UsageError


def predict_file(root: Path, name: str, version: str, input_path: Path) -> Any:
    """The predictions of `name` `version` for the rows in `input_path`, as a DataFrame."""
    rows = read_rows(input_path)
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the predictions
        tracking.connect(load_settings(root))
        model = tracking.load_model(name, version)
    try:
        return as_frame(model.predict(rows))
    except MlopsError:
        raise
    except Exception as exc:  # the model's own error, e.g. a missing column
        raise MlopsError(f"{name} version {version} could not score {input_path}: {exc}") from None


def read_rows(path: Path) -> Any:
    """A DataFrame from CSV, JSON (records, or {"columns", "data"}) or Parquet."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".json", ".jsonl"):
            import json

            text = path.read_text(encoding="utf-8")
            if suffix == ".jsonl":
                return pd.DataFrame(
                    [json.loads(line) for line in text.splitlines() if line.strip()]
                )
            data = json.loads(text)
            if isinstance(data, dict) and {"columns", "data"} <= set(data):
                return pd.DataFrame(data["data"], columns=data["columns"])
            return pd.DataFrame(data)
    except FileNotFoundError:
        raise UsageError(f"no such input file: {path}") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise MlopsError(f"{path}: cannot read rows: {exc}") from None
    raise UsageError(
        f"{path}: unsupported input format {suffix!r} (use .csv, .json, .jsonl, .parquet)"
    )


def as_frame(predictions: Any) -> Any:
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        return predictions
    return pd.DataFrame({"prediction": list(predictions)})
