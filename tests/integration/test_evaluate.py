"""`mlops evaluate`: candidate and production scored on the same holdout, gates applied.

One repository with breast-cancer trained once is shared by the module; each test that edits
files works on its own copy of it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from plots import png_size
from support import commit_all, make_repository, require_system, run_cli, runtime_present

MODEL = "breast-cancer"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repository(tmp_path_factory.mktemp("evaluate") / "repo", (MODEL,))
    assert run_cli("--repo", str(root), "train", MODEL) == 0
    return root


@pytest.fixture
def copy(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained repository (tracking store and data included)."""
    target = tmp_path / "repo"
    shutil.copytree(trained, target, symlinks=True)
    return target  # its tracking store still reads artifacts from the original (read-only)


def candidate_record(root: Path) -> dict[str, Any]:
    return json.loads((root / f".mlops/candidates/{MODEL}.json").read_text())


def set_production(root: Path, version: str, model_uri: str, metrics: dict[str, float]) -> None:
    record = candidate_record(root)
    entry = {k: record[k] for k in ("run_id", "git_commit", "dvc_hashes", "params_hash",
                                    "artifact_sha256", "created")}  # fmt: skip
    entry |= {"model_uri": model_uri, "metrics": metrics}
    path = root / "registry.yaml"
    registry = yaml.safe_load(path.read_text())
    registry["models"][MODEL] = {
        "versions": {version: entry},
        "stages": {"staging": version, "production": version},
    }
    path.write_text(yaml.safe_dump(registry, sort_keys=False))


def test_the_first_candidate_is_scored_and_has_nothing_to_compare_with(trained: Path, cli) -> None:
    """The platform's own metrics equal the pipeline's evaluation; relative gates say why not."""
    result = cli("--repo", trained, "evaluate", MODEL, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    pipeline = json.loads((trained / f"models/{MODEL}/evaluation.json").read_text())
    for metric in ("roc_auc", "accuracy", "f1", "log_loss"):
        assert report["candidate"]["metrics"][metric] == pytest.approx(pipeline[metric], abs=1e-6)
    assert report["candidate"]["version"] == "1"
    assert report["production"] is None
    assert report["holdout"] == {
        "path": f"models/{MODEL}/data/holdout.csv",
        "rows": pipeline["n_rows"],
        "md5": candidate_record(trained)["dvc_hashes"]["data/holdout.csv"],
    }
    gates = {g["gate"]: g for g in report["decision"]["gates"]}
    assert gates["relative_to_production"]["verdict"] == "not-applicable"
    assert gates["absolute"]["verdict"] == "pass"
    assert report["decision"]["passed"]
    written = json.loads((trained / f".mlops/evaluations/{MODEL}.json").read_text())
    assert written == report


def test_the_table_names_production_and_the_gates(trained: Path, cli) -> None:
    """Without --json: a metric table, the gate table and the decision."""
    result = cli("--repo", trained, "evaluate", MODEL, "--candidate", "1")
    assert result.code == 0, result.err
    assert "roc_auc (primary)" in result.out
    assert "No production version yet" in result.out
    assert "Decision: passes every gate" in result.out


def test_production_is_scored_on_the_same_holdout(copy: Path, cli, tmp_path: Path) -> None:
    """With production reachable in the store, both are scored; equal versions: zero deltas."""
    set_production(copy, "1", f"models:/{MODEL}/1", {"roc_auc": 0.5})
    out = tmp_path / "evaluation.json"
    result = cli("--repo", copy, "evaluate", MODEL, "--output", out, "--json")
    assert result.code == 0, result.err
    report = json.loads(out.read_text())
    assert report["production"]["source"] == "scored"
    assert report["production"]["metrics"] == report["candidate"]["metrics"]
    primary = report["rows"][0]
    assert (primary["metric"], primary["delta"]) == ("roc_auc", 0.0)
    gates = {g["gate"]: g for g in report["decision"]["gates"]}
    assert gates["relative_to_production"]["verdict"] == "pass"
    assert "production (version 1)" in gates["relative_to_production"]["reason"]


def test_it_refuses_a_candidate_that_regresses_against_recorded_production(copy: Path, cli) -> None:
    """Production from another store falls back to its recorded metrics, says so, and the
    relative gate blocks a regression: exit 1 with the reason."""
    set_production(copy, "7", f"models:/{MODEL}/7", {"roc_auc": 0.9999})
    manifest = copy / f"models/{MODEL}/model.yaml"
    manifest.write_text(
        manifest.read_text().replace("max_regression: 0.005", "max_regression: 0.001")
    )
    result = cli("--repo", copy, "evaluate", MODEL, "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["production"]["source"] == "recorded"
    assert "recorded in registry.yaml" in report["production"]["note"]
    assert not report["decision"]["passed"]
    assert "blocked by relative_to_production" in result.err


def test_an_unknown_version_is_a_clear_error(trained: Path, cli) -> None:
    """A version the store does not have: one line naming it, exit 1."""
    result = cli("--repo", trained, "evaluate", MODEL, "--candidate", "42")
    assert result.code == 1
    assert "no registered version 42" in result.err


def test_without_a_local_record_it_evaluates_the_version_of_this_lock(copy: Path, cli) -> None:
    """A machine that trained nothing (a fresh runner) evaluates the version the tracking store
    holds for the checked-out dvc.lock."""
    version = candidate_record(copy)["version"]
    (copy / f".mlops/candidates/{MODEL}.json").unlink()
    result = cli("--repo", copy, "evaluate", MODEL, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["candidate"]["version"] == version


def test_without_any_candidate_it_says_how_to_get_one(copy: Path, cli) -> None:
    """No --candidate, no local record, and no version of this lock or commit in the store:
    usage error naming the fix."""
    (copy / f".mlops/candidates/{MODEL}.json").unlink()
    lock = copy / f"models/{MODEL}/dvc.lock"
    lock.write_text(lock.read_text() + "# edited by hand\n")
    commit_all(copy, "a lock no training wrote")
    result = cli("--repo", copy, "evaluate", MODEL)
    assert result.code == 2
    assert "the tracking store holds no version of this commit" in result.err
    assert f"run `mlops train {MODEL}`" in result.err


def test_an_unknown_model_is_refused(trained: Path, cli) -> None:
    result = cli("--repo", trained, "evaluate", "nope")
    assert result.code == 1
    assert "no model named 'nope'" in result.err


def test_a_corrupt_holdout_names_the_file(copy: Path, cli) -> None:
    """A holdout that lost its target column: the file and the column are named."""
    holdout = copy / f"models/{MODEL}/data/holdout.csv"
    holdout.write_text("mean_radius\n1.0\n")
    result = cli("--repo", copy, "evaluate", MODEL)
    assert result.code == 1
    assert f"models/{MODEL}/data/holdout.csv: the holdout has no target column" in result.err
    assert (
        not (copy / f".mlops/evaluations/{MODEL}.json").exists()
        or json.loads((copy / f".mlops/evaluations/{MODEL}.json").read_text())["candidate"][
            "version"
        ]
        == "1"
    )


def test_a_model_without_a_holdout_role_is_refused(copy: Path, cli) -> None:
    """No input declares role: holdout: the manifest is named and nothing is scored."""
    manifest = copy / f"models/{MODEL}/model.yaml"
    manifest.write_text(manifest.read_text().replace("role: holdout", "role: reference"))
    result = cli("--repo", copy, "evaluate", MODEL)
    assert result.code == 1
    assert "no data input has `role: holdout`" in result.err


def test_an_invalid_policy_is_refused_before_scoring(copy: Path, cli) -> None:
    """A broken promotion policy stops evaluation with its line."""
    policy = copy / "policies/promotion.yaml"
    policy.write_text(policy.read_text().replace("mode: enforce", "mode: sometimes", 1))
    result = cli("--repo", copy, "evaluate", MODEL)
    assert result.code == 1
    assert "policies/promotion.yaml:" in result.err


@pytest.mark.system
def test_an_r_model_is_evaluated_through_its_worker(tmp_path: Path, cli) -> None:
    """The R example is scored through its worker-backed pyfunc like any other model."""
    require_system("R", runtime_present("r"))
    root = make_repository(tmp_path / "repo", ("fuel-efficiency",))
    assert run_cli("--repo", str(root), "train", "fuel-efficiency") == 0
    result = cli("--repo", root, "evaluate", "fuel-efficiency", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    pipeline = json.loads((root / "models/fuel-efficiency/evaluation.json").read_text())
    for metric in ("rmse", "mae", "r2"):
        assert report["candidate"]["metrics"][metric] == pytest.approx(pipeline[metric], abs=1e-4)


def test_the_plot_is_written_beside_the_record_and_logged_to_the_candidate_run(
    trained: Path, cli, tmp_path: Path
) -> None:
    """A PNG beside .mlops/evaluations/NAME.json, the same bytes logged to the candidate's
    MLflow run as evaluation/NAME-vs-production.png, the table names where it is."""
    result = cli("--repo", trained, "evaluate", MODEL, "--json")
    assert result.code == 0, result.err
    plot = json.loads(result.out)["plot"]
    local = trained / f".mlops/evaluations/{MODEL}.png"
    assert plot["path"] == f".mlops/evaluations/{MODEL}.png" and plot["warning"] is None
    width, height = png_size(local)
    assert width > 1000 and height > 500
    artifact = f"evaluation/{MODEL}-vs-production.png"
    assert plot["artifact"] == artifact
    assert plot["artifact_uri"].startswith("file://") and plot["artifact_uri"].endswith(artifact)
    assert plot["artifact_url"] is None and plot["image_url"] is None  # no UI to link to

    from mlflow import MlflowClient

    store = f"sqlite:///{trained / '.mlops/mlflow.db'}"
    run_id = json.loads(result.out)["candidate"]["run_id"]
    logged = MlflowClient(tracking_uri=store).download_artifacts(run_id, artifact, str(tmp_path))
    assert Path(logged).read_bytes() == local.read_bytes()

    shown = cli("--repo", trained, "evaluate", MODEL)
    assert shown.code == 0, shown.err
    assert f"Plot: .mlops/evaluations/{MODEL}.png" in shown.out
    assert f"Logged to the candidate's run: {plot['artifact_uri']}" in shown.out


def test_with_production_scored_the_plot_is_also_written_beside_output(
    copy: Path, cli, tmp_path: Path
) -> None:
    """--output gets its own PNG beside it, and the copy of the record points at that PNG."""
    set_production(copy, "1", f"models:/{MODEL}/1", {"roc_auc": 0.5})
    out = tmp_path / "out" / "evaluation.json"
    result = cli("--repo", copy, "evaluate", MODEL, "--output", out)
    assert result.code == 0, result.err
    written = json.loads(out.read_text())
    assert written["production"]["source"] == "scored"
    assert written["plot"]["path"] == str(out.with_suffix(".png"))
    png_size(out.with_suffix(".png"))
    local = copy / f".mlops/evaluations/{MODEL}.png"
    assert out.with_suffix(".png").read_bytes() == local.read_bytes()
    state = json.loads((copy / f".mlops/evaluations/{MODEL}.json").read_text())
    assert state["plot"]["path"] == f".mlops/evaluations/{MODEL}.png"


def test_production_known_only_by_recorded_metrics_still_gets_a_plot(copy: Path, cli) -> None:
    """Production's model is not in this store: the candidate is plotted with production's
    recorded metrics, and the plot is logged like any other."""
    set_production(copy, "7", f"models:/{MODEL}/7", {"roc_auc": 0.5})
    result = cli("--repo", copy, "evaluate", MODEL, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["production"]["source"] == "recorded"
    assert report["plot"]["warning"] is None and report["plot"]["artifact_uri"]
    png_size(copy / f".mlops/evaluations/{MODEL}.png")


def test_a_plot_that_cannot_be_drawn_leaves_the_evaluation_intact(
    copy: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Predictions of the wrong shape for the plot: the evaluation, its metrics and its verdict
    stand, a warning says why there is no plot, and no earlier plot is left beside the record."""
    from mlops.core import evaluation_plot

    real = evaluation_plot.plan
    local = copy / f".mlops/evaluations/{MODEL}.png"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(b"an earlier evaluation's plot")

    def broken(name: str, task: str, y: Any, candidate: Any, *rest: Any) -> Any:
        short = evaluation_plot.Side(candidate.version, candidate.predictions[:-1],
                                     candidate.scores)  # fmt: skip
        return real(name, task, y, short, *rest)

    monkeypatch.setattr(evaluation_plot, "plan", broken)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("--repo", copy, "evaluate", MODEL, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    rows = report["holdout"]["rows"]
    why = f"no plot of {MODEL}: version 1 has {rows - 1} predictions for {rows} held-out rows"
    assert report["plot"]["path"] is None and report["plot"]["warning"] == why
    assert f"Warning: {why}" in result.err
    assert f"::warning title=mlops evaluate {MODEL}::" in result.err
    pipeline = json.loads((copy / f"models/{MODEL}/evaluation.json").read_text())
    assert report["candidate"]["metrics"]["roc_auc"] == pytest.approx(pipeline["roc_auc"], abs=1e-6)
    assert report["decision"]["passed"]
    assert not local.exists()
    assert json.loads((copy / f".mlops/evaluations/{MODEL}.json").read_text()) == report


def test_the_report_links_the_plot_logged_by_evaluate(
    copy: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PR report's section names the plot's artifact in the candidate's run."""
    from mlops.flows.report import publish_report

    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = cli("--repo", copy, "evaluate", MODEL, "--json")
    assert result.code == 0, result.err
    uri = json.loads(result.out)["plot"]["artifact_uri"]
    body = publish_report(copy, 1, (MODEL,), "acme/models").body
    assert (
        f"Plot of candidate vs production: MLflow artifact `{uri}` of the candidate's run." in body
    )
