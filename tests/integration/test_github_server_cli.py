"""The local GitHub API server as a separate process: seed file in, state dump out."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops.testing.github_fixtures import github_client, github_server
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
HEAD = "b" * 40
SEED: dict[str, Any] = {
    "users": [{"login": "mchen", "name": "M. Chen"}],
    "teams": [{"org": "acme", "slug": "clinical-ml", "members": ["mchen"]}],
    "tokens": [
        {"token": "bot", "login": "github-actions[bot]", "can_read_org": False},
        {"token": "pat", "login": "mchen"},
    ],
    "repositories": [
        {
            "full_name": REPO,
            "branches": {"main": "a" * 40},
            "files": [{"ref": "main", "path": ".github/CODEOWNERS", "content": "* @mchen\n"}],
            "issues": [
                {
                    "number": 7,
                    "title": "Retrain model a",
                    "user": "alice",
                    "labels": ["retrain"],
                    "pull": {
                        "head_ref": "feat",
                        "head_sha": HEAD,
                        "base_ref": "main",
                        "base_sha": "a" * 40,
                        "files": [{"filename": "models/a/params.yaml"}],
                        "reviews": [{"user": "mchen", "state": "APPROVED"}],
                    },
                }
            ],
        }
    ],
}


def _serve(seed: Path, dump: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "mlops.testing.github_server", "--port", "0"]
    command += ["--seed", str(seed), "--dump", str(dump)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_seed_serve_dump_round_trip(tmp_path: Path) -> None:
    """A server process loads a seed, serves PyGithub, and dumps its state on SIGTERM."""
    seed, dump = tmp_path / "seed.json", tmp_path / "state.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    process, api_url = _serve(seed, dump)
    try:
        assert api_url.startswith("http://127.0.0.1:") and api_url.endswith("/api/v3")
        client = github_client(api_url, "bot")
        pr = client.get_repo(REPO).get_pull(7)
        assert [(r.user.login, r.commit_id) for r in pr.get_reviews()] == [("mchen", HEAD)]
        pr.create_issue_comment("report")
        content = client.get_repo(REPO).get_contents(".github/CODEOWNERS", ref="main")
        assert not isinstance(content, list) and content.decoded_content == b"* @mchen\n"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    state = json.loads(dump.read_text(encoding="utf-8"))
    (issue,) = state["repositories"][0]["issues"]
    assert [(c["user"], c["body"]) for c in issue["comments"]] == [
        ("github-actions[bot]", "report")
    ]
    assert state["violations"] == []
    assert ["POST", f"/repos/{REPO}/issues/7/comments", 201] in [
        [e["method"], e["path"], e["status"]] for e in state["log"]
    ]
    assert not list(tmp_path.glob(".state.json.*")), "the dump is written through a temp file"


def test_dump_loads_back_and_continues(tmp_path: Path) -> None:
    """A dumped state loads into a new server with the same records and fresh, larger ids."""
    path = tmp_path / "state.json"
    with github_server() as gh:
        gh.add_token("bot", login="github-actions[bot]")
        gh.add_repository(REPO)
        number = gh.add_pull_request(REPO, author="alice", head_ref="feat", head_sha=HEAD)
        first = github_client(gh, "bot").get_repo(REPO).get_pull(number)
        first.create_issue_comment("one")
        gh.save(path)
        saved = gh.to_json()
    with GitHubServer.load(path) as again:
        assert again.to_json() == saved
        pr = github_client(again, "bot").get_repo(REPO).get_pull(number)
        created = pr.create_issue_comment("two")
        assert [c["body"] for c in again.comments(REPO, number)] == ["one", "two"]
        assert created.id > again.comments(REPO, number)[0]["id"]
    assert again.violations == []


def test_seed_with_a_typo_is_refused(tmp_path: Path) -> None:
    """An unknown key in a seed file is an error, not silently ignored."""
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"users": [{"login": "x", "nmae": "typo"}]}), encoding="utf-8")
    with pytest.raises(ValueError, match="User: unknown keys \\['nmae'\\]"):
        GitHubServer.load(seed)


def test_seed_missing_a_required_key_is_refused(tmp_path: Path) -> None:
    """A record without an identifying key (an issue without a title) is an error."""
    seed = tmp_path / "seed.json"
    issue = {"number": 1, "user": "alice"}
    seed.write_text(json.dumps({"repositories": [{"full_name": REPO, "issues": [issue]}]}))
    with pytest.raises(ValueError, match="Issue: missing keys \\['title'\\]"):
        GitHubServer.load(seed)
