"""`mlops plan` on real git repositories: which models a change touches, and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import commit_all, git


def touch(path: Path, line: str = "# changed\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(line)


def plan_json(cli, root: Path, *args: str) -> dict:
    result = cli("--repo", root, "plan", "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_a_change_in_one_model_touches_only_that_model(cli, git_repo: Path) -> None:
    """Files changed in models/<name>/ touch exactly that model, with its language."""
    git(git_repo, "checkout", "-q", "-b", "feature")
    touch(git_repo / "models/fuel-efficiency/train.R")
    commit_all(git_repo, "retune")
    plan = plan_json(cli, git_repo, "--base", "main")
    assert [(m["name"], m["change"], m["language"]) for m in plan["models"]] == [
        ("fuel-efficiency", "modified", "r")
    ]
    assert plan["matrix"] == {"include": [{"model": "fuel-efficiency", "language": "r"}]}
    assert plan["all_models"] is False


def test_it_compares_with_the_merge_base_like_a_pull_request(cli, git_repo: Path) -> None:
    """Commits that landed on the base after the branch point do not count as the branch's."""
    git(git_repo, "checkout", "-q", "-b", "feature")
    touch(git_repo / "models/breast-cancer/train.py")
    commit_all(git_repo, "feature work")
    git(git_repo, "checkout", "-q", "main")
    touch(git_repo / "models/disease-progression/train.jl")
    commit_all(git_repo, "someone else's work on main")
    plan = plan_json(cli, git_repo, "--base", "main", "--head", "feature")
    assert [m["name"] for m in plan["models"]] == ["breast-cancer"]


def test_registry_changes_touch_the_models_whose_entry_changed(cli, git_repo: Path) -> None:
    """A stage change in registry.yaml touches that model only, and says what changed."""
    git(git_repo, "checkout", "-q", "-b", "promote")
    registry = git_repo / "registry.yaml"
    text = registry.read_text()
    registry.write_text(
        text.replace(
            "  fuel-efficiency:\n    versions: {}\n    stages: {}",
            "  fuel-efficiency:\n    versions: {}\n    stages: {staging: '1'}",
        )
    )
    commit_all(git_repo, "promote")
    plan = plan_json(cli, git_repo, "--base", "main")
    assert [(m["name"], m["reasons"]) for m in plan["models"]] == [
        ("fuel-efficiency", ["registry stages changed"])
    ]


def test_a_shared_path_touches_every_model(cli, git_repo: Path) -> None:
    """Policies (a shared path in policies/platform.yaml) touch every model."""
    git(git_repo, "checkout", "-q", "-b", "policy")
    touch(git_repo / "policies/promotion.yaml")
    commit_all(git_repo, "policy")
    plan = plan_json(cli, git_repo, "--base", "main")
    assert plan["all_models"] is True
    assert [m["name"] for m in plan["models"]] == [
        "breast-cancer",
        "disease-progression",
        "fuel-efficiency",
    ]
    assert all(
        m["reasons"] == ["shared path changed: policies/promotion.yaml"] for m in plan["models"]
    )


def test_unrelated_files_touch_nothing(cli, git_repo: Path) -> None:
    """README or workflow edits train nothing; the table says so."""
    git(git_repo, "checkout", "-q", "-b", "docs")
    touch(git_repo / "README.md")
    commit_all(git_repo, "docs")
    assert plan_json(cli, git_repo, "--base", "main")["models"] == []
    result = cli("--repo", git_repo, "plan", "--base", "main")
    assert result.code == 0
    assert "No model is touched by 1 changed file(s)" in result.out


def test_added_and_removed_models(cli, git_repo: Path) -> None:
    """A new folder is 'added'; a deleted one is 'removed' and left out of the matrix."""
    git(git_repo, "checkout", "-q", "-b", "reshuffle")
    git(git_repo, "rm", "-q", "-r", "models/fuel-efficiency")
    new = git_repo / "models/churn"
    new.mkdir()
    (new / "model.yaml").write_text("language: python\n")
    commit_all(git_repo, "reshuffle")
    plan = plan_json(cli, git_repo, "--base", "main")
    assert [(m["name"], m["change"]) for m in plan["models"]] == [
        ("churn", "added"),
        ("fuel-efficiency", "removed"),
    ]
    assert plan["matrix"] == {"include": [{"model": "churn", "language": "python"}]}


def test_github_output(
    cli, git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--github-output writes the matrix, the model names and whether any model is touched."""
    output = tmp_path / "github_output"
    output.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    git(git_repo, "checkout", "-q", "-b", "feature")
    touch(git_repo / "models/breast-cancer/train.py")
    commit_all(git_repo, "work")
    assert cli("--repo", git_repo, "plan", "--base", "main", "--github-output").code == 0
    text = output.read_text()
    assert '{"include":[{"model":"breast-cancer","language":"python"}]}' in text
    assert "breast-cancer" in text.split("models<<", 1)[1]
    assert "any<<" in text and "\ntrue\n" in text


def test_unknown_base_is_a_clear_error(cli, git_repo: Path) -> None:
    """An unknown ref names itself and suggests fetching it."""
    result = cli("--repo", git_repo, "plan", "--base", "origin/nope")
    assert result.code == 1
    assert "error: unknown git revision 'origin/nope'" in result.err
    assert "git fetch" in result.err


def test_a_broken_registry_at_head_is_reported(cli, git_repo: Path) -> None:
    """A registry that does not parse at HEAD stops the plan with its diagnostics."""
    git(git_repo, "checkout", "-q", "-b", "broken")
    (git_repo / "registry.yaml").write_text("models: [\n")
    commit_all(git_repo, "break")
    result = cli("--repo", git_repo, "plan", "--base", "main")
    assert result.code == 1
    assert "registry.yaml@" in result.err and "invalid YAML" in result.err
    assert "Traceback" not in result.err


def test_outside_a_git_repository(cli, repo: Path) -> None:
    """Without git history the error says what failed, with no traceback."""
    result = cli("--repo", repo, "plan", "--base", "main")
    assert result.code == 1
    assert result.err.startswith("error: unknown git revision 'HEAD'")
