"""Repository settings on the local GitHub API server, driven by real PyGithub 2.x: branch
protection, environments, Actions variables and secrets, self-hosted runners. Every request
and response is checked against GitHub's OpenAPI description (the `gh` fixture)."""

from __future__ import annotations

from typing import Any

import pytest
from github import Github, GithubException, UnknownObjectException
from github.EnvironmentDeploymentBranchPolicy import EnvironmentDeploymentBranchPolicyParams
from github.EnvironmentProtectionRuleReviewer import ReviewerParams

from mlops.testing.github_fixtures import github_client
from mlops.testing.github_model import State, from_json
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
ADMIN, WRITER, BOT = "admin-token", "writer-token", "bot-token"


@pytest.fixture
def gh(gh: GitHubServer) -> GitHubServer:
    """A repository of the org acme with an admin (mchen), a writer (alice), a team and the
    workflow's token."""
    gh.add_team("acme", "ml-platform", members=["mchen"])
    gh.add_repository(REPO, collaborators={"mchen": "admin", "alice": "write"})
    gh.add_token(ADMIN, login="mchen")
    gh.add_token(WRITER, login="alice")
    gh.add_token(BOT, login="github-actions[bot]", can_read_org=False)
    return gh


@pytest.fixture
def admin(gh: GitHubServer) -> Github:
    return github_client(gh, ADMIN)


def _protection_url(client: Github, branch: str = "main") -> str:
    return f"{client.get_repo(REPO).url}/branches/{branch}/protection"


def _put_protection(client: Github, body: dict[str, Any], branch: str = "main") -> Any:
    return client.requester.requestJsonAndCheck("PUT", _protection_url(client, branch), input=body)


BODY: dict[str, Any] = {
    "required_status_checks": {"strict": True, "contexts": ["lint", "mlops gate"]},
    "enforce_admins": True,
    "required_pull_request_reviews": {
        "require_code_owner_reviews": True,
        "required_approving_review_count": 2,
        "dismissal_restrictions": {"users": ["mchen"], "teams": ["ml-platform"]},
    },
    "restrictions": {"users": ["mchen"], "teams": ["ml-platform"]},
    "required_linear_history": True,
}


def test_branch_protection_is_replaced_and_read_back(gh: GitHubServer, admin: Github) -> None:
    """An unprotected branch answers 404 "Branch not protected"; a PUT replaces the whole
    protection, and GET answers it as GitHub does."""
    with pytest.raises(GithubException) as missing:
        admin.requester.requestJsonAndCheck("GET", _protection_url(admin))
    assert (missing.value.status, missing.value.data["message"]) == (404, "Branch not protected")
    _, answer = _put_protection(admin, BODY)
    assert answer["required_status_checks"]["contexts"] == ["lint", "mlops gate"]
    _, read = admin.requester.requestJsonAndCheck("GET", _protection_url(admin))
    reviews = read["required_pull_request_reviews"]
    assert (reviews["require_code_owner_reviews"], reviews["required_approving_review_count"]) == (
        True, 2,
    )  # fmt: skip
    assert [u["login"] for u in reviews["dismissal_restrictions"]["users"]] == ["mchen"]
    assert [t["slug"] for t in read["restrictions"]["teams"]] == ["ml-platform"]
    assert read["required_linear_history"] == {"enabled": True}
    assert read["allow_force_pushes"] == {"enabled": False}
    assert read["enforce_admins"]["enabled"] is True
    _put_protection(admin, BODY | {"required_status_checks": None, "restrictions": None})
    _, read = admin.requester.requestJsonAndCheck("GET", _protection_url(admin))
    assert "required_status_checks" not in read and "restrictions" not in read


def test_protection_of_a_missing_branch_is_404(admin: Github) -> None:
    with pytest.raises(GithubException) as missing:
        admin.requester.requestJsonAndCheck("GET", _protection_url(admin, "nope"))
    assert (missing.value.status, missing.value.data["message"]) == (404, "Branch not found")


@pytest.mark.github_violations
def test_checks_without_contexts_break_the_contract(gh: GitHubServer, admin: Github) -> None:
    """The body PyGithub's `Branch.edit_protection` sends (`checks` without the `contexts`
    the description requires) is refused and recorded: why our adapter builds its own."""
    with pytest.raises(GithubException) as refused:
        admin.requester.requestJsonAndCheck(
            "PUT", _protection_url(admin),
            input={"required_status_checks": {"strict": False, "checks": [{"context": "x"}]},
                   "enforce_admins": None, "required_pull_request_reviews": None,
                   "restrictions": None},
        )  # fmt: skip
    assert refused.value.status == 422
    assert any("contexts" in v for v in gh.violations)


def test_environments_with_reviewers(gh: GitHubServer, admin: Github) -> None:
    """An environment is created with team and user reviewers by id; a later PUT without
    them keeps them; a missing one is 404."""
    repo = admin.get_repo(REPO)
    team = admin.get_organization("acme").get_team_by_slug("ml-platform")
    mchen = admin.get_user("mchen")
    with pytest.raises(UnknownObjectException):
        repo.get_environment("production").name  # noqa: B018 (a lazy object: reading fetches)
    created = repo.create_environment(
        "production", wait_timer=5,
        reviewers=[ReviewerParams("Team", team.id), ReviewerParams("User", mchen.id)],
        deployment_branch_policy=EnvironmentDeploymentBranchPolicyParams(True, False),
    )  # fmt: skip
    assert created.name == "production"
    read = repo.get_environment("production")
    kinds = {rule.type: rule for rule in read.protection_rules}
    assert sorted(kinds) == ["branch_policy", "required_reviewers", "wait_timer"]
    reviewers = [(r.type, getattr(r.reviewer, "slug", None) or r.reviewer.login)
                 for r in kinds["required_reviewers"].reviewers]  # fmt: skip
    assert reviewers == [("User", "mchen"), ("Team", "ml-platform")]
    assert gh.environments(REPO)["production"]["wait_timer"] == 5
    url = f"{repo.url}/environments/production"
    admin.requester.requestJsonAndCheck("PUT", url, input={"wait_timer": 5})
    assert gh.environments(REPO)["production"]["teams"] == ["ml-platform"]


def test_environment_reviewers_must_exist(admin: Github) -> None:
    repo = admin.get_repo(REPO)
    with pytest.raises(GithubException) as refused:
        repo.create_environment("production", reviewers=[ReviewerParams("Team", 987654)])
    assert refused.value.status == 422


def test_variables_are_created_listed_and_updated(gh: GitHubServer, admin: Github) -> None:
    """Names are upper-cased; a second create is 409; pages hold at most 30 variables."""
    repo = admin.get_repo(REPO)
    repo.create_variable("deploy_runner", "mlops-deploy")
    with pytest.raises(GithubException) as duplicate:
        repo.create_variable("DEPLOY_RUNNER", "x")
    assert duplicate.value.status == 409
    (listed,) = repo.get_variables()
    assert listed.edit("gpu-host") is True
    for n in range(34):
        gh.set_variable(REPO, f"V{n}", str(n))
    values = {v.name: v.value for v in repo.get_variables()}
    assert len(values) == 35 and values["DEPLOY_RUNNER"] == "gpu-host"
    assert ("GET", f"/repos/{REPO}/actions/variables", 200) in gh.requests
    assert sum(r[:2] == ("GET", f"/repos/{REPO}/actions/variables") for r in gh.requests) == 3


def test_secrets_are_listed_by_name(gh: GitHubServer, admin: Github) -> None:
    gh.set_secret(REPO, "mlflow_password")
    assert [s.name for s in admin.get_repo(REPO).get_secrets()] == ["MLFLOW_PASSWORD"]


def test_runners_are_listed_with_labels_and_status(gh: GitHubServer, admin: Github) -> None:
    gh.add_runner(REPO, "serving-1", labels=["mlops-deploy"])
    gh.add_runner(REPO, "serving-2", labels=["mlops-deploy"], status="offline")
    runners = list(admin.get_repo(REPO).get_self_hosted_runners())
    assert [(r.name, r.status) for r in runners] == [("serving-1", "online"),
                                                     ("serving-2", "offline")]  # fmt: skip
    assert [label["name"] for label in runners[0].labels] == [
        "self-hosted", "Linux", "X64", "mlops-deploy",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("token", "message"),
    [(WRITER, "Must have admin rights to Repository."),
     (BOT, "Resource not accessible by integration")],
)  # fmt: skip
def test_settings_need_an_admin(gh: GitHubServer, token: str, message: str) -> None:
    """A writer's token and a workflow's token may read none of the settings."""
    repo = github_client(gh, token).get_repo(REPO)
    calls = [
        lambda: list(repo.get_secrets()),
        lambda: list(repo.get_variables()),
        lambda: list(repo.get_self_hosted_runners()),
        lambda: repo.create_environment("staging"),
    ]
    for call in calls:
        with pytest.raises(GithubException) as refused:
            call()
        assert (refused.value.status, refused.value.data["message"]) == (403, message)
    assert gh.environments(REPO) == {}


def test_settings_round_trip_through_a_seed() -> None:
    """Settings seeded as JSON load with the accounts they name, and dump back the same."""
    seed = {
        "tokens": [{"token": "t", "login": "mchen"}],
        "repositories": [{
            "full_name": REPO, "collaborators": {"mchen": "admin"},
            "protections": [{"branch": "main", "contexts": ["mlops gate"],
                             "reviews": {"require_code_owner_reviews": True}}],
            "environments": [{"name": "production", "teams": ["ml-platform"]}],
            "variables": [{"name": "DEPLOY_RUNNER", "value": "mlops-deploy"}],
            "secrets": [{"name": "S3_KEY"}],
            "runners": [{"name": "r1", "labels": ["self-hosted", "mlops-deploy"]}],
        }],
    }  # fmt: skip
    state = from_json(State, seed)
    with GitHubServer(state) as server:
        repo = github_client(server, "t").get_repo(REPO)
        (rule,) = repo.get_environment("production").protection_rules
        assert rule.reviewers[0].reviewer.slug == "ml-platform"
        assert [s.name for s in repo.get_secrets()] == ["S3_KEY"]
        dumped = server.to_json()
    assert GitHubServer(from_json(State, dumped)).to_json() == dumped
    assert server.violations == []
