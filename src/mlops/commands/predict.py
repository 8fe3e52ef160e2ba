"""`mlops predict`: score a file with a registered version, through the pyfunc interface."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mlops.adapters.repository import find_root
from mlops.flows.prediction import predict_file


@click.command("predict")
@click.argument("name")
@click.option("--version", "version", required=True, help="The registered version to load.")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON records.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, version: str, input_path: Path, as_json: bool) -> None:
    """Load NAME at VERSION through pyfunc (any language) and print its predictions."""
    result = predict_file(find_root(obj.get("repo")), name, version, input_path)
    if as_json:
        sys.stdout.write(result.to_json(orient="records") + "\n")
    else:
        sys.stdout.write(result.to_csv(index=False))
