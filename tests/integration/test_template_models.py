"""A model exactly as `mlops new` creates it trains with `mlops train` and predicts with
`mlops predict`, in every language, before its owner has changed a line.

The template's starter model is a baseline written as JSON (no scikit-learn `model.pkl`),
so every language, Python included, is logged as a pyfunc that drives the template's
`predict` worker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import commit_all, make_repository, require_system, runtime_present

pytestmark = pytest.mark.system  # R and Julia

MODEL = "demo-model"
PROGRAMS = {"python": None, "r": "Rscript", "julia": "julia"}


def logged_flavors(root: Path, version: str) -> dict[str, dict[str, object]]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{root / '.mlops' / 'mlflow.db'}")
    return dict(mlflow.models.get_model_info(f"models:/{MODEL}/{version}").flavors)


@pytest.mark.parametrize("language", list(PROGRAMS))
def test_a_new_model_trains_and_predicts(tmp_path: Path, cli, language: str) -> None:
    """`mlops new` + commit, then train registers version 1 from the template's own pipeline,
    and predict scores holdout rows through the worker with the trained baseline's answer."""
    program = PROGRAMS[language]
    if program is not None:
        require_system(program, runtime_present(language))
    root = make_repository(tmp_path / "repo", ())
    created = cli("--repo", root, "new", MODEL, "--language", language, "--owner", "@acme/x")
    assert created.code == 0, created.err
    commit_all(root, f"new {language} model")

    trained = cli("--repo", root, "train", MODEL, "--json")
    assert trained.code == 0, trained.out + trained.err
    (outcome,) = json.loads(trained.out)["results"]
    assert outcome["version"] == "1" and not outcome["reused"]
    stages = {stage.rsplit(":", 1)[-1] for stage in outcome["stages_ran"]}
    assert {"train", "evaluate"} <= stages  # `mlops reproduce` reruns from "train"
    folder = root / "models" / MODEL
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert outcome["metrics"]["accuracy"] == evaluation["accuracy"]
    assert not (folder / "model" / "model.pkl").exists()
    flavors = logged_flavors(root, "1")
    assert set(flavors) == {"python_function"}  # the worker pyfunc, not a native flavour

    rows = tmp_path / "rows.csv"
    holdout = (folder / "data" / "holdout.csv").read_text().splitlines()
    rows.write_text("\n".join(holdout[:5]) + "\n")
    predicted = cli("--repo", root, "predict", MODEL, "--version", "1", "--input", rows)
    assert predicted.code == 0, predicted.err
    lines = predicted.out.splitlines()
    assert lines[0] == "prediction,probability" and len(lines) == 5
    as_json = cli("--repo", root, "predict", MODEL, "--version", "1", "--input", rows, "--json")
    assert as_json.code == 0, as_json.err
    baseline = json.loads((folder / "model" / "model.json").read_text())
    answers = json.loads(as_json.out)
    assert len(answers) == 4
    for answer in answers:
        assert answer["prediction"] == baseline["prediction"]
        assert answer["probability"] == pytest.approx(baseline["probability"], abs=1e-12)
