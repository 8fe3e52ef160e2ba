"""`mlops schedules` on real repositories: generated, checked, refused when inputs are broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support import ROOT, commit_all, git

BATCH = ".github/workflows/batch.yml"
MONITOR = ".github/workflows/monitor.yml"
RETRAIN = ".github/workflows/retrain.yml"
SCHEDULES = [
    {"cron": "0 2 * * 1", "models": ["breast-cancer"]},
    {"cron": "0 4 1 * *", "models": ["fuel-efficiency"]},
    {"cron": "30 1 * * *", "models": ["disease-progression"]},
]


def edit(root: Path, model: str, old: str, new: str) -> None:
    manifest = root / "models" / model / "model.yaml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new))


def test_the_committed_file_of_this_repository_is_current(cli) -> None:
    """This repository's own batch.yml is what the command generates."""
    result = cli("--repo", ROOT, "schedules", "--check")
    assert result.code == 0, result.out + result.err
    assert result.out == ""


def test_it_creates_the_file_then_the_check_passes(cli, git_repo: Path) -> None:
    """A repository without the file fails the check, gets it written, and then passes."""
    missing = cli("--repo", git_repo, "schedules", "--check")
    assert missing.code == 1
    assert missing.out.startswith(f"--- /dev/null\n+++ b/{BATCH}\n")
    assert f"error: {BATCH} is missing" in missing.err
    assert "hint: run `mlops schedules`" in missing.err
    assert not (git_repo / ".github").exists()

    written = cli("--repo", git_repo, "schedules")
    assert written.code == 0, written.err
    assert f"✓ created {BATCH}: 3 schedule(s)" in written.err
    assert '+    - cron: "0 2 * * 1" # scores breast-cancer\n' in written.out
    assert (git_repo / BATCH).read_text() == (ROOT / BATCH).read_text()
    assert oct((git_repo / BATCH).stat().st_mode & 0o777) == "0o644"
    assert git(git_repo, "status", "--porcelain") == "?? .github/"

    check = cli("--repo", git_repo, "schedules", "--check")
    assert (check.code, check.out) == (0, "")
    assert f"✓ {BATCH} is current" in check.err


def test_a_second_run_writes_nothing(cli, repo: Path) -> None:
    """When the file is current it is left untouched, and the command says so."""
    assert cli("--repo", repo, "schedules").code == 0
    before = (repo / BATCH).stat().st_mtime_ns
    again = cli("--repo", repo, "schedules")
    assert again.code == 0
    assert "is current; nothing written" in again.err
    assert (repo / BATCH).stat().st_mtime_ns == before


def test_json_reports_path_schedules_and_whether_the_file_is_current(cli, repo: Path) -> None:
    """--json prints {path, current, schedules} (and written); the exit code still says stale
    (1) or current (0)."""
    stale = cli("--repo", repo, "schedules", "--check", "--json")
    assert stale.code == 1
    assert json.loads(stale.out)[0] == {"path": BATCH, "current": False, "schedules": SCHEDULES}
    wrote = cli("--repo", repo, "schedules", "--json")
    assert wrote.code == 0
    assert json.loads(wrote.out)[0] == {
        "path": BATCH, "current": False, "schedules": SCHEDULES, "written": True,
    }  # fmt: skip
    current = cli("--repo", repo, "schedules", "--check", "--json")
    assert current.code == 0
    reports = json.loads(current.out)
    assert reports[0] == {"path": BATCH, "current": True, "schedules": SCHEDULES}
    assert [r["path"] for r in reports] == [BATCH, MONITOR, RETRAIN]
    assert reports[1]["schedules"] == [
        {"cron": "0 5 * * 1", "models": ["fuel-efficiency"]},
        {"cron": "0 6 * * *", "models": ["breast-cancer"]},
        {"cron": "0 7 * * *", "models": ["disease-progression"]},
    ]
    assert reports[2]["schedules"] == [
        {"cron": "0 7 * * *", "models": ["breast-cancer", "disease-progression", "fuel-efficiency"]}
    ]


def test_a_changed_schedule_fails_the_check_with_a_diff_until_regenerated(
    cli, git_repo: Path
) -> None:
    """Moving a model to another model's schedule merges their entries: the check shows the
    diff, names the file and the command, and writes nothing until the command runs."""
    assert cli("--repo", git_repo, "schedules").code == 0
    commit_all(git_repo, "batch workflow")
    edit(git_repo, "fuel-efficiency", 'schedule: "0 4 1 * *"', 'schedule: "0 2 * * 1"')

    stale = cli("--repo", git_repo, "schedules", "--check")
    assert stale.code == 1
    assert stale.out.startswith(f"--- a/{BATCH}\n+++ b/{BATCH}\n")
    changed = [line for line in stale.out.splitlines() if line[:1] in "+-"][2:]
    assert changed == [
        '-    - cron: "0 2 * * 1" # scores breast-cancer',
        '-    - cron: "0 4 1 * *" # scores fuel-efficiency',
        '+    - cron: "0 2 * * 1" # scores breast-cancer, fuel-efficiency',
    ]
    assert f"error: {BATCH} is out of date with the models' schedules" in stale.err
    assert "hint: run `mlops schedules`" in stale.err
    assert git(git_repo, "status", "--porcelain", BATCH) == ""

    updated = cli("--repo", git_repo, "schedules")
    assert updated.code == 0
    assert f"✓ updated {BATCH}: 2 schedule(s)" in updated.err
    assert cli("--repo", git_repo, "schedules", "--check").code == 0


def test_disabling_every_batch_leaves_a_workflow_run_on_demand(cli, repo: Path) -> None:
    """With no model scheduled the file has no schedule trigger, and still parses as a
    workflow that scores one model on demand."""
    for model in ("breast-cancer", "disease-progression", "fuel-efficiency"):
        edit(repo, model, "  batch:\n    enabled: true", "  batch:\n    enabled: false")
    result = cli("--repo", repo, "schedules", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)[0]["schedules"] == []
    data = yaml.safe_load((repo / BATCH).read_text())
    assert list(data[True]) == ["workflow_dispatch"]  # YAML 1.1 reads the key `on` as true
    assert list(data["jobs"]) == ["score"]


def test_an_invalid_manifest_names_the_file_and_writes_nothing(cli, repo: Path) -> None:
    """A schedule that is not a valid cron expression stops the command (with --check too),
    naming the manifest's line; no file is written."""
    edit(repo, "breast-cancer", 'schedule: "0 2 * * 1"', 'schedule: "0 25 * * 1"')
    lines = (repo / "models/breast-cancer/model.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if "0 25 * * 1" in text)
    for args in ((), ("--check",), ("--json",)):
        result = cli("--repo", repo, "schedules", *args)
        assert result.code == 1
        assert f"models/breast-cancer/model.yaml:{line}:" in result.err
        assert "cron hour must be between 0 and 23, got 25" in result.err
        assert (
            "error: cannot generate the scheduled workflows: models/breast-cancer/model.yaml"
            " failed to load or validate" in result.err
        )
        assert result.out == ""
    assert not (repo / BATCH).exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("owners: [unclosed\n", "models/iris/model.yaml:2:1: $: invalid YAML"),
        ("schema_version: 1\nname: iris\n", "models/iris/model.yaml:1:1: $: missing"),
    ],
)
def test_an_unreadable_manifest_names_the_file(
    cli, repo: Path, content: str, expected: str
) -> None:
    """Manifests that do not parse or validate stop the command, named in the error, and an
    existing file is left as it was."""
    (repo / ".github/workflows").mkdir(parents=True)
    (repo / BATCH).write_text("# old\n")
    (repo / "models/iris").mkdir()
    (repo / "models/iris/model.yaml").write_text(content)
    result = cli("--repo", repo, "schedules")
    assert result.code == 1
    assert expected in result.err
    assert "error: cannot generate the scheduled workflows: models/iris/model.yaml" in result.err
    assert (repo / BATCH).read_text() == "# old\n"


def test_in_actions_a_stale_file_is_annotated_and_json_stays_clean(
    cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In GitHub Actions the stale file gets an annotation; with --json it goes to stderr."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("--repo", repo, "schedules", "--check", "--json")
    assert result.code == 1
    assert [r["current"] for r in json.loads(result.out)] == [False, False, False]
    assert f"::error file={BATCH},title=mlops schedules::" in result.err
    assert f"::error file={MONITOR},title=mlops schedules::" in result.err


def test_monitoring_schedules_and_webhook_secrets_shape_monitor_yml(cli, git_repo: Path) -> None:
    """A model moved to another drift schedule and given a webhook channel: monitor.yml is
    stale until regenerated, then monitors both models on one cron and passes the webhook's
    secret to the job by name (never its value)."""
    assert cli("--repo", git_repo, "schedules").code == 0
    commit_all(git_repo, "scheduled workflows")
    edit(git_repo, "fuel-efficiency", 'schedule: "0 5 * * 1"', 'schedule: "0 6 * * *"')
    edit(git_repo, "fuel-efficiency", "      - type: github-issue",
         "      - type: webhook\n        url_secret: FLEET_ALERTS_URL\n      - type: github-issue")  # fmt: skip
    stale = cli("--repo", git_repo, "schedules", "--check")
    assert stale.code == 1
    assert f"error: {MONITOR} is out of date with the models' schedules" in stale.err
    assert cli("--repo", git_repo, "schedules").code == 0
    text = (git_repo / MONITOR).read_text()
    assert '    - cron: "0 6 * * *" # monitors breast-cancer, fuel-efficiency\n' in text
    assert "      FLEET_ALERTS_URL: ${{ secrets.FLEET_ALERTS_URL }}\n" in text
    data = yaml.safe_load(text)
    steps = [step.get("run") for step in data["jobs"]["monitor"]["steps"]]
    assert 'mlops monitor --schedule "$SCHEDULE" --alert' in steps
    assert "mlops retention --apply" in steps
    assert data["jobs"]["monitor"]["permissions"] == {"contents": "read", "issues": "write"}
    retrain = yaml.safe_load((git_repo / RETRAIN).read_text())
    assert [s.get("run") for s in retrain["jobs"]["retrain"]["steps"]][-2:] == [
        "mlops retrain --all --apply", 'mlops retrain "$MODEL" --apply'
    ]  # fmt: skip
