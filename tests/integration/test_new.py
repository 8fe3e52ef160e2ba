"""`mlops new`: a model folder from the template, valid as created, or nothing at all."""

from __future__ import annotations

from pathlib import Path

import pytest

LANGUAGE_FILES = {
    "python": {"train.py", "predict.py"},
    "r": {"train.R", "predict.R"},
    "julia": {"train.jl", "predict.jl"},
}


@pytest.mark.parametrize("language", ["python", "r", "julia"])
def test_a_new_model_passes_validate_as_created(cli, repo: Path, language: str) -> None:
    """The rendered folder validates (TODOs are warnings) and has only its language's files."""
    result = cli("--repo", repo, "new", "churn", "--language", language, "--owner", "@acme/mkt")
    assert result.code == 0, result.err
    folder = repo / "models/churn"
    files = {p.name for p in folder.iterdir()}
    assert {"model.yaml", "params.yaml"} | LANGUAGE_FILES[language] <= files
    others = set().union(*(v for k, v in LANGUAGE_FILES.items() if k != language))
    assert not files & others
    check = cli("--repo", repo, "validate")
    assert check.code == 0, check.out + check.err
    assert any("warning: still holds a TODO" in line for line in check.lines)
    listing = cli("--repo", repo, "show", "churn", "--json")
    assert '"owners": [\n    "@acme/mkt"\n  ]' in listing.out


def test_owners_default_to_the_platform_owners(cli, repo: Path) -> None:
    """Without --owner the platform owners of policies/platform.yaml own the model."""
    assert cli("--repo", repo, "new", "churn", "--language", "python").code == 0
    assert '  - "@acme/ml-platform"' in (repo / "models/churn/model.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_Name", "--language", "python"], "model name 'Bad_Name' is not DNS-safe"),
        (
            ["churn", "--language", "python", "--owner", "alice"],
            "owner 'alice' is not a GitHub user",
        ),
        (
            ["breast-cancer", "--language", "python"],
            "model 'breast-cancer' already exists at models/breast-cancer/",
        ),
    ],
)
def test_it_refuses_bad_names_owners_and_existing_models(
    cli, repo: Path, args: list[str], message: str
) -> None:
    """Refusals say why, exit non-zero and leave no folder behind."""
    before = sorted(p.name for p in (repo / "models").iterdir())
    result = cli("--repo", repo, "new", *args)
    assert result.code != 0
    assert message in result.err
    assert sorted(p.name for p in (repo / "models").iterdir()) == before


def test_an_unknown_language_is_a_usage_error(cli, repo: Path) -> None:
    """--language accepts python, r and julia only."""
    result = cli("--repo", repo, "new", "churn", "--language", "go")
    assert result.code == 2
    assert "'go' is not one of 'python', 'r', 'julia'" in result.err


def test_nothing_is_left_behind_when_rendering_fails(
    cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure mid-render removes the staging folder; models/ is unchanged."""
    from mlops.adapters import templates

    def broken(template: Path, destination: Path, answers: dict) -> list[Path]:
        (destination / "model.yaml").write_text("half written")
        raise OSError("disk full")

    monkeypatch.setattr("mlops.flows.scaffold.render", broken)
    assert templates.render is not broken
    before = sorted(p.name for p in (repo / "models").iterdir())
    result = cli("--repo", repo, "new", "churn", "--language", "python")
    assert result.code == 2
    assert "unexpected OSError: disk full" in result.err
    assert sorted(p.name for p in (repo / "models").iterdir()) == before
