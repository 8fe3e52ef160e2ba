"""The evaluation plot against a real MLflow tracking server, and for a regression model.

With a server, the plot is logged to the candidate's run, linked to its page in the MLflow
UI, and its bytes are served by the server. A regression model (the R example) is drawn as
predicted against actual for both versions.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from plots import png_size
from servers import mlflow_server
from support import make_repository, require_system, run_cli, runtime_present

from mlops.flows.report import publish_report


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("store")
    (workdir / "artifacts").mkdir()
    with mlflow_server(f"sqlite:///{workdir / 'mlflow.db'}", workdir / "artifacts") as url:
        yield url


def test_with_a_tracking_server_the_plot_is_linked_in_its_ui_and_served_by_it(
    server: str, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record links the run's artifact page; the server returns the very PNG for the
    image URL; the PR report links the page and names the artifact URI."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    model = "breast-cancer"
    root = make_repository(tmp_path / "repo", (model,))
    trained = cli("--repo", root, "train", model)
    assert trained.code == 0, trained.err
    result = cli("--repo", root, "evaluate", model, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    plot, run_id = report["plot"], report["candidate"]["run_id"]
    artifact = f"evaluation/{model}-vs-production.png"
    assert plot["warning"] is None
    assert plot["artifact_uri"].startswith("mlflow-artifacts:")
    assert plot["artifact_uri"].endswith(f"{run_id}/artifacts/{artifact}")
    assert plot["artifact_url"].startswith(f"{server}/#/experiments/")
    assert plot["artifact_url"].endswith(f"/runs/{run_id}/artifacts/{artifact}")
    with urllib.request.urlopen(plot["image_url"], timeout=30) as response:
        served = response.read()
    assert served == (root / plot["path"]).read_bytes()
    png_size(served)
    body = publish_report(root, 1, (model,), "acme/models").body
    assert (
        f"[`{artifact}`]({plot['artifact_url']}) (MLflow artifact `{plot['artifact_uri']}`)" in body
    )


@pytest.mark.system
def test_a_regression_model_is_plotted_against_production(tmp_path: Path, cli) -> None:
    """The R regression example with production scored too: a valid PNG, logged to the run."""
    require_system("R", runtime_present("r"))
    model = "fuel-efficiency"
    root = make_repository(tmp_path / "repo", (model,))
    assert run_cli("--repo", str(root), "train", model) == 0
    candidate = json.loads((root / f".mlops/candidates/{model}.json").read_text())
    path = root / "registry.yaml"
    registry = yaml.safe_load(path.read_text())
    registry["models"][model] = {
        "versions": {"1": {k: candidate[k] for k in ("run_id", "git_commit", "dvc_hashes",
                                                     "params_hash", "artifact_sha256", "created")}
                     | {"model_uri": f"models:/{model}/1", "metrics": {}}},
        "stages": {"staging": "1", "production": "1"},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(registry, sort_keys=False))
    result = cli("--repo", root, "evaluate", model, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["production"]["source"] == "scored"
    assert report["plot"]["warning"] is None
    assert report["plot"]["artifact_uri"].endswith(f"evaluation/{model}-vs-production.png")
    width, height = png_size(root / f".mlops/evaluations/{model}.png")
    assert width > 1000 and height > 500
