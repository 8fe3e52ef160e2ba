"""`mlops promote`: a plan by default, registry.yaml and the model card written with --apply."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import make_repository

from mlops.adapters.settings import load_settings

MODEL = "breast-cancer"


def record(version: str, roc_auc: float) -> dict[str, Any]:
    return {
        "model": MODEL, "version": version, "run_id": version * 32,
        "model_uri": f"models:/{MODEL}/{version}", "git_commit": "a" * 40,
        "dvc_hashes": {"data/holdout.csv": "d" * 32}, "params_hash": "sha256:" + "b" * 64,
        "metrics": {"roc_auc": roc_auc, "accuracy": 0.96}, "artifact_sha256": "c" * 64,
        "created": "2026-11-01T10:00:00Z", "tracking_uri": "sqlite:///x",
    }  # fmt: skip


@pytest.fixture
def root(tmp_path: Path, cli) -> Path:
    root = make_repository(tmp_path / "repo", (MODEL,))
    assert cli("--repo", root, "card", MODEL, "--check").code == 0  # copied, and current
    return root


def trained(root: Path, version: str, roc_auc: float = 0.99) -> None:
    """The record `mlops train` leaves on this machine, for the store configured here."""
    folder = root / ".mlops" / "candidates"
    folder.mkdir(parents=True, exist_ok=True)
    store = {"tracking_uri": load_settings(root).tracking_uri}
    (folder / f"{MODEL}.json").write_text(json.dumps(record(version, roc_auc) | store))


def stages(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "registry.yaml").read_text())["models"][MODEL]["stages"]


def test_without_apply_it_prints_the_change_and_writes_nothing(root: Path, cli) -> None:
    trained(root, "1")
    before = (root / "registry.yaml").read_text()
    result = cli("--repo", root, "promote", MODEL, "1", "--to", "staging")
    assert result.code == 0, result.err
    assert "+      staging: '1'" in result.out or "+    stages:" in result.out
    assert "Plan only" in result.err
    assert (root / "registry.yaml").read_text() == before


def test_apply_writes_a_valid_registry_and_a_current_card(root: Path, cli) -> None:
    """The registry stays valid, keeps its header comment, versions stay strings, and the card
    is regenerated with it so `mlops card --check` passes."""
    trained(root, "1")
    header = (root / "registry.yaml").read_text().splitlines()[0]
    result = cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply")
    assert result.code == 0, result.err
    text = (root / "registry.yaml").read_text()
    assert text.splitlines()[0] == header
    assert stages(root) == {"staging": "1"}
    assert cli("--repo", root, "validate").code == 0
    assert cli("--repo", root, "card", MODEL, "--check").code == 0
    assert "| 1 |" in (root / f"models/{MODEL}/MODEL_CARD.md").read_text()


def test_staging_then_canary_then_full_rollout(root: Path, cli) -> None:
    """v1 to staging and production; v2 to staging, a 10% canary, then all of production."""
    trained(root, "1", 0.99)
    for stage in ("staging", "production"):
        assert cli("--repo", root, "promote", MODEL, "1", "--to", stage, "--apply").code == 0
    trained(root, "2", 0.995)
    assert cli("--repo", root, "promote", MODEL, "2", "--to", "staging", "--apply").code == 0
    canary = cli("--repo", root, "promote", MODEL, "2", "--to", "production", "--canary", "10",
                 "--apply")  # fmt: skip
    assert canary.code == 0, canary.err
    assert stages(root)["canary"] == {"version": "2", "weight": 10}
    assert cli("--repo", root, "promote", MODEL, "2", "--to", "production", "--apply").code == 0
    assert stages(root) == {"staging": "2", "production": "2"}
    again = cli("--repo", root, "promote", MODEL, "2", "--to", "production", "--apply", "--json")
    assert json.loads(again.out)["changes"] == []


def test_a_refused_promotion_names_every_reason_and_writes_nothing(root: Path, cli) -> None:
    trained(root, "1", 0.5)
    before = (root / "registry.yaml").read_text()
    result = cli("--repo", root, "promote", MODEL, "1", "--to", "production", "--apply")
    assert result.code == 1
    assert "must hold staging before production" in result.err
    assert "gate absolute: roc_auc 0.5 is below the minimum 0.97" in result.err
    assert (root / "registry.yaml").read_text() == before


def test_an_unknown_version_is_refused(root: Path, cli) -> None:
    result = cli("--repo", root, "promote", MODEL, "7", "--to", "staging")
    assert result.code == 1
    assert f"{MODEL} has no registered version 7 in the tracking store" in result.err
    assert not (root / ".mlops" / "mlflow.db").exists()  # nothing created by a refusal


def test_an_interrupted_write_leaves_both_files_as_they_were(
    root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted while the files are prepared: neither registry.yaml nor the card changes,
    and no temporary file is left behind."""
    trained(root, "1")
    before = {p: p.read_text() for p in (root / "registry.yaml",
                                          root / f"models/{MODEL}/MODEL_CARD.md")}  # fmt: skip
    calls = []

    def interrupted(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    result = cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply")
    assert result.code != 0
    assert len(calls) == 2  # interrupted while preparing the second file
    assert {p: p.read_text() for p in before} == before
    leftovers = [p for p in root.rglob(".*.*") if p.is_file() and ".git" not in p.parts]
    assert [p for p in leftovers if p.name.startswith((".registry", ".MODEL_CARD"))] == []


def test_a_broken_candidate_record_is_refused(root: Path, cli) -> None:
    folder = root / ".mlops" / "candidates"
    folder.mkdir(parents=True)
    (folder / f"{MODEL}.json").write_text("{broken")
    result = cli("--repo", root, "promote", MODEL, "1", "--to", "staging")
    assert result.code == 1
    assert "not a candidate record" in result.err


def test_build_without_apply_plans_and_writes_nothing(
    root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlops build` is a plan by default: it checks the version can be verified, says what it
    would build and where it would push it, and leaves registry.yaml alone (no image, no
    digest)."""
    trained(root, "1")
    folder = root / ".mlops" / "candidates"
    data = json.loads((folder / f"{MODEL}.json").read_text())
    (folder / f"{MODEL}.json").write_text(json.dumps(data | {"model_sha256": "e" * 64}))
    assert cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply").code == 0
    before = (root / "registry.yaml").read_text()
    plan = cli("--repo", root, "build", MODEL, "1")
    assert plan.code == 0, plan.err
    assert f"Plan: verify models:/{MODEL}/1 and build its image; no image yet" in plan.err
    assert "run again with --apply" in plan.err
    as_json = json.loads(cli("--repo", root, "build", MODEL, "1", "--json").out)
    assert (as_json["applied"], as_json["image_digest"], as_json["registry_changed"]) == (
        False, None, False,
    )  # fmt: skip
    assert (as_json["image"], as_json["registry"]) == (None, None)
    monkeypatch.setenv("MLOPS_IMAGE_REGISTRY", "127.0.0.1:5000/acme")
    pushing = cli("--repo", root, "build", MODEL, "1")
    assert "build its image and push it to 127.0.0.1:5000/acme; no image yet" in pushing.err
    assert (root / "registry.yaml").read_text() == before
    missing = cli("--repo", root, "build", MODEL, "7")
    assert missing.code == 1
    assert f"registry.yaml: {MODEL} has no version 7" in missing.err
