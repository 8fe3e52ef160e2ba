"""`mlops list` and `mlops show`: the models at a glance, as tables or JSON."""

from __future__ import annotations

import json
from pathlib import Path


def test_list_shows_every_model_with_stages(cli, repo: Path) -> None:
    """Each model's language, owners and stages, as JSON and as a table."""
    registry = repo / "registry.yaml"
    registry.write_text(
        registry.read_text().replace(
            "  fuel-efficiency:\n    versions: {}\n    stages: {}",
            "  fuel-efficiency:\n    versions:\n      '1': &v\n"
            "        run_id: 0123456789abcdef0123456789abcdef\n"
            "        model_uri: models:/fuel-efficiency/1\n"
            "        git_commit: 0123456789abcdef0123456789abcdef01234567\n"
            "        dvc_hashes: {data/train.csv: 0123456789abcdef0123456789abcdef}\n"
            "        params_hash: sha256:" + "0" * 64 + "\n"
            "        metrics: {rmse: 2.8}\n"
            "        artifact_sha256: " + "0" * 64 + "\n"
            "        created: '2026-11-01T10:00:00Z'\n"
            "      '2': *v\n"
            "    stages: {staging: '2', production: '1', canary: {version: '2', weight: 10}}",
        )
    )
    result = cli("--repo", repo, "list", "--json")
    assert result.code == 0, result.err
    models = {m["name"]: m for m in json.loads(result.out)["models"]}
    assert sorted(models) == ["breast-cancer", "disease-progression", "fuel-efficiency"]
    fuel = models["fuel-efficiency"]
    assert (fuel["language"], fuel["owners"], fuel["versions"]) == (
        "r",
        ["@acme/procurement-analytics"],
        ["1", "2"],
    )
    assert fuel["stages"] == {
        "staging": "2",
        "production": "1",
        "canary": {"version": "2", "weight": 10},
    }
    table = cli("--repo", repo, "list")
    row = next(line for line in table.out.splitlines() if "fuel-efficiency" in line)
    assert "2 (10%)" in row and "@acme/procurement-analytics" in row


def test_list_marks_invalid_models(cli, repo: Path) -> None:
    """A broken manifest still lists, marked invalid, with a pointer to validate."""
    (repo / "models/breast-cancer/model.yaml").write_text("name: [\n")
    result = cli("--repo", repo, "list")
    assert result.code == 0
    assert "breast-cancer (invalid)" in result.out
    assert "run `mlops validate`" in result.err


def test_show_one_model(cli, repo: Path) -> None:
    """Manifest summary and registry entry of one model."""
    result = cli("--repo", repo, "show", "disease-progression")
    assert result.code == 0, result.err
    assert "julia regression" in result.out
    assert "10 feature(s) -> progression" in result.out
    assert "rmse (minimize)" in result.out
    data = json.loads(cli("--repo", repo, "show", "disease-progression", "--json").out)
    assert data["manifest"]["language"] == "julia"
    assert data["registry"] == {"versions": {}, "stages": {}}
    assert data["diagnostics"] == []


def test_show_unknown_model(cli, repo: Path) -> None:
    """An unknown name lists the known ones."""
    result = cli("--repo", repo, "show", "nope")
    assert result.code == 1
    assert (
        "no model named 'nope' (known: breast-cancer, disease-progression, fuel-efficiency)"
        in result.err
    )


def test_show_prints_errors_literally_and_counts_warnings(cli, repo: Path) -> None:
    """Errors appear as validate prints them (brackets and all); warnings are counted."""
    manifest = repo / "models/breast-cancer/model.yaml"
    text = manifest.read_text().replace('"0": benign', '"0": 5')
    manifest.write_text(
        text.replace("  limitations: >-", "  limitations: TODO [later]\n  x_limitations: >-")
    )
    result = cli("--repo", repo, "show", "breast-cancer")
    assert result.code == 0
    assert '$.data.target.classes["0"]: expected a string, got an integer 5' in result.out
    assert "unknown field 'x_limitations'" in result.out
    assert "1 warning(s): `mlops validate models/breast-cancer` lists them" in result.out
