"""`mlops retention` on a scratch repository and a prediction-log folder: a plan by default,
whole days past each model's retention purged with --apply, the rest left alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

# retention_days in the example manifests
KEPT = {"breast-cancer": 730, "disease-progression": 365, "fuel-efficiency": 1095}


def day(days_ago: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def write_day(logs: Path, environment: str, model: str, days_ago: int, files: int = 1) -> Path:
    folder = logs / environment / model / f"date={day(days_ago)}"
    folder.mkdir(parents=True)
    for n in range(files):
        (folder / f"v1-{n}.jsonl").write_text('{"line": 1}\n' * (n + 1))
    return folder


@pytest.fixture
def logs(tmp_path: Path) -> dict[str, Path]:
    """Days on both sides of each model's period, and a model no manifest names."""
    root = tmp_path / "logs"
    return {
        "bc-old": write_day(root, "production", "breast-cancer", 731, files=2),
        "bc-edge": write_day(root, "production", "breast-cancer", 730),
        "bc-new": write_day(root, "staging", "breast-cancer", 3),
        "dp-old": write_day(root, "production", "disease-progression", 400),
        "fe-new": write_day(root, "production", "fuel-efficiency", 1000),
        "retired": write_day(root, "production", "retired-model", 5000),
    }


def test_it_plans_then_purges_whole_days_past_retention(cli, repo: Path, logs: dict[str, Path]
                                                        ) -> None:  # fmt: skip
    """Without --apply nothing goes; with it exactly the days past their model's period go;
    a day at the edge stays; a model without a manifest is listed as kept."""
    folder = logs["bc-old"].parents[2]
    planned = cli("--repo", repo, "retention", "--logs", folder, "--json")
    assert planned.code == 0, planned.err
    plan = json.loads(planned.out)
    assert (plan["partitions"], plan["applied"], plan["purged"]) == (6, False, [])
    assert [(e["model"], e["day"], e["retention_days"]) for e in plan["expired"]] == [
        ("breast-cancer", day(731), 730), ("disease-progression", day(400), 365),
        ("retired-model", day(5000), None),
    ]  # fmt: skip
    assert plan["expired"][0]["files"] == 2 and plan["expired"][0]["bytes"] == 36
    assert all(path.exists() for path in logs.values())

    applied = cli("--repo", repo, "retention", "--logs", folder, "--apply")
    assert applied.code == 0, applied.err
    assert "purged 2 day(s)" in applied.out
    gone = {name for name, path in logs.items() if not path.exists()}
    assert gone == {"bc-old", "dp-old"}
    assert not list(folder.rglob(".purging-*"))

    again = cli("--repo", repo, "retention", "--logs", folder)
    assert again.code == 0
    assert "retired-model" in again.out and "kept" in again.out
    assert "would be purged" not in again.out


def test_an_empty_folder_has_nothing_to_purge(cli, repo: Path, tmp_path: Path) -> None:
    result = cli("--repo", repo, "retention", "--logs", tmp_path / "none")
    assert result.code == 0, result.err
    assert "nothing to purge: 0 day(s) of logs" in result.out


def test_an_invalid_manifest_purges_nothing(cli, repo: Path, logs: dict[str, Path]) -> None:
    """Retention decides from every manifest: one that does not validate stops the run
    before anything is deleted, naming the file and line."""
    manifest = repo / "models" / "fuel-efficiency" / "model.yaml"
    manifest.write_text(manifest.read_text().replace("retention_days: 1095", "retention_days: -1"))
    result = cli("--repo", repo, "retention", "--logs", logs["bc-old"].parents[2], "--apply")
    assert result.code != 0
    assert "models/fuel-efficiency/model.yaml:" in result.err
    assert "retention_days" in result.err
    assert all(path.exists() for path in logs.values())
