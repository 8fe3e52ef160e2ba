"""`mlops card` on real git repositories: cards written from committed files, and checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import GIT_ENV, commit_all, git, make_repository

MODELS = ("breast-cancer", "fuel-efficiency")
CARD = "models/fuel-efficiency/MODEL_CARD.md"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Two example models with their committed metrics and dvc.lock, but no cards yet."""
    repo = make_repository(tmp_path / "repo", MODELS)
    for model in MODELS:
        (repo / "models" / model / "MODEL_CARD.md").unlink(missing_ok=True)
    commit_all(repo, "no cards")
    return repo


def cards(root: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in sorted(root.glob("models/*/MODEL_CARD.md"))}


def test_written_cards_pass_the_check(cli, root: Path) -> None:
    """It writes every card, says so, and the check then passes; a second run writes nothing."""
    written = cli("--repo", root, "card", "--all")
    assert written.code == 0, written.err
    assert f"created {CARD}" in written.err
    assert sorted(cards(root)) == sorted(MODELS)
    before = (root / CARD).stat().st_mtime_ns
    again = cli("--repo", root, "card", "fuel-efficiency")
    assert again.code == 0, again.err
    assert "nothing written" in again.err
    assert (root / CARD).stat().st_mtime_ns == before
    checked = cli("--repo", root, "card", "--all", "--check")
    assert checked.code == 0, checked.err
    assert checked.out == ""
    assert "2 model card(s) current" in checked.err


def test_it_fails_the_check_when_the_committed_card_is_stale(cli, root: Path) -> None:
    """It exits 1 with a unified diff and the command to run when model.yaml changed."""
    assert cli("--repo", root, "card", "--all").code == 0
    manifest = root / "models/fuel-efficiency/model.yaml"
    manifest.write_text(manifest.read_text().replace("Fuel economy measured", "MPG measured"))
    committed = (root / CARD).read_text()
    result = cli("--repo", root, "card", "--all", "--check")
    assert result.code == 1
    assert f"--- a/{CARD}\n+++ b/{CARD}\n" in result.out
    assert "-`mpg` (number, in miles per US gallon): Fuel economy measured" in result.out
    assert "+`mpg` (number, in miles per US gallon): MPG measured" in result.out
    assert "breast-cancer" not in result.out  # only the stale card's diff
    assert f"1 model card(s) out of date: {CARD}" in result.err
    assert "hint: run `mlops card fuel-efficiency`" in result.err
    assert (root / CARD).read_text() == committed  # --check writes nothing
    fixed = cli("--repo", root, "card", "fuel-efficiency")
    assert fixed.code == 0 and f"updated {CARD}: 1 line(s) added, 1 removed" in fixed.err


def test_it_fails_the_check_when_a_card_is_missing(cli, root: Path) -> None:
    """It reports a missing card as out of date, with a diff from /dev/null."""
    result = cli("--repo", root, "card", "fuel-efficiency", "--check")
    assert result.code == 1
    assert result.out.startswith(f"--- /dev/null\n+++ b/{CARD}\n")
    assert "(1 missing)" in result.err
    assert not (root / CARD).exists()


def test_the_check_passes_on_a_fresh_clone(cli, root: Path, tmp_path: Path) -> None:
    """A card committed in one checkout is current in a clone elsewhere, in another process
    with another time zone, locale and working folder: no machine state leaks into it."""
    assert cli("--repo", root, "card", "--all").code == 0
    commit_all(root, "cards")
    clone = tmp_path / "elsewhere" / "clone"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    env = {
        **os.environ,
        **GIT_ENV,
        "TZ": "Pacific/Kiritimati",
        "LC_ALL": "C",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", "from mlops.cli import run; run()", "card", "--all", "--check"],
        cwd=clone / "models",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert cards(clone) == cards(root)
    assert str(root) not in (clone / CARD).read_text()


def test_json_reports_each_card(cli, root: Path) -> None:
    """--json reports model, path and whether each card is current."""
    assert cli("--repo", root, "card", "breast-cancer").code == 0
    result = cli("--repo", root, "card", "--all", "--check", "--json")
    assert result.code == 1
    assert json.loads(result.out) == [
        {"model": "breast-cancer", "path": "models/breast-cancer/MODEL_CARD.md", "current": True},
        {"model": "fuel-efficiency", "path": CARD, "current": False},
    ]


def test_the_card_follows_the_registry(cli, root: Path) -> None:
    """A production version in registry.yaml is compared with, and listed in the history."""
    registry = root / "registry.yaml"
    registry.write_text(
        registry.read_text().replace(
            "  fuel-efficiency:\n    versions: {}\n    stages: {}",
            "  fuel-efficiency:\n    versions:\n      '1':\n"
            "        run_id: 0123456789abcdef0123456789abcdef\n"
            "        model_uri: models:/fuel-efficiency/1\n"
            "        git_commit: 0123456789abcdef0123456789abcdef01234567\n"
            "        dvc_hashes: {data/train.csv: 0123456789abcdef0123456789abcdef}\n"
            "        params_hash: sha256:" + "0" * 64 + "\n"
            "        metrics: {rmse: 3.0, r2: 0.6, mae: 2.5}\n"
            "        artifact_sha256: " + "a" * 64 + "\n"
            "        created: '2026-11-01T10:00:00Z'\n"
            "    stages: {production: '1'}",
        )
    )
    assert cli("--repo", root, "card", "fuel-efficiency").code == 0
    card = (root / CARD).read_text()
    assert "Production is version `1`" in card
    assert "| **`rmse`** | 3 | 2.837 | -0.1633 (better) |" in card
    assert "| `1` | 2026-11-01T10:00:00Z | `0123456789ab` | 3 | production |" in card


def broken_evaluation(root: Path) -> str:
    (root / "models/fuel-efficiency/evaluation.json").write_text('{"rmse": 2.8,}\n')
    return "models/fuel-efficiency/evaluation.json:1:"


def missing_metrics(root: Path) -> str:
    (root / "models/fuel-efficiency/metrics.json").unlink()
    return "models/fuel-efficiency/metrics.json not found: expected the training metrics"


def text_metric(root: Path) -> str:
    (root / "models/fuel-efficiency/evaluation.json").write_text('{"rmse": "low"}\n')
    return "'rmse' is a string, not a number"


def invalid_manifest(root: Path) -> str:
    manifest = root / "models/fuel-efficiency/model.yaml"
    manifest.write_text(manifest.read_text().replace("language: r\n", "language: cobol\n"))
    return "models/fuel-efficiency/model.yaml failed validation"


def invalid_registry(root: Path) -> str:
    registry = root / "registry.yaml"
    registry.write_text(registry.read_text().replace("stages: {}", "stages: {live: '1'}", 1))
    return "registry.yaml failed validation"


@pytest.mark.parametrize(
    "breakage",
    [broken_evaluation, missing_metrics, text_metric, invalid_manifest, invalid_registry],
)
def test_broken_inputs_stop_it_before_any_card_is_written(cli, root: Path, breakage) -> None:
    """A broken input is one clear error, a non-zero exit, and no card written for any model."""
    expected = breakage(root)
    result = cli("--repo", root, "card", "--all")
    assert result.code != 0
    error = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and expected in error[0], result.err
    assert cards(root) == {}
    assert cli("--repo", root, "card", "--all", "--check").code != 0


def test_a_stale_card_stays_untouched_when_another_model_is_broken(cli, root: Path) -> None:
    """It writes none of the cards when one of them cannot be rendered."""
    assert cli("--repo", root, "card", "--all").code == 0
    before = cards(root)
    manifest = root / "models/breast-cancer/model.yaml"
    manifest.write_text(manifest.read_text().replace("Triage aid", "A triage aid"))
    missing_metrics(root)
    result = cli("--repo", root, "card", "breast-cancer", "fuel-efficiency")
    assert result.code == 1
    assert cards(root) == before


def test_invalid_manifest_points_at_validate(cli, root: Path) -> None:
    """It names the offending line and points at `mlops validate` for the model."""
    invalid_manifest(root)
    result = cli("--repo", root, "card", "fuel-efficiency")
    assert result.code == 1
    assert "models/fuel-efficiency/model.yaml:" in result.err
    assert "hint: run `mlops validate models/fuel-efficiency`" in result.err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("nope",), 1, "no model named 'nope' (known: breast-cancer, fuel-efficiency)"),
        ((), 2, "name the models whose cards to write, or pass --all"),
        (("--all", "breast-cancer"), 2, "name models or pass --all, not both"),
    ],
)
def test_it_refuses_unknown_models_and_unclear_requests(
    cli, root: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    """An unknown model or an unclear request is an error and writes nothing."""
    result = cli("--repo", root, "card", *args)
    assert result.code == code
    assert message in result.err
    assert cards(root) == {}
