"""A scikit-learn model read straight from its MLflow model directory, without MLflow.

Importing MLflow and resolving a model through its registry is most of a serving process's
start: 4 s of imports before the model file is even opened. An image carries the model's
directory, and the local target prepares one per version, so a scikit-learn model that MLflow
pickled is read here the way MLflow's own sklearn loader reads it: the MLmodel file's sklearn
flavour names the pickle, its signature names and types the inputs, and its input example is
the smoke row. Anything else (skops, code paths, tensor signatures, R and Julia pyfuncs) is
left to `mlflow.pyfunc`, and `load` says so by answering None.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

PICKLED = ("pickle", "cloudpickle")  # cloudpickle's files load with pickle
COLUMN_TYPES = frozenset({"double", "float", "long", "integer", "boolean", "string"})


@dataclass(frozen=True)
class Signature:
    """The named, typed inputs of an MLflow signature (the two methods model_schema reads)."""

    types: dict[str, str]

    def has_input_names(self) -> bool:
        return bool(self.types)

    def input_types_dict(self) -> dict[str, str]:
        return dict(self.types)


@dataclass(frozen=True)
class NativeModel:
    """The unpickled estimator, the method the pyfunc would call, and what MLmodel says."""

    estimator: Any
    predict_fn: str
    signature: Signature | None
    example: dict[str, Any] | None


def model_directory(uri: str) -> Path | None:
    """The local folder `uri` names when it holds an MLmodel file (a path or file: URI)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        path = Path(uri)
    else:
        return None
    return path if (path / "MLmodel").is_file() else None


def load(directory: Path) -> NativeModel | None:
    """The model in `directory` when MLflow saved it as a pickled scikit-learn estimator
    with a column signature (or none); None for anything `mlflow.pyfunc` must load."""
    meta = yaml.safe_load((directory / "MLmodel").read_text(encoding="utf-8"))
    flavors = meta.get("flavors") or {}
    sklearn, pyfunc = flavors.get("sklearn") or {}, flavors.get("python_function") or {}
    code = pyfunc.get("code") or sklearn.get("code")  # folders MLflow would put on sys.path
    if pyfunc.get("loader_module") != "mlflow.sklearn" or code:
        return None
    if sklearn.get("serialization_format") not in PICKLED:
        return None
    inputs = json.loads((meta.get("signature") or {}).get("inputs") or "[]")
    if not all(isinstance(i, dict) and i.get("type") in COLUMN_TYPES and i.get("name")
               for i in inputs):  # fmt: skip
        return None
    with (directory / sklearn["pickled_model"]).open("rb") as fh:
        estimator = pickle.load(fh)  # what mlflow.sklearn does with the same file
    signature = Signature({str(i["name"]): str(i["type"]) for i in inputs}) if inputs else None
    return NativeModel(estimator, str(pyfunc.get("predict_fn") or "predict"), signature,
                       _example(directory, meta.get("saved_input_example_info") or {}))  # fmt: skip


def _example(directory: Path, info: dict[str, Any]) -> dict[str, Any] | None:
    """The first row of a table example saved in pandas' split orientation, else None."""
    if info.get("type") != "dataframe" or info.get("pandas_orient", "split") != "split":
        return None
    try:
        table = json.loads((directory / str(info["artifact_path"])).read_text(encoding="utf-8"))
        return dict(zip(table["columns"], table["data"][0], strict=True))
    except (OSError, KeyError, IndexError, TypeError, ValueError):
        return None
