"""`mlops predict`: score a file with a registered version, through the pyfunc interface."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mlops.adapters import tracking
from mlops.adapters.repository import find_root
from mlops.adapters.settings import load_settings
from mlops.errors import MlopsError, UsageError


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


@click.command("predict")
@click.argument("name")
@click.option("--version", "version", required=True, help="The registered version to load.")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON records.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, version: str, input_path: Path, as_json: bool) -> None:
    """Load NAME at VERSION through pyfunc (any language) and print its predictions."""
    root = find_root(obj.get("repo"))
    rows = read_rows(input_path)
    tracking.connect(load_settings(root))
    model = tracking.load_model(name, version)
    try:
        result = as_frame(model.predict(rows))
    except MlopsError:
        raise
    except Exception as exc:  # the model's own error, e.g. a missing column
        raise MlopsError(f"{name} version {version} could not score {input_path}: {exc}") from None
    if as_json:
        sys.stdout.write(result.to_json(orient="records") + "\n")
    else:
        sys.stdout.write(result.to_csv(index=False))
