"""Reading a pickled scikit-learn model from its MLflow directory without MLflow, and
leaving every other model to mlflow.pyfunc."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.serving.native_model import load, model_directory

INPUTS = [{"type": "double", "name": "speed", "required": True},
          {"type": "long", "name": "doors", "required": True}]  # fmt: skip


class Doubler:
    """A stand-in estimator: pickles by reference to this test module."""

    def predict(self, rows: Any) -> list[float]:
        return [2 * row[0] for row in rows]


def _saved(folder: Path, **changes: Any) -> Path:
    """A model directory as mlflow.sklearn saves one, with `changes` to its MLmodel."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(Doubler()))
    (folder / "input_example.json").write_text(
        json.dumps({"columns": ["speed", "doors"], "data": [[1.5, 4]]}))  # fmt: skip
    meta: dict[str, Any] = {
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "predict_fn": "predict",
            },
            "sklearn": {
                "pickled_model": "model.pkl",
                "serialization_format": "cloudpickle",
                "code": None,
            },
        },
        "signature": {"inputs": json.dumps(INPUTS)},
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
        },
    }
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = meta
        for key in parents:
            target = target[key]
        target[last] = value
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    return folder


def test_a_pickled_sklearn_model_is_read_with_its_signature_and_example(tmp_path: Path) -> None:
    """The estimator, its predict method's name, the typed inputs and the first example row."""
    found = load(_saved(tmp_path / "m"))
    assert found is not None
    assert found.estimator.predict([[2.0, 4]]) == [4.0]
    assert found.predict_fn == "predict"
    assert found.signature is not None and found.signature.has_input_names()
    assert found.signature.input_types_dict() == {"speed": "double", "doors": "long"}
    assert found.example == {"speed": 1.5, "doors": 4}


@pytest.mark.parametrize(
    "changes",
    [
        {"flavors.sklearn.serialization_format": "skops"},
        {"flavors.sklearn.code": "code"},
        {"flavors.python_function.loader_module": "mlops.adapters.workers"},
        {"signature.inputs": json.dumps([{"type": "tensor", "tensor-spec": {}}])},
    ],
    ids=["skops", "code-paths", "another-pyfunc", "tensor-signature"],
)
def test_anything_else_is_left_to_mlflow(tmp_path: Path, changes: dict[str, Any]) -> None:
    """A format, code or signature MLflow's own loader handles differently answers None."""
    assert load(_saved(tmp_path / "m", **changes)) is None


def test_no_signature_or_a_missing_example_still_loads(tmp_path: Path) -> None:
    """The manifest's features then type the columns and the smoke row comes from bounds."""
    folder = _saved(tmp_path / "m", signature={})
    (folder / "input_example.json").unlink()
    found = load(folder)
    assert found is not None and found.signature is None and found.example is None


def test_only_a_local_folder_with_an_mlmodel_file_is_a_model_directory(tmp_path: Path) -> None:
    """A path or file: URI naming a saved model; registry and run URIs are MLflow's."""
    folder = _saved(tmp_path / "my model")
    assert model_directory(str(folder)) == folder
    assert model_directory(folder.as_uri()) == folder
    assert model_directory(str(tmp_path)) is None
    assert model_directory("models:/breast-cancer/3") is None
    assert model_directory("runs:/abc/model") is None
    assert model_directory("s3://bucket/model") is None
