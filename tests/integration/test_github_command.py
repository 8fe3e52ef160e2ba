"""`mlops github doctor` and `mlops github setup` against the local GitHub API server.

The repository is a scratch copy with this repository's workflows (which read the variable
DEPLOY_RUNNER and require the `mlops gate` check) plus one reading a secret. Every request and
response is checked against GitHub's OpenAPI description (the `gh` fixture).
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, Result, skeleton

from mlops.adapters.probes import free_port
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
ADMIN, WRITER = "admin-token", "writer-token"
WRITES = ("PUT", "POST", "PATCH", "DELETE")
NIGHTLY = """\
name: nightly
on:
  schedule:
    - cron: "0 3 * * *"
permissions: {}
jobs:
  score:
    runs-on: ubuntu-latest
    steps:
      - run: mlops predict fuel-efficiency --version 1 --input x.csv
        env:
          MLFLOW_TRACKING_PASSWORD: ${{ secrets.MLFLOW_TRACKING_PASSWORD }}
"""
PYPROJECT = """\
[tool.mlops.github]
variables = { DEPLOY_RUNNER = "mlops-deploy" }
optional = [
  "MLFLOW_TRACKING_USERNAME", "MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY", "MLOPS_DVC_ENDPOINT_URL", "MLOPS_DEPLOY_TARGET",
  "MLOPS_IMAGE_REGISTRY", "MLOPS_REGISTRY_USERNAME", "MLOPS_REGISTRY_PASSWORD",
  "MLOPS_SERVE_API_KEY", "SYSTEM_TEST_RUNNER", "BATCH_RUNNER", "AWS_ENDPOINT_URL_S3",
  "MLOPS_SMTP_PORT", "MLOPS_SMTP_FROM", "MLOPS_SMTP_STARTTLS", "MLOPS_SMTP_USER",
  "MLOPS_SMTP_PASSWORD", "MLOPS_SERVE_PII_KEY", "MLOPS_BOT_TOKEN", "MLOPS_PROMETHEUS_URL",
  "CATALOGUE_PAGES_BRANCH",
]
"""
BARE = [
    "main requires the merge gate's check",
    "main requires code-owner reviews",
    "environment staging",
    "environment production with required reviewers",
    "variable MLFLOW_TRACKING_URI",
    "variable MLOPS_DVC_REMOTE",
    "variable DEPLOY_RUNNER",
    "variable MLOPS_DEPLOY_DIR",
    "variable MLOPS_SMTP_HOST",  # monitor.yml: breast-cancer's e-mail alert channel
    "secret MLFLOW_TRACKING_PASSWORD",
    "secret MLOPS_TEAMS_TOKEN",
    "secret CARE_ANALYTICS_WEBHOOK",  # monitor.yml: disease-progression's webhook channel
    "online self-hosted runner labelled mlops-deploy",
]
Cli = Callable[..., Result]


@pytest.fixture
def gh(gh: GitHubServer, monkeypatch: pytest.MonkeyPatch) -> GitHubServer:
    """A bare repository acme/models (main exists, nothing else is set), its admin mchen and
    a writer alice, the platform team, and the environment the CLI reads GitHub from."""
    gh.add_team("acme", "ml-platform", members=["mchen"])
    gh.add_repository(REPO, collaborators={"mchen": "admin", "alice": "write"})
    gh.add_token(ADMIN, login="mchen")
    gh.add_token(WRITER, login="alice")
    for key, value in {"GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO,
                       "GITHUB_TOKEN": ADMIN, "MLOPS_GITHUB_THROTTLE": "off"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return gh


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repository with this repository's policies and workflows, one more workflow that
    reads a secret, and the DEPLOY_RUNNER value in [tool.mlops.github]."""
    root = skeleton(tmp_path / "repo")
    shutil.copytree(ROOT / ".github" / "workflows", root / ".github" / "workflows")
    (root / ".github" / "workflows" / "nightly.yml").write_text(NIGHTLY)
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


def _doctor(cli: Cli, root: Path) -> tuple[Result, dict[str, Any]]:
    result = cli("--repo", root, "github", "doctor", "--json")
    return result, json.loads(result.out)


def _missing(report: dict[str, Any]) -> list[str]:
    return [f["requirement"] for f in report["findings"] if f["required"] and f["ok"] is False]


def _writes(gh: GitHubServer) -> list[tuple[str, str, int]]:
    return [r for r in gh.requests if r[0] in WRITES]


def test_doctor_lists_everything_a_bare_repository_misses(gh: GitHubServer, root: Path,
                                                          cli: Cli) -> None:  # fmt: skip
    """Every missing setting is a line saying what to do, and doctor exits 1."""
    result, report = _doctor(cli, root)
    assert result.code == 1
    assert report["ok"] is False and report["repository"] == REPO
    assert _missing(report) == BARE
    assert all(f["fix"] != "nothing" for f in report["findings"] if f["ok"] is False)
    assert "error: 13 requirement(s) missing on acme/models" in result.err
    assert "`mlops github setup --apply` fixes 5 of them" in result.err
    table = cli("--repo", root, "github", "doctor")
    assert table.code == 1
    for requirement in BARE:
        assert requirement in table.out
    secret = next(
        f for f in report["findings"] if f["requirement"] == "secret MLFLOW_TRACKING_PASSWORD"
    )
    assert secret["fix"] == "a person sets it: `gh secret set MLFLOW_TRACKING_PASSWORD`"
    assert "a person sets it: `gh secret set" in table.out
    local = {f["requirement"]: f for f in report["findings"][-3:]}
    assert local["MLflow tracking server answers"]["ok"] is None
    assert local["DVC remote answers"]["detail"].startswith("not checked")
    assert local["image registry answers"]["detail"].startswith("not checked")
    assert _writes(gh) == []


def test_setup_prints_the_plan_and_changes_nothing(gh: GitHubServer, root: Path,
                                                   cli: Cli) -> None:  # fmt: skip
    """Without --apply, setup lists the changes and what a person must do, and writes
    nothing on GitHub."""
    result = cli("--repo", root, "github", "setup")
    assert result.code == 0, result.err
    assert "Plan (run with --apply to make these changes): acme/models" in result.out
    for line in ("branch protection main", "environment staging", "environment production",
                 "variable DEPLOY_RUNNER", "@acme/ml-platform"):  # fmt: skip
        assert line in result.out
    assert "secret MLFLOW_TRACKING_PASSWORD: missing -> a person sets it" in result.out
    assert "online self-hosted runner labelled mlops-deploy" in result.out
    assert _writes(gh) == []
    assert (gh.protections(REPO), gh.environments(REPO), gh.variables(REPO)) == ({}, {}, {})
    planned = json.loads(cli("--repo", root, "github", "setup", "--json").out)
    assert [(c["setting"], c["action"]) for c in planned["changes"]] == [
        ("branch protection main", "protect"),
        ("environment staging", "create"),
        ("environment production", "create"),
        ("variable DEPLOY_RUNNER", "create"),
    ]
    assert planned["applied"] is False


def test_setup_apply_makes_doctor_pass_but_for_what_a_person_sets(
    gh: GitHubServer, root: Path, cli: Cli
) -> None:
    """--apply protects main, creates the environments (production reviewed by the platform
    team) and sets DEPLOY_RUNNER; doctor then misses only what a person sets (the services'
    variables and the secret); a second --apply has nothing to do; with those set, doctor
    passes, and the optional settings left unset are listed without failing it."""
    gh.add_runner(REPO, "serving-1", labels=["mlops-deploy"])
    applied = cli("--repo", root, "github", "setup", "--apply")
    assert applied.code == 0, applied.err
    assert "Changed: acme/models" in applied.out
    protection = gh.protections(REPO)["main"]
    assert protection["contexts"] == ["mlops gate"]
    assert protection["reviews"]["require_code_owner_reviews"] is True
    assert protection["reviews"]["required_approving_review_count"] == 1
    environments = gh.environments(REPO)
    assert sorted(environments) == ["production", "staging"]
    assert environments["production"]["teams"] == ["ml-platform"]
    assert environments["staging"]["teams"] == environments["staging"]["users"] == []
    assert gh.variables(REPO) == {"DEPLOY_RUNNER": "mlops-deploy"}

    result, report = _doctor(cli, root)
    assert (result.code, _missing(report)) == (1, [
        "variable MLFLOW_TRACKING_URI", "variable MLOPS_DVC_REMOTE", "variable MLOPS_DEPLOY_DIR",
        "variable MLOPS_SMTP_HOST", "secret MLFLOW_TRACKING_PASSWORD", "secret MLOPS_TEAMS_TOKEN",
        "secret CARE_ANALYTICS_WEBHOOK",
    ])  # fmt: skip
    assert "fixes" not in result.err  # setup cannot set a secret or a site's services

    writes = len(_writes(gh))
    again = cli("--repo", root, "github", "setup", "--apply")
    assert again.code == 0, again.err
    assert "nothing to change: acme/models's settings are as needed" in again.out
    assert len(_writes(gh)) == writes

    gh.set_secret(REPO, "MLFLOW_TRACKING_PASSWORD")
    gh.set_secret(REPO, "MLOPS_TEAMS_TOKEN")
    gh.set_variable(REPO, "MLFLOW_TRACKING_URI", "https://mlflow.acme.example")
    gh.set_variable(REPO, "MLOPS_DVC_REMOTE", "s3://acme-dvc/store")
    gh.set_variable(REPO, "MLOPS_DEPLOY_DIR", "/var/lib/mlops/deploy")
    gh.set_variable(REPO, "MLOPS_SMTP_HOST", "smtp.acme.example")
    gh.set_secret(REPO, "CARE_ANALYTICS_WEBHOOK")
    result, report = _doctor(cli, root)
    assert (result.code, _missing(report), report["ok"]) == (0, [], True)
    optional = [f for f in report["findings"] if not f["required"] and f["ok"] is None]
    unset = [f["requirement"] for f in optional]
    assert "variable MLOPS_IMAGE_REGISTRY" in unset
    # batch.yml's runner label and S3 endpoint: a hosted runner and AWS when unset
    assert {"variable BATCH_RUNNER", "variable AWS_ENDPOINT_URL_S3"} <= set(unset)
    assert "runner for batch.yml: score, retrain.yml: retrain" in unset
    assert "has everything the GitOps loop relies on" in cli("--repo", root, "github",
                                                             "doctor").out  # fmt: skip


def test_setup_keeps_the_protection_already_there(gh: GitHubServer, root: Path,
                                                  cli: Cli) -> None:  # fmt: skip
    """Checks, approvals and other settings someone chose stay; only the gate's check and
    code-owner reviews are added."""
    gh.protect(REPO, "main", contexts=["lint"], approvals=2, strict=True,
               flags={"required_linear_history": True})  # fmt: skip
    gh.add_environment(REPO, "production", users=["mchen"], wait_timer=10)
    result = cli("--repo", root, "github", "setup", "--apply")
    assert result.code == 0, result.err
    protection = gh.protections(REPO)["main"]
    assert (protection["contexts"], protection["strict"]) == (["lint", "mlops gate"], True)
    assert protection["reviews"]["required_approving_review_count"] == 2
    assert protection["reviews"]["require_code_owner_reviews"] is True
    assert protection["flags"]["required_linear_history"] is True
    assert gh.environments(REPO)["production"]["users"] == ["mchen"]  # chosen by a person
    assert gh.environments(REPO)["production"]["wait_timer"] == 10


@pytest.mark.parametrize("verb", [("doctor",), ("setup", "--apply")])
def test_a_token_without_admin_rights_gets_one_line(
    gh: GitHubServer, root: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, verb: tuple[str, ...]
) -> None:
    """A writer's token: one error line naming the permission needed, exit 1, no change."""
    monkeypatch.setenv("GITHUB_TOKEN", WRITER)
    result = cli("--repo", root, "github", *verb)
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: reading the protection of main needs admin rights on acme/models, which this "
        "token lacks (GitHub answered 403 Must have admin rights to Repository.)"
    ]
    assert "Administration" in result.err and result.out == ""
    assert _writes(gh) == []


def test_a_malformed_workflow_is_reported_before_asking_github(
    gh: GitHubServer, root: Path, cli: Cli
) -> None:
    """Bad YAML in a workflow: its file, line and column, exit 1, no request to GitHub."""
    (root / ".github" / "workflows" / "broken.yml").write_text("on: push\njobs: [build\n")
    result = cli("--repo", root, "github", "doctor")
    assert result.code == 1
    assert ".github/workflows/broken.yml:3:1: $: invalid YAML" in result.err
    assert "error: cannot tell what the workflows need: .github/workflows/broken.yml" in result.err
    assert gh.requests == []


def test_bad_input_gets_a_clear_error(gh: GitHubServer, root: Path, cli: Cli,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """No repository, an unknown one, and a bad [tool.mlops.github] each say what is wrong."""
    monkeypatch.delenv("GITHUB_REPOSITORY")
    result = cli("--repo", root, "github", "doctor")
    assert result.code == 2
    assert "error: no repository: pass --repository OWNER/NAME or set GITHUB_REPOSITORY" in (
        result.err
    )  # fmt: skip
    result = cli("--repo", root, "github", "doctor", "--repository", "acme/nope")
    assert result.code == 1
    assert "of acme/nope failed: GitHub answered 404 Not Found (no such repository" in result.err
    (root / "pyproject.toml").write_text('[tool.mlops.github]\nvariables = { "1X" = "a" }\n')
    result = cli("--repo", root, "github", "setup", "--repository", REPO)
    assert result.code == 1
    assert "error: pyproject.toml [tool.mlops.github] variables.1X = 'a'" in result.err
    result = cli("--repo", root, "github", "setup", "--bogus")
    assert result.code == 2 and "No such option '--bogus'" in result.err


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def health() -> Iterator[str]:
    """A server on 127.0.0.1 answering /health like MLflow's tracking server."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_doctor_asks_the_tracking_server_for_its_health(
    gh: GitHubServer, root: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, health: str
) -> None:
    """A tracking server that answers is a pass; one that does not is a required failure."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", health)
    _, report = _doctor(cli, root)
    tracking = next(f for f in report["findings"] if f["requirement"].startswith("MLflow"))
    assert (tracking["ok"], tracking["detail"]) == (True, f"{health}/health")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    _, report = _doctor(cli, root)
    assert "MLflow tracking server answers" in _missing(report)
