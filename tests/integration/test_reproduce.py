"""`mlops reproduce` on any machine: from a fresh clone that shares only the tracking store
and the DVC remote, and on a platform whose BLAS kernel differs from the one that trained.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import commit_all, git, make_repository

MODEL = "breast-cancer"


def dvc(root: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def stale_lock(root: Path) -> None:
    """Commit a dvc.lock whose model hash no machine produces, as when the lock came from a
    CPU whose kernels give other bytes: only the lock the run kept can restore the version."""
    lock = root / f"models/{MODEL}/dvc.lock"
    data = yaml.safe_load(lock.read_text())
    (model,) = [o for o in data["stages"]["train"]["outs"] if o["path"] == "model"]
    model["md5"] = "0" * 32 + ".dir"
    lock.write_text(yaml.safe_dump(data, sort_keys=False))
    commit_all(root, "a lock from another machine")


def test_a_fresh_clone_reproduces_a_version_trained_elsewhere(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone with no DVC cache, no local state and the commit's stale dvc.lock gets the
    lock the run wrote from the tracking store, pulls exactly the registered data from the
    shared remote and reproduces the version bit for bit."""
    trainer = make_repository(tmp_path / "trainer" / "repo", (MODEL,))
    stale_lock(trainer)
    assert cli("--repo", trainer, "train", MODEL).code == 0
    assert "dvc.lock" in git(trainer, "status", "--porcelain")  # training rewrote it
    storage = tmp_path / "trainer" / "mlops-dvc-storage"  # the remote .dvc/config names
    assert storage.is_dir()
    clone = tmp_path / "elsewhere" / "clone"
    git(trainer, "clone", "-q", str(trainer), str(clone))
    dvc(clone, "remote", "add", "--local", "--default", "shared", str(storage))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{trainer / '.mlops' / 'mlflow.db'}")
    result = cli("--repo", clone, "reproduce", MODEL, "1", "--json")
    assert result.code == 0, result.out + result.err
    outcome = json.loads(result.out)
    assert outcome["verdict"] == "identical", outcome["reasons"]
    state = clone / ".mlops"  # nothing came from, or went to, local state
    assert not [p for p in state.rglob("*") if p.is_file()]
    assert git(clone, "status", "--porcelain", "--", "models") == ""  # its tree is untouched


def test_another_blas_kernel_gives_an_equivalent_model_and_says_why(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trained with OpenBLAS's Haswell kernels, reproduced with its Prescott ones: data,
    parameters and metrics agree (within the manifest's tolerance), the artifact's bytes
    differ, and the verdict says it is equivalent, not bit-identical, naming the kernel.
    With --exact that verdict fails the command."""
    root = make_repository(tmp_path / "repo", (MODEL,))
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert cli("--repo", root, "train", MODEL).code == 0
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")
    result = cli("--repo", root, "reproduce", MODEL, "1", "--json")
    assert result.code == 0, result.out + result.err
    outcome = json.loads(result.out)
    assert outcome["verdict"] == "equivalent", outcome["comparison"]
    assert outcome["reproduced_exactly"] is False
    assert "setting OPENBLAS_CORETYPE: Haswell when trained, Prescott here" in outcome["reasons"]
    assert any("kernel: Haswell when trained" in r for r in outcome["reasons"])
    rows = {row["item"]: row for row in outcome["comparison"]}
    assert rows["model artifact sha256"]["status"] == "differs"
    assert rows["parameters"]["status"] == "same"
    assert all(row["match"] for item, row in rows.items() if item.startswith(("data", "metric")))
    assert outcome["headline"].startswith("equivalent, not bit-identical: setting OPENBLAS")
    strict = cli("--repo", root, "reproduce", MODEL, "1", "--exact")
    assert strict.code == 1
    assert "breast-cancer version 1: equivalent, not bit-identical" in strict.err
    assert "equivalent" in strict.out and "OPENBLAS_CORETYPE" in strict.out
