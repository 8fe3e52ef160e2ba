"""`mlops history`: a model's stage changes from the main line of registry.yaml, with the pull
request, approvals, gate verdicts and deployments GitHub holds for each, and what served when.

A real git repository holds main with two merged pull requests (a first promotion, then a
canary) and a revert pushed straight to main; the local GitHub API server holds the same
pull requests, their reviews and check runs, and the deployments `mlops reconcile` would have
recorded, and checks every request against GitHub's OpenAPI description.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from registry_history import dated, github_env, merged_pull, repository_on_github
from support import commit_all, git

from mlops.adapters.github import GitHub
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
MODEL = "breast-cancer"
BOT = "ghs_bot"
DAYS = {"base": "2026-03-01T10:00:00Z", "first": "2026-03-02T10:00:00Z",
        "canary": "2026-03-03T10:00:00Z", "revert": "2026-03-04T10:00:00Z"}  # fmt: skip


def deployed(commit: str, environment: str, state: str, weights: dict[str, int]) -> int:
    """The GitHub deployment `mlops reconcile` records (the server's clock gives each event a
    second of its own)."""
    return GitHub(REPO, BOT).record_deployment(
        commit, environment, state, "test", "http://127.0.0.1:8700", {"models": {MODEL: weights}}
    )


@pytest.fixture
def story(tmp_path: Path, gh: GitHubServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    github_env(gh, monkeypatch, REPO, BOT)
    dated(monkeypatch, DAYS["base"])
    root = repository_on_github(gh, REPO, tmp_path / "repo", MODEL)

    # pull requests by alice, approved by mchen with passing gates, each on its day
    first = merged_pull(gh, REPO, root, MODEL, 1, {"staging": "1", "production": "1"},
                        branch="first", from_branch=True, when=DAYS["first"],
                        monkeypatch=monkeypatch, date_branch=True, gates_pass=True)  # fmt: skip
    canary = merged_pull(gh, REPO, root, MODEL, 2, {"staging": "2", "production": "1",
                                                    "canary": {"version": "2", "weight": 10}},
                         branch="canary", from_branch=True, when=DAYS["canary"],
                         monkeypatch=monkeypatch, date_branch=True, gates_pass=True)  # fmt: skip
    dated(monkeypatch, DAYS["revert"])
    git(root, "revert", "--no-edit", "-m", "1", canary)
    revert = git(root, "rev-parse", "HEAD")
    gh.add_commit(REPO, revert, parents=(canary,), branch="main")
    ids = {"first": deployed(first, "production", "success", {"v1": 100})}
    ids["staging"] = deployed(first, "staging", "success", {"v1": 100})
    ids["canary"] = deployed(canary, "production", "success", {"v1": 90, "v2": 10})
    ids["failed"] = deployed(revert, "production", "failure", {"v1": 100})
    ids["revert"] = deployed(revert, "production", "success", {"v1": 100})
    # the canary's success, by the server's clock (which may run ahead of this one)
    between = gh.deployment_statuses(REPO, ids["canary"])[0]["created_at"]
    return {"root": root, "first": first, "canary": canary, "revert": revert, "ids": ids,
            "between": between}  # fmt: skip


def history(cli, story: dict[str, Any], *args: str) -> Any:
    return cli("--repo", story["root"], "history", MODEL, *args)


def test_every_stage_change_with_its_pull_request_approvals_gates_and_deployments(
    cli, story
) -> None:
    """Three main-line commits changed what the model serves: the first promotion (staging
    and production), the canary, and the revert pushed without a pull request."""
    done = history(cli, story, "--json")
    assert done.code == 0, done.err
    found = json.loads(done.out)
    moves = [(c["environment"], c["before"], c["after"], c["commit"]) for c in found["changes"]]
    assert moves == [
        ("staging", None, {"v1": 100}, story["first"]),
        ("production", None, {"v1": 100}, story["first"]),
        ("staging", {"v1": 100}, {"v2": 100}, story["canary"]),
        ("production", {"v1": 100}, {"v1": 90, "v2": 10}, story["canary"]),
        ("staging", {"v2": 100}, {"v1": 100}, story["revert"]),
        ("production", {"v1": 90, "v2": 10}, {"v1": 100}, story["revert"]),
    ]
    first, canary, revert = found["changes"][1], found["changes"][3], found["changes"][5]
    assert first["time"] == DAYS["first"] and first["author"] == "Test Author"
    assert [(p["number"], p["author"], p["approved_by"]) for p in first["pull_requests"]] == [
        (1, "alice", ["mchen"])
    ]
    assert first["pull_requests"][0]["gates"] == [
        {"check": f"mlops: {MODEL}", "conclusion": "success"}
    ]
    assert [(d["id"], d["state"], d["serving"]) for d in canary["deployments"]] == [
        (story["ids"]["canary"], "success", {"v1": 90, "v2": 10})
    ]
    assert revert["pull_requests"] == []
    assert [(d["id"], d["state"]) for d in revert["deployments"]] == [
        (story["ids"]["failed"], "failure"),
        (story["ids"]["revert"], "success"),
    ]
    assert found["notes"] == []
    table = history(cli, story)
    assert table.code == 0 and "#2 by alice" in table.out and "v1 90% + v2 10%" in table.out


def test_one_environment(cli, story) -> None:
    found = json.loads(history(cli, story, "--env", "staging", "--json").out)
    assert [c["environment"] for c in found["changes"]] == ["staging"] * 3
    assert found["changes"][0]["deployments"][0]["id"] == story["ids"]["staging"]


def test_what_served_comes_from_the_deployments_recorded_by_then(cli, story) -> None:
    """Between the canary's deployment and the revert's, the canary split served; the failed
    deployment of the revert changed nothing; after the last one, v1 alone."""
    then = json.loads(history(cli, story, "--at", story["between"], "--json").out)
    assert then["serving"] == {"v1": 90, "v2": 10}
    assert then["source"].startswith(f"deployment {story['ids']['canary']} ")
    later = "2099-01-01T00:00:00Z"
    now = json.loads(history(cli, story, "--at", later, "--json").out)
    assert now["serving"] == {"v1": 100}
    assert now["source"].startswith(f"deployment {story['ids']['revert']} ")
    text = history(cli, story, "--at", later)
    assert text.code == 0 and f"{MODEL} in production at " in text.out and ": v1 (" in text.out


def test_before_any_deployment_what_served_is_the_desired_state(cli, story) -> None:
    """Before the first recorded deployment the answer is registry.yaml's, and says so."""
    found = json.loads(history(cli, story, "--at", "2026-03-03T12:00Z", "--json").out)
    assert found["serving"] == {"v1": 90, "v2": 10}
    assert found["since"] == DAYS["canary"]
    assert found["source"].startswith(f"registry.yaml at {story['canary'][:12]} (desired")
    staging = json.loads(history(cli, story, "--at", "2026-03-02T12:00Z", "--env", "staging",
                                 "--json").out)  # fmt: skip
    assert staging["serving"] == {"v1": 100} and staging["environment"] == "staging"
    empty = json.loads(history(cli, story, "--at", "2026-03-01T12:00Z", "--json").out)
    assert empty["serving"] is None


def test_a_time_before_the_model_existed_is_refused(cli, story) -> None:
    done = history(cli, story, "--at", "2026-02-01")
    assert done.code == 2
    assert f"{MODEL} did not exist at 2026-02-01T00:00:00Z" in done.err
    first = git(story["root"], "rev-list", "--max-parents=0", "HEAD")
    assert f"first appears in registry.yaml at {first[:12]}" in done.err


def test_a_time_that_is_not_one_and_an_unknown_model_are_refused(cli, story) -> None:
    bad = history(cli, story, "--at", "yesterday-ish")
    assert bad.code == 2 and "'yesterday-ish' is not a time: expected ISO 8601" in bad.err
    unknown = cli("--repo", story["root"], "history", "no-such-model")
    assert unknown.code == 2
    assert "no-such-model is not in the history of registry.yaml" in unknown.err


def test_without_github_the_history_comes_from_git_and_says_so(
    cli, story, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    done = history(cli, story, "--json")
    found = json.loads(done.out)
    assert len(found["changes"]) == 6
    assert all(c["pull_requests"] == [] and c["deployments"] == [] for c in found["changes"])
    assert found["notes"] == ["pull requests, approvals, gates and deployments not read:"
                              " set GITHUB_TOKEN and GITHUB_REPOSITORY (or --repository)"]  # fmt: skip


def test_a_registry_that_did_not_parse_at_some_commit_is_skipped_and_named(
    cli, story, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = story["root"]
    dated(monkeypatch, "2026-03-05T10:00:00Z")
    good = (root / "registry.yaml").read_text()
    (root / "registry.yaml").write_text("models: [unclosed\n")
    broken = commit_all(root, "a broken registry")
    (root / "registry.yaml").write_text(good)
    commit_all(root, "mended")
    monkeypatch.delenv("GITHUB_TOKEN")
    found = json.loads(history(cli, story, "--json").out)
    assert len(found["changes"]) == 6
    assert f"registry.yaml at {broken[:12]} does not parse: skipped" in found["notes"]
