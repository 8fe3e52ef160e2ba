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


def test_it_compacts_the_closed_days_it_keeps_and_monitor_reads_them(cli, repo: Path,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    """A closed day's log is planned, then compacted into Parquet with --apply; today's stays
    JSON lines (still written to); a day past retention is purged, not compacted; a file
    with a broken line is kept as it is and named; the window reads the same rows after."""
    from mlops.adapters.prediction_logs import read_window
    from mlops.core.prediction_log import Protection
    from mlops.serving.prediction_logs import PredictionLog

    folder = tmp_path / "logs"
    now = datetime.now(UTC)
    writer = PredictionLog(folder, "production", "breast-cancer", "1", Protection())
    for days_ago in (0, 2, 731):  # (yesterday is not closed until 01:00 UTC)
        when = now - timedelta(days=days_ago)
        writer.write(f"r{days_ago}", 2.0, [{"mean_radius": 14.1}, {"mean_radius": 15.2}],
                     [{"prediction": 0}, {"prediction": 1}], when)  # fmt: skip
    writer.close()
    broken = write_day(folder, "staging", "breast-cancer", 3)  # lines that are not records

    def window() -> list[tuple[str, int]]:
        found = read_window(folder, "production", "breast-cancer", "1", now - timedelta(days=4),
                            now)  # fmt: skip
        return sorted(zip(found.column("request_id"), found.column("row"), strict=True))

    before = window()
    assert before == [("r0", 0), ("r0", 1), ("r2", 0), ("r2", 1)]
    planned = cli("--repo", repo, "retention", "--logs", folder, "--json")
    assert planned.code == 0, planned.err
    compact = json.loads(planned.out)["compact"]
    assert [Path(p).parent.name for p in compact] == [f"date={day(2)}", f"date={day(3)}"]
    assert "would be compacted" in cli("--repo", repo, "retention", "--logs", folder).out

    applied = cli("--repo", repo, "retention", "--logs", folder, "--apply", "--json")
    assert applied.code == 0, applied.err
    result = json.loads(applied.out)
    assert [e["day"] for e in result["purged"]] == [day(731)]
    done = {Path(c["file"]).parent.name: c for c in result["compacted"]}
    assert done[f"date={day(2)}"]["rows"] == 2 and done[f"date={day(2)}"]["kept"] is None
    assert done[f"date={day(3)}"]["kept"] == "it holds lines that are not log records"
    production = folder / "production" / "breast-cancer"
    assert [p.suffix for p in (production / f"date={day(2)}").iterdir()] == [".parquet"]
    assert [p.suffix for p in (production / f"date={day(0)}").iterdir()] == [".jsonl"]
    assert (broken / "v1-0.jsonl").exists()
    assert window() == before

    again = cli("--repo", repo, "retention", "--logs", folder, "--apply")
    assert again.code == 0, again.err
    assert "kept as JSON lines" in again.out
    assert not [line for line in again.out.splitlines() if line.startswith("compacted")]
