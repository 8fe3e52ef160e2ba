"""Which stages of a DVC pipeline rerun from a stage, and which are restored instead."""

from __future__ import annotations

import pytest

from mlops.core.pipeline_graph import downstream, upstream_of

PIPELINE = {
    "stages": {
        "ingest": {"deps": ["ingest.py"], "outs": ["data/train.csv", "data/holdout.csv"]},
        "features": {"deps": ["data/train.csv"], "outs": [{"data/features": {"cache": True}}]},
        "train": {"deps": ["train.py", "data/features"], "outs": ["model"]},
        "evaluate": {"deps": ["model/weights.bin", "data/holdout.csv"], "outs": []},
        "report": {"deps": ["report.py"]},
    }
}


def test_downstream_follows_outputs_into_dependencies() -> None:
    """`evaluate` depends on a file inside train's output folder, so it reruns too."""
    assert downstream(PIPELINE, "train") == ["train", "evaluate"]
    assert downstream(PIPELINE, "ingest") == ["ingest", "features", "train", "evaluate"]
    assert upstream_of(PIPELINE, "train") == ["ingest", "features", "report"]


def test_an_unknown_stage_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        downstream(PIPELINE, "fit")
