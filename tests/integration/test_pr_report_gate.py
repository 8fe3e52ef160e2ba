"""`mlops report` and `mlops gate` against the local GitHub API server and a real git clone.

Every test's server checks each request and response against GitHub's OpenAPI description
(the `gh` fixture fails the test on any violation). The evaluation records are built with the
same policy core `mlops evaluate` uses; evaluate itself is tested with real models elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from evaluations import write_evaluation
from support import commit_all, git, make_repository

from mlops.testing.github_seed import approve, open_pull_request, passing_check_run
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
MODEL = "breast-cancer"
BOT = "ghs_bot"  # an installation token, like the workflow's GITHUB_TOKEN


@pytest.fixture
def gh(gh: GitHubServer) -> GitHubServer:
    """The server with the bot's and mchen's tokens, the users and acme's clinical-ml team."""
    gh.add_token(BOT, login="github-actions[bot]", can_read_org=False)
    gh.add_token("pat", login="mchen")
    for login in ("alice", "mchen", "carol", "platform-lead"):
        gh.add_user(login)
    gh.add_team("acme", "clinical-ml", members=["carol"])
    return gh


@pytest.fixture
def pr(tmp_path: Path, gh: GitHubServer, monkeypatch: pytest.MonkeyPatch, cli) -> dict[str, Any]:
    """A clone with main and a branch changing breast-cancer, and the pull request on the server."""
    root = make_repository(tmp_path / "repo", (MODEL, "fuel-efficiency"))
    assert cli("--repo", root, "codeowners").code == 0
    base = commit_all(root, "owners")
    git(root, "checkout", "-q", "-b", "tune")
    params = root / f"models/{MODEL}/params.yaml"
    params.write_text(params.read_text().replace("c: 1.0", "c: 0.5"))
    card = root / f"models/{MODEL}/MODEL_CARD.md"
    card.write_text((card.read_text() if card.exists() else "") + "C is 0.5 now.\n")
    head = commit_all(root, "tune C")
    number = open_pull_request(
        gh, REPO, author="alice", branch="tune", base=base, head=head,
        files=[(f"models/{MODEL}/params.yaml", "modified"),
               (f"models/{MODEL}/MODEL_CARD.md", "added")],
    )  # fmt: skip
    for key, value in {
        "GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": BOT,
        "MLOPS_GITHUB_THROTTLE": "off",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    return {"root": root, "base": base, "head": head, "number": number}


def report(cli, pr: dict[str, Any], *args: str) -> Any:
    return cli("--repo", pr["root"], "report", "--pr", str(pr["number"]), *args)


def test_it_keeps_exactly_one_report_comment_across_runs(gh: GitHubServer, pr, cli) -> None:
    """Two runs leave one comment (found by its marker, edited in place) and one status."""
    write_evaluation(pr["root"], MODEL, 0.99)
    first = report(cli, pr)
    assert first.code == 0, first.err
    second = report(cli, pr)
    assert second.code == 0, second.err
    (comment,) = gh.comments(REPO, pr["number"])
    assert comment["body"].startswith("<!-- mlops-report -->")
    assert f"`{MODEL}`: candidate v3 passes every gate" in comment["body"]
    assert "| **roc_auc** | — | 0.99 | — | ≥ 0.97 |" in comment["body"]
    assert "No production version yet" in comment["body"]
    assert "+C is 0.5 now." in comment["body"]  # the card diff against the base
    statuses = [s for s in gh.statuses(REPO, pr["head"]) if s["context"] == f"mlops/{MODEL}"]
    assert {s["state"] for s in statuses} == {"success"}
    (check,) = gh.check_runs(REPO, pr["head"])
    assert (check["name"], check["conclusion"]) == (f"mlops: {MODEL}", "success")


def test_a_blocked_model_gets_a_failing_status(gh: GitHubServer, pr, cli) -> None:
    """A candidate below its threshold: failure status and a red section with the reason."""
    write_evaluation(pr["root"], MODEL, 0.9)
    assert report(cli, pr).code == 0
    (status,) = [s for s in gh.statuses(REPO, pr["head"]) if s["context"] == f"mlops/{MODEL}"]
    assert status["state"] == "failure"
    assert "blocked by absolute" in status["description"]
    (comment,) = gh.comments(REPO, pr["number"])
    assert "roc_auc 0.9 is below the minimum 0.97" in comment["body"]


def test_reports_of_separate_jobs_converge_on_one_comment(gh: GitHubServer, pr, cli) -> None:
    """Matrix jobs each report one model; the comment ends up holding both."""
    write_evaluation(pr["root"], MODEL, 0.99)
    write_evaluation(pr["root"], "fuel-efficiency", 0.99)
    assert report(cli, pr, "--model", MODEL).code == 0
    assert report(cli, pr, "--model", "fuel-efficiency").code == 0
    (comment,) = gh.comments(REPO, pr["number"])
    assert f"`{MODEL}`" in comment["body"] and "`fuel-efficiency`" in comment["body"]


def test_a_fork_pull_request_is_reported_in_the_summary_only(
    gh: GitHubServer, pr, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the read-only token of a fork's pull request nothing is written to GitHub, the
    job summary still has the report, and it says what was skipped."""
    gh.add_token("ro", login="github-actions[bot]", read_only=True)
    monkeypatch.setenv("GITHUB_TOKEN", "ro")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    number = gh.add_pull_request(
        REPO, author="alice", head_ref="fork-tune", head_sha=pr["head"], base_sha=pr["base"],
        head_repo="alice/models",
    )  # fmt: skip
    write_evaluation(pr["root"], MODEL, 0.99)
    result = cli("--repo", pr["root"], "report", "--pr", str(number))
    assert result.code == 0, result.err
    assert gh.comments(REPO, number) == []
    text = summary.read_text()
    assert "pull request from a fork, read-only token" in text
    assert "trained and evaluated in a throw-away tracking store" in text
    assert "no comparison with production was possible" in text


def test_report_without_an_evaluation_names_the_missing_step(pr, cli) -> None:
    result = report(cli, pr, "--model", MODEL)
    assert result.code == 2
    assert f"run `mlops evaluate {MODEL}` first" in result.err


def test_a_corrupt_evaluation_record_is_refused(pr, cli, gh: GitHubServer) -> None:
    folder = pr["root"] / ".mlops" / "evaluations"
    folder.mkdir(parents=True)
    (folder / f"{MODEL}.json").write_text("{not json")
    result = report(cli, pr)
    assert result.code == 1
    assert f"{MODEL}.json: not an evaluation record" in result.err
    assert gh.comments(REPO, pr["number"]) == []


def gate(cli, pr: dict[str, Any]) -> Any:
    return cli("--repo", pr["root"], "gate", "--pr", str(pr["number"]), "--json")


def test_the_gate_refuses_a_pull_request_nobody_approved(gh: GitHubServer, pr, cli) -> None:
    """No approval and no evaluation at the head: exit 1 naming both."""
    result = gate(cli, pr)
    assert result.code == 1
    decision = json.loads(result.out)
    assert not decision["passed"]
    assert decision["policy"][MODEL]["reason"].startswith("not evaluated at the head commit")
    assert "may not merge yet" in result.err


def test_the_gate_passes_with_an_owner_approval_and_passing_gates(
    gh: GitHubServer, pr, cli
) -> None:
    """An owner approved the head commit and the model's check run passed: exit 0."""
    write_evaluation(pr["root"], MODEL, 0.99)
    assert report(cli, pr).code == 0
    approve(gh, REPO, pr["number"], "mchen")
    result = gate(cli, pr)
    assert result.code == 0, result.err
    decision = json.loads(result.out)
    assert decision["approvals"]["approvers"] == ["@mchen"]
    assert decision["policy"][MODEL]["passed"]


def test_the_gate_refuses_a_stale_approval(gh: GitHubServer, pr, cli) -> None:
    """An approval given before the last push does not count."""
    write_evaluation(pr["root"], MODEL, 0.99)
    approve(gh, REPO, pr["number"], "mchen")
    root = pr["root"]
    (root / f"models/{MODEL}/notes.md").write_text("one more change\n")
    new_head = commit_all(root, "more")
    gh.add_commit(REPO, new_head, parents=(pr["head"],), branch="tune")
    gh.push(REPO, pr["number"], head_sha=new_head)
    assert report(cli, pr).code == 0
    result = gate(cli, pr)
    assert result.code == 1
    decision = json.loads(result.out)
    (model,) = decision["approvals"]["models"]
    assert not model["approved"]
    assert any("stale" in reason or "before the last push" in reason
               for reason in [*model["reasons"], *decision["approvals"]["notes"]])  # fmt: skip


def test_the_author_cannot_approve_their_own_change(gh: GitHubServer, pr, cli) -> None:
    """The PR author's approval never counts, even when the author is an owner."""
    write_evaluation(pr["root"], MODEL, 0.99)
    assert report(cli, pr).code == 0
    approve(gh, REPO, pr["number"], "alice")
    assert gate(cli, pr).code == 1


def test_a_failing_policy_gate_blocks_despite_approval(gh: GitHubServer, pr, cli) -> None:
    """An owner approved, but the model's enforced gate failed: exit 1."""
    write_evaluation(pr["root"], MODEL, 0.9)
    assert report(cli, pr).code == 0
    approve(gh, REPO, pr["number"], "mchen")
    result = gate(cli, pr)
    assert result.code == 1
    assert "policy gates failed (failure)" in result.err


def test_team_owners_are_expanded_only_when_the_token_can_read_them(
    gh: GitHubServer, pr, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team member's approval counts when MLOPS_TEAMS_TOKEN may read teams (the workflow's
    own token stays the one for everything else); the workflow's token cannot, and the gate
    says so and what to set instead of guessing."""
    write_evaluation(pr["root"], MODEL, 0.99)
    assert report(cli, pr).code == 0
    approve(gh, REPO, pr["number"], "carol")
    refused = gate(cli, pr)
    assert refused.code == 1
    notes = json.loads(refused.out)["approvals"]["notes"]
    assert any("cannot read team membership (set MLOPS_TEAMS_TOKEN" in note for note in notes)
    monkeypatch.setenv("MLOPS_TEAMS_TOKEN", "pat")
    passed = gate(cli, pr)
    assert passed.code == 0, passed.err
    assert "approved by @carol (member of @acme/clinical-ml)" in passed.out


def test_a_check_run_from_another_app_does_not_satisfy_the_gate(
    gh: GitHubServer, pr, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone who may write check runs can name one `mlops: <model>`: the gate counts only the
    app the base branch's platform policy names (github-actions), lists the impostor in its
    notes, and the report's comment does not show the impostor's text."""
    gh.add_token("ghs_other", login="helpful-bot[bot]", app="helpful-bot")
    gh.add_review(REPO, pr["number"], user="mchen", state="APPROVED")
    from mlops.testing.github_fixtures import github_client

    github_client(gh, "ghs_other").get_repo(REPO).create_check_run(
        name=f"mlops: {MODEL}", head_sha=pr["head"], status="completed", conclusion="success",
        output={"title": "passes every gate", "summary": "IMPOSTOR passes every gate"},
    )  # fmt: skip
    refused = gate(cli, pr)
    assert refused.code == 1, refused.err
    decision = json.loads(refused.out)
    assert decision["policy"][MODEL] == {
        "passed": False,
        "reason": "not evaluated at the head commit (no `mlops report` check run by "
        "github-actions)",
    }
    assert decision["notes"] == [
        f"ignored check run 'mlops: {MODEL}' by helpful-bot: only github-actions on the head "
        "commit counts"
    ]
    write_evaluation(pr["root"], MODEL, 0.99)
    assert report(cli, pr).code == 0  # the workflow's own token: github-actions
    (comment,) = gh.comments(REPO, pr["number"])
    assert "IMPOSTOR" not in comment["body"]
    assert gate(cli, pr).code == 0


def test_the_seeded_passing_check_run_is_the_one_report_leaves(gh: GitHubServer, pr, cli) -> None:
    """`passing_check_run`, which benchmarks and tests seed instead of running `mlops report`,
    has the name, state and app of the check run report leaves on a passing head."""
    write_evaluation(pr["root"], MODEL, 0.99)
    assert report(cli, pr).code == 0
    (real,) = gh.check_runs(REPO, pr["head"])
    passing_check_run(gh, REPO, MODEL, pr["base"])
    (seeded,) = gh.check_runs(REPO, pr["base"])
    fields = ("name", "status", "conclusion", "app")
    assert {k: seeded[k] for k in fields} == {k: real[k] for k in fields}


def test_the_gate_passes_on_the_seeded_check_run_and_approval(gh: GitHubServer, pr, cli) -> None:
    """Seeded as the gate benchmark seeds it (no report run): the gate passes; without the
    check run it refuses, naming the missing evaluation."""
    approve(gh, REPO, pr["number"], "mchen")
    refused = gate(cli, pr)
    assert refused.code == 1
    reason = json.loads(refused.out)["policy"][MODEL]["reason"]
    assert reason.startswith("not evaluated at the head commit")
    passing_check_run(gh, REPO, MODEL, pr["head"])
    result = gate(cli, pr)
    assert result.code == 0, result.err
    assert json.loads(result.out)["policy"][MODEL]["passed"]


def test_the_report_links_the_evaluation_plot(gh: GitHubServer, pr, cli) -> None:
    """The plot's MLflow artifact is linked (UI page and artifact URI) in the comment and in
    the model's check run, whose output also shows the image the tracking server serves; the
    server accepts what is sent under GitHub's OpenAPI contract."""
    write_evaluation(pr["root"], MODEL, 0.99)
    path = pr["root"] / f".mlops/evaluations/{MODEL}.json"
    record = json.loads(path.read_text())
    page = (f"https://mlflow.example/#/experiments/1/runs/{'a' * 32}/artifacts/"
            f"evaluation/{MODEL}-vs-production.png")  # fmt: skip
    uri = f"mlflow-artifacts:/1/{'a' * 32}/artifacts/evaluation/{MODEL}-vs-production.png"
    image = (f"https://mlflow.example/get-artifact?path=evaluation/{MODEL}-vs-production.png"
             f"&run_uuid={'a' * 32}")  # fmt: skip
    record["plot"] = {"path": f".mlops/evaluations/{MODEL}.png", "warning": None,
                      "artifact": f"evaluation/{MODEL}-vs-production.png",
                      "artifact_uri": uri, "artifact_url": page, "image_url": image}  # fmt: skip
    path.write_text(json.dumps(record))
    result = report(cli, pr)
    assert result.code == 0, result.err
    link = f"[`evaluation/{MODEL}-vs-production.png`]({page}) (MLflow artifact `{uri}`)"
    (comment,) = gh.comments(REPO, pr["number"])
    assert link in comment["body"]
    (check,) = gh.check_runs(REPO, pr["head"])
    assert link in check["summary"]
    (run,) = [r for repo in gh.data.repositories if repo.full_name == REPO
              for r in repo.check_runs]  # fmt: skip
    assert [i["image_url"] for i in run.images] == [image]
