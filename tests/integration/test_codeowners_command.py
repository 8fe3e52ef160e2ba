"""`mlops codeowners` on real repositories: generated, checked, refused when inputs are broken."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import ROOT, commit_all, git

CODEOWNERS = ".github/CODEOWNERS"


def set_owners(root: Path, model: str, owners_yaml: str) -> None:
    manifest = root / "models" / model / "model.yaml"
    text = manifest.read_text()
    start = text.index("owners:\n")
    end = text.index("language:", start)
    manifest.write_text(text[:start] + owners_yaml + text[end:])


def test_the_committed_file_of_this_repository_is_current(cli) -> None:
    """This repository's own .github/CODEOWNERS is what the command generates."""
    result = cli("--repo", ROOT, "codeowners", "--check")
    assert result.code == 0, result.out + result.err
    assert result.out == ""


def test_it_creates_the_file_then_the_check_passes(cli, git_repo: Path) -> None:
    """A repository without the file fails the check, gets it written, and then passes."""
    missing = cli("--repo", git_repo, "codeowners", "--check")
    assert missing.code == 1
    assert "error: .github/CODEOWNERS is missing" in missing.err
    assert "hint: run `mlops codeowners`" in missing.err
    assert not (git_repo / CODEOWNERS).exists()

    written = cli("--repo", git_repo, "codeowners")
    assert written.code == 0, written.err
    assert "✓ created .github/CODEOWNERS" in written.err
    assert "+/models/breast-cancer/        @acme/clinical-ml @mchen" in written.out
    assert (git_repo / CODEOWNERS).read_text() == (ROOT / CODEOWNERS).read_text()
    assert oct((git_repo / CODEOWNERS).stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in (git_repo / ".github").iterdir()) == ["CODEOWNERS"]
    assert git(git_repo, "status", "--porcelain") == "?? .github/"

    check = cli("--repo", git_repo, "codeowners", "--check")
    assert (check.code, check.out) == (0, "")
    assert "✓ .github/CODEOWNERS is current" in check.err


def test_a_second_run_writes_nothing(cli, repo: Path) -> None:
    """When the file is current it is left untouched, and the command says so."""
    assert cli("--repo", repo, "codeowners").code == 0
    before = (repo / CODEOWNERS).stat().st_mtime_ns
    again = cli("--repo", repo, "codeowners")
    assert again.code == 0
    assert "is current; nothing written" in again.err
    assert (repo / CODEOWNERS).stat().st_mtime_ns == before


def test_json_reports_path_and_whether_the_file_is_current(cli, repo: Path) -> None:
    """--json prints {path, current}; the exit code still says stale (1) or current (0)."""
    stale = cli("--repo", repo, "codeowners", "--check", "--json")
    assert stale.code == 1
    assert json.loads(stale.out) == {"path": CODEOWNERS, "current": False}
    wrote = cli("--repo", repo, "codeowners", "--json")
    assert json.loads(wrote.out) == {"path": CODEOWNERS, "current": False, "written": True}
    current = cli("--repo", repo, "codeowners", "--check", "--json")
    assert current.code == 0
    assert json.loads(current.out) == {"path": CODEOWNERS, "current": True}


def test_a_new_model_makes_the_check_fail_until_the_command_runs(cli, git_repo: Path) -> None:
    """`mlops new` does not touch CODEOWNERS: the check fails with a diff until regenerated."""
    assert cli("--repo", git_repo, "codeowners").code == 0
    commit_all(git_repo, "codeowners")
    created = cli("--repo", git_repo, "new", "churn", "--language", "python", "--owner", "@mkt")
    assert created.code == 0, created.err

    stale = cli("--repo", git_repo, "codeowners", "--check")
    assert stale.code == 1
    assert f"+{'/models/churn/':<30}@mkt\n" in stale.out
    assert stale.out.startswith("--- a/.github/CODEOWNERS\n+++ b/.github/CODEOWNERS\n")
    assert "error: .github/CODEOWNERS is out of date with the model owners" in stale.err
    assert "hint: run `mlops codeowners`" in stale.err
    assert git(git_repo, "status", "--porcelain", CODEOWNERS) == ""

    updated = cli("--repo", git_repo, "codeowners")
    assert "✓ updated .github/CODEOWNERS: 1 line(s) added, 0 removed" in updated.err
    assert cli("--repo", git_repo, "codeowners", "--check").code == 0


def test_changed_owners_show_as_a_diff(cli, repo: Path) -> None:
    """Replacing a model's owners changes exactly its line."""
    assert cli("--repo", repo, "codeowners").code == 0
    set_owners(repo, "fuel-efficiency", 'owners:\n  - "@acme/fleet"\n  - "@dlee"\n')
    result = cli("--repo", repo, "codeowners", "--check")
    assert result.code == 1
    changed = [line for line in result.out.splitlines() if line[:1] in "+-"][2:]
    assert changed == [
        "-/models/fuel-efficiency/      @acme/procurement-analytics",
        "+/models/fuel-efficiency/      @acme/fleet @dlee",
    ]


def test_a_bad_owner_in_a_manifest_names_the_file(cli, repo: Path) -> None:
    """An owner that is not @user or @org/team fails, naming file and line; nothing is written."""
    set_owners(repo, "breast-cancer", "owners:\n  - alice\n")
    result = cli("--repo", repo, "codeowners")
    assert result.code == 1
    manifest = (repo / "models/breast-cancer/model.yaml").read_text().splitlines()
    line = manifest.index("  - alice") + 1
    assert f"models/breast-cancer/model.yaml:{line}:5: $.owners[0]:" in result.err
    assert (
        "error: cannot generate .github/CODEOWNERS: models/breast-cancer/model.yaml failed to "
        "load or validate" in result.err
    )
    assert not (repo / CODEOWNERS).exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("owners: [unclosed\n", "models/iris/model.yaml:2:1: $: invalid YAML"),
        ("", "models/iris/model.yaml:1:1: $: file is empty"),
        ("schema_version: 1\nname: iris\n", "models/iris/model.yaml:1:1: $: missing"),
    ],
)
def test_an_unreadable_or_invalid_manifest_names_the_file(
    cli, repo: Path, content: str, expected: str
) -> None:
    """Manifests that do not parse or validate stop the command, named in the error."""
    (repo / "models/iris").mkdir()
    (repo / "models/iris/model.yaml").write_text(content)
    for args in ((), ("--check",)):
        result = cli("--repo", repo, "codeowners", *args)
        assert result.code == 1
        assert expected in result.err
        assert "error: cannot generate .github/CODEOWNERS: models/iris/model.yaml" in result.err
    assert not (repo / CODEOWNERS).exists()


def test_a_model_folder_without_a_manifest_is_refused(cli, repo: Path) -> None:
    """A folder under models/ with no model.yaml is named, not skipped silently."""
    (repo / "models/empty").mkdir()
    result = cli("--repo", repo, "codeowners")
    assert result.code == 1
    assert "models/empty/model.yaml: $: file not found" in result.err


def test_an_invalid_platform_policy_names_the_file(cli, repo: Path) -> None:
    """Platform owners must be GitHub users or teams too."""
    policy = repo / "policies/platform.yaml"
    policy.write_text(policy.read_text().replace('"@acme/ml-platform"', "ml-platform"))
    result = cli("--repo", repo, "codeowners")
    assert result.code == 1
    assert "policies/platform.yaml:" in result.err
    assert "cannot generate .github/CODEOWNERS: policies/platform.yaml" in result.err


def test_a_gitlab_section_in_the_existing_file_is_named_by_line(cli, repo: Path) -> None:
    """The check names lines GitHub would refuse; regenerating replaces them and says so."""
    assert cli("--repo", repo, "codeowners").code == 0
    path = repo / CODEOWNERS
    path.write_text("[Models]\n" + path.read_text())
    check = cli("--repo", repo, "codeowners", "--check")
    assert check.code == 1
    assert '.github/CODEOWNERS:1: "[Models]" is a GitLab section header' in check.err
    fixed = cli("--repo", repo, "codeowners")
    assert fixed.code == 0
    assert "replaced a line GitHub refused: .github/CODEOWNERS:1:" in fixed.err
    assert cli("--repo", repo, "codeowners", "--check").code == 0


def test_platform_owners_and_shared_paths_come_from_the_platform_policy(cli, repo: Path) -> None:
    """Every platform line follows policies/platform.yaml, including extra shared paths."""
    policy = repo / "policies/platform.yaml"
    text = policy.read_text().replace('"@acme/ml-platform"', '"@acme/platform"')
    policy.write_text(text + "  - scripts/\n")
    assert cli("--repo", repo, "codeowners").code == 0
    lines = (repo / CODEOWNERS).read_text().splitlines()
    platform = [line.split() for line in lines if line.endswith("@acme/platform")]
    assert [p[0] for p in platform] == [
        "*",
        "/policies/",
        "/registry.yaml",
        "/.github/",
        "/src/",
        "/pyproject.toml",
        "/scripts/",
    ]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is replaced in one step: a failure mid-write changes nothing."""
    (repo / ".github").mkdir()
    (repo / CODEOWNERS).write_text("* @old\n")

    def broken(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken)
    result = cli("--repo", repo, "codeowners")
    assert result.code == 2
    assert "disk full" in result.err
    assert (repo / CODEOWNERS).read_text() == "* @old\n"
    assert [p.name for p in (repo / ".github").iterdir()] == ["CODEOWNERS"]


def test_it_notes_a_root_codeowners_that_github_will_now_ignore(cli, repo: Path) -> None:
    """GitHub reads .github/CODEOWNERS first; a root CODEOWNERS then stops counting."""
    (repo / "CODEOWNERS").write_text("* @someone\n")
    result = cli("--repo", repo, "codeowners")
    assert result.code == 0
    assert "note: GitHub now ignores CODEOWNERS" in result.err


def test_in_actions_a_stale_file_is_annotated_and_json_stays_clean(
    cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In GitHub Actions the stale file gets an annotation; with --json it goes to stderr."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("--repo", repo, "codeowners", "--check", "--json")
    assert result.code == 1
    assert json.loads(result.out) == {"path": CODEOWNERS, "current": False}
    assert "::error file=.github/CODEOWNERS,title=mlops codeowners::" in result.err
