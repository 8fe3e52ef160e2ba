"""`mlops train`, `predict` and `reproduce` on a real git repository with real DVC and MLflow.

One scratch repository is shared by the module (training is the slow part); tests that
break something work on their own copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest
from support import git, make_repository, require_system, run_cli, runtime_present


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The breast-cancer example trained once as version 1, in a module-wide repository."""
    root = make_repository(tmp_path_factory.mktemp("train") / "repo", ("breast-cancer",))
    assert run_cli("--repo", root, "train", "breast-cancer") == 0
    return root


def registered_versions(root: Path, model: str) -> list[str]:
    with sqlite3.connect(root / ".mlops" / "mlflow.db") as db:
        rows = db.execute("select version from model_versions where name = ?", (model,))
        return sorted(str(r[0]) for r in rows)


def run_statuses(root: Path) -> list[str]:
    with sqlite3.connect(root / ".mlops" / "mlflow.db") as db:
        return sorted(r[0] for r in db.execute("select status from runs"))


def test_training_registers_a_version_with_its_lineage(trained: Path) -> None:
    """Version 1 exists, its run finished, and the candidate record carries the lineage."""
    assert registered_versions(trained, "breast-cancer") == ["1"]
    assert run_statuses(trained) == ["FINISHED"]
    record = json.loads((trained / ".mlops/candidates/breast-cancer.json").read_text())
    lock = (trained / "models/breast-cancer/dvc.lock").read_text()
    assert record["version"] == "1"
    assert record["git_commit"] == git(trained, "rev-parse", "HEAD")
    assert set(record["dvc_hashes"]) == {"data/train.csv", "data/holdout.csv"}
    assert all(md5 in lock for md5 in record["dvc_hashes"].values())
    assert record["params_hash"].startswith("sha256:") and len(record["params_hash"]) == 71
    assert record["metrics"]["roc_auc"] > 0.99
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{trained / '.mlops' / 'mlflow.db'}")
    run = MlflowClient().get_run(record["run_id"])
    tags = run.data.tags
    assert tags["mlops.git_commit"] == record["git_commit"]
    # Clean before training; what the pipeline rewrote is listed (whatever this machine's
    # bytes made of dvc.lock), and the exact lock it wrote is hashed and kept with the run.
    assert tags["mlops.git_dirty"] == "false"
    changed = git(trained, "status", "--porcelain", "--", "models/breast-cancer").splitlines()
    rewritten = sorted(line.split()[-1].removeprefix("models/breast-cancer/") for line in changed)
    assert tags["mlops.rewritten"] == ",".join(rewritten)
    assert set(rewritten) <= {"dvc.lock", "metrics.json", "evaluation.json"}
    lock = (trained / "models/breast-cancer/dvc.lock").read_text()
    assert tags["mlops.dvc_lock_sha256"] == hashlib.sha256(lock.encode()).hexdigest()
    stored = mlflow.artifacts.load_text(f"runs:/{record['run_id']}/lineage/dvc.lock")
    assert stored == lock
    fingerprint = json.loads(
        mlflow.artifacts.load_text(f"runs:/{record['run_id']}/lineage/platform.json")
    )
    assert fingerprint["machine"] and fingerprint["python"].startswith("3.")
    assert any(lib.get("kernel") for lib in fingerprint["libraries"])  # OpenBLAS's kernel
    assert fingerprint["packages"]["scikit-learn"]
    assert tags["mlops.platform"].startswith(fingerprint["machine"])
    assert tags["mlops.runtime"].startswith("python 3.")
    assert tags["mlops.seed"] == "42"
    assert tags["mlops.dvc.data/train.csv"] == record["dvc_hashes"]["data/train.csv"]
    assert run.data.params["train.c"] == "1.0"
    assert {"wall_seconds", "cpu_seconds", "roc_auc", "train_roc_auc"} <= set(run.data.metrics)
    environment = mlflow.artifacts.load_text(f"runs:/{record['run_id']}/lineage/environment.txt")
    assert "scikit-learn==" in environment
    assert (trained / "registry.yaml").read_text().count("versions: {}") == 1  # untouched


def test_an_unchanged_model_is_not_registered_again(trained: Path, cli) -> None:
    """A second run skips every stage and reports the existing version."""
    result = cli("--repo", trained, "train", "breast-cancer", "--json")
    assert result.code == 0, result.err
    (outcome,) = json.loads(result.out)["results"]
    assert (outcome["version"], outcome["reused"], outcome["stages_ran"]) == ("1", True, [])
    assert registered_versions(trained, "breast-cancer") == ["1"]


def test_predict_loads_the_version_through_pyfunc(trained: Path, cli, tmp_path: Path) -> None:
    """Predictions for the holdout rows, as CSV and as JSON."""
    rows = tmp_path / "rows.csv"
    holdout = (trained / "models/breast-cancer/data/holdout.csv").read_text().splitlines()
    rows.write_text("\n".join(holdout[:6]) + "\n")
    result = cli("--repo", trained, "predict", "breast-cancer", "--version", "1", "--input", rows)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "prediction" and len(lines) == 6
    assert set(lines[1:]) <= {"0", "1"}
    as_json = cli(
        "--repo", trained, "predict", "breast-cancer", "--version", "1", "--input", rows, "--json"
    )
    assert len(json.loads(as_json.out)) == 5


def test_predict_reports_bad_input(trained: Path, cli, tmp_path: Path) -> None:
    """A missing file, an unknown format and missing columns are clear errors."""
    base = ("--repo", trained, "predict", "breast-cancer", "--version", "1", "--input")
    missing = cli(*base, tmp_path / "nope.csv")
    assert missing.code == 2 and "no such input file" in missing.err
    odd = tmp_path / "rows.xlsx"
    odd.write_text("x")
    assert "unsupported input format '.xlsx'" in cli(*base, odd).err
    partial = tmp_path / "partial.csv"
    partial.write_text("mean_radius\n14.2\n")
    result = cli(*base, partial)
    assert result.code == 1 and "could not score" in result.err
    unknown = cli(
        "--repo", trained, "predict", "breast-cancer", "--version", "9", "--input", partial
    )
    assert unknown.code != 0 and "Traceback" not in unknown.err


def test_reproduce_matches_exactly(trained: Path, cli) -> None:
    """Retraining version 1 from its commit and data on the machine that trained it gives
    the same hashes, parameters, metrics and a bit-identical artifact."""
    result = cli("--repo", trained, "reproduce", "breast-cancer", "1", "--json")
    assert result.code == 0, result.out + result.err
    outcome = json.loads(result.out)
    assert (outcome["verdict"], outcome["reproduced_exactly"]) == ("identical", True)
    rows = {row["item"]: row for row in outcome["comparison"]}
    assert {"data data/train.csv", "parameters", "metric roc_auc", "metric n_rows",
            "model artifact sha256"} <= set(rows)  # fmt: skip
    assert all(row["status"] == "same" for row in rows.values())
    assert git(trained, "worktree", "list").count("\n") == 0  # the scratch worktree is gone
    table = cli("--repo", trained, "reproduce", "breast-cancer", "1", "--exact")
    assert table.code == 0, table.err
    assert "breast-cancer version 1: identical" in table.out


@pytest.fixture
def scratch(tmp_path: Path, trained: Path) -> Path:
    """A private copy of the trained repository (its store, cache and remote included)."""
    copy = tmp_path / "repo"
    shutil.copytree(trained, copy, symlinks=True)
    storage = trained.parent / "mlops-dvc-storage"
    if storage.exists():
        shutil.copytree(storage, tmp_path / "mlops-dvc-storage")
    # The copied store still points at the original's artifact folders: repoint it.
    with sqlite3.connect(copy / ".mlops" / "mlflow.db") as db:
        for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
            db.execute(
                f"update {table} set {column} = replace({column}, ?, ?)",
                (str(trained), str(copy)),
            )
    record_path = copy / ".mlops/candidates/breast-cancer.json"
    record = json.loads(record_path.read_text())
    record["tracking_uri"] = record["tracking_uri"].replace(str(trained), str(copy))
    record_path.write_text(json.dumps(record))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_crashing_training_script_leaves_nothing_behind(scratch: Path, cli) -> None:
    """The script's error is shown; no run, no version, registry and record untouched."""
    edit(
        scratch / "models/breast-cancer/train.py",
        "def main(",
        "def main(*_):\n    raise RuntimeError('boom: disk on fire')\n\n\ndef _unused(",
    )
    record = (scratch / ".mlops/candidates/breast-cancer.json").read_text()
    registry = (scratch / "registry.yaml").read_text()
    result = cli("--repo", scratch, "train", "breast-cancer")
    assert result.code == 1
    assert "the breast-cancer pipeline failed" in result.err
    assert "boom: disk on fire" in result.err
    assert registered_versions(scratch, "breast-cancer") == ["1"]
    assert run_statuses(scratch) == ["FINISHED"]
    assert (scratch / ".mlops/candidates/breast-cancer.json").read_text() == record
    assert (scratch / "registry.yaml").read_text() == registry


def test_bad_params_name_the_file_and_line(scratch: Path, cli) -> None:
    """Broken YAML in params.yaml is reported at its position; a bad value by the script."""
    params = scratch / "models/breast-cancer/params.yaml"
    edit(params, "  c: 1.0", "  c: [1.0")
    result = cli("--repo", scratch, "train", "breast-cancer")
    assert result.code == 1
    assert "models/breast-cancer/params.yaml:" in result.err and "invalid YAML" in result.err
    edit(params, "  c: [1.0", "  c: abc")
    result = cli("--repo", scratch, "train", "breast-cancer")
    assert result.code == 1
    assert "--c" in result.err and "abc" in result.err
    assert registered_versions(scratch, "breast-cancer") == ["1"]


def test_a_failure_while_logging_marks_the_run_failed(scratch: Path, cli) -> None:
    """When the run's artifacts cannot be stored, the run is FAILED and no version exists."""
    edit(scratch / "models/breast-cancer/params.yaml", "  c: 1.0", "  c: 0.5")
    artifacts = scratch / ".mlops/artifacts/models/breast-cancer"
    shutil.rmtree(artifacts)
    artifacts.write_text("a file where the artifact folder should be")
    result = cli("--repo", scratch, "train", "breast-cancer")
    assert result.code != 0
    assert registered_versions(scratch, "breast-cancer") == ["1"]
    assert run_statuses(scratch) == ["FAILED", "FINISHED"]
    assert (
        json.loads((scratch / ".mlops/candidates/breast-cancer.json").read_text())["version"] == "1"
    )


def test_an_unreachable_dvc_remote_registers_nothing(scratch: Path, cli) -> None:
    """dvc push failing is reported; the run (logged meanwhile) is FAILED, no version exists."""
    edit(scratch / "models/breast-cancer/params.yaml", "  c: 1.0", "  c: 0.25")
    git(scratch, "config", "--local", "user.name", "x")
    with (scratch / ".dvc" / "config.local").open("w") as fh:
        fh.write("['remote \"local\"']\n    url = /proc/mlops-no-such-remote\n")
    result = cli("--repo", scratch, "train", "breast-cancer")
    assert result.code == 1
    assert "dvc push failed for breast-cancer" in result.err
    assert registered_versions(scratch, "breast-cancer") == ["1"]
    assert run_statuses(scratch) == ["FAILED", "FINISHED"]


def test_an_unchanged_model_registered_from_here_needs_no_remote(scratch: Path, cli) -> None:
    """This machine registered the artifact after pushing its data, so an unchanged model is
    reported from the local record without contacting the DVC remote."""
    with (scratch / ".dvc" / "config.local").open("w") as fh:
        fh.write("['remote \"local\"']\n    url = /proc/mlops-no-such-remote\n")
    result = cli("--repo", scratch, "train", "breast-cancer", "--json")
    assert result.code == 0, result.err
    (outcome,) = json.loads(result.out)["results"]
    assert (outcome["version"], outcome["reused"]) == ("1", True)


def test_a_version_registered_elsewhere_gets_its_data_pushed(scratch: Path, cli) -> None:
    """Without this machine's record, the store names the version, and the data it was trained
    on is pushed to the remote again (here: a remote that lost it)."""
    (scratch / ".mlops/candidates/breast-cancer.json").unlink()
    storage = scratch.parent / "mlops-dvc-storage"
    shutil.rmtree(storage)
    result = cli("--repo", scratch, "train", "breast-cancer", "--json")
    assert result.code == 0, result.err
    (outcome,) = json.loads(result.out)["results"]
    assert (outcome["version"], outcome["reused"]) == ("1", True)
    record = json.loads((scratch / ".mlops/candidates/breast-cancer.json").read_text())
    for md5 in record["dvc_hashes"].values():
        assert (storage / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def test_a_store_that_fails_to_search_is_not_read_as_no_version(scratch: Path, cli) -> None:
    """When the store cannot answer whether this artifact is registered (its version tags
    table is broken here), training stops naming the store: it never takes the failure for
    "not registered" and registers a duplicate version."""
    (scratch / ".mlops/candidates/breast-cancer.json").unlink()
    database = scratch / ".mlops" / "mlflow.db"
    with sqlite3.connect(database) as db:
        db.execute("alter table model_version_tags rename to hidden_tags")
    try:
        result = cli("--repo", scratch, "train", "breast-cancer")
    finally:
        with sqlite3.connect(database) as db:
            db.execute("alter table hidden_tags rename to model_version_tags")
    assert result.code == 1
    assert "the tracking store sqlite:///" in result.err
    assert "failed to search the versions of 'breast-cancer'" in result.err
    assert registered_versions(scratch, "breast-cancer") == ["1"]
    assert run_statuses(scratch) == ["FINISHED"]


def test_a_tracking_server_that_is_down(
    scratch: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that does not answer is named at once, before anything is logged."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    edit(scratch / "models/breast-cancer/params.yaml", "  c: 1.0", "  c: 2.0")
    result = cli("--repo", scratch, "train", "breast-cancer")
    assert result.code == 1
    assert f"tracking server http://127.0.0.1:{port} is not answering" in result.err


def test_a_missing_runtime_is_named(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training an R model without Rscript says which program is missing and how to get it."""
    root = make_repository(tmp_path / "repo", ("fuel-efficiency",))
    monkeypatch.setenv("MLOPS_RSCRIPT", "/nonexistent/Rscript")
    result = cli("--repo", root, "train", "fuel-efficiency")
    assert result.code != 0
    assert "Rscript" in result.err and "scripts/bootstrap" in result.err
    assert not (root / ".mlops" / "mlflow.db").exists()


def test_usage_errors(trained: Path, cli) -> None:
    """Names or --changed, not both; unknown models are named."""
    assert cli("--repo", trained, "train").code == 2
    assert cli("--repo", trained, "train", "x", "--changed", "--base", "main").code == 2
    result = cli("--repo", trained, "train", "nope")
    assert result.code == 1 and "no model named 'nope'" in result.err


@pytest.mark.parametrize(
    ("model", "program"), [("fuel-efficiency", "Rscript"), ("disease-progression", "julia")]
)
@pytest.mark.system
def test_r_and_julia_models_train_and_predict(
    tmp_path: Path, cli, model: str, program: str
) -> None:
    """Non-Python models train through the same command, predict through pyfunc workers,
    and reproduce exactly from their recorded commit and data."""
    language = {"Rscript": "r", "julia": "julia"}[program]
    require_system(program, runtime_present(language))
    root = make_repository(tmp_path / "repo", (model,))
    result = cli("--repo", root, "train", model, "--json")
    assert result.code == 0, result.out + result.err
    (outcome,) = json.loads(result.out)["results"]
    assert outcome["version"] == "1" and not outcome["reused"]
    evaluation = json.loads((root / f"models/{model}/evaluation.json").read_text())
    assert outcome["metrics"]["r2"] == evaluation["r2"]
    rows = root / f"models/{model}/data/holdout.csv"
    predicted = cli("--repo", root, "predict", model, "--version", "1", "--input", rows, "--json")
    assert predicted.code == 0, predicted.err
    values = [row["prediction"] for row in json.loads(predicted.out)]
    assert len(values) == evaluation["n_rows"]
    assert all(isinstance(v, float) for v in values)
    reproduced = cli("--repo", root, "reproduce", model, "1", "--json")
    assert reproduced.code == 0, reproduced.out + reproduced.err
    assert json.loads(reproduced.out)["reproduced_exactly"] is True
