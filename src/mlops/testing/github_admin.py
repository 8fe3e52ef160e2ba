"""A repository's settings on the local GitHub API server: branch protection, environments,
Actions variables and secrets, self-hosted runners. The rules GitHub applies to them, and the
seeding and inspection API tests use.

Rules and simplifications (documented, deliberate):

- Only an admin of the repository (a collaborator with `admin`, or the owner account) may read
  or change these settings; others get 403 "Must have admin rights to Repository.", and an
  installation token (a workflow's GITHUB_TOKEN) gets 403 "Resource not accessible by
  integration", whatever its login.
- Protection of a branch that does not exist answers 404 "Branch not found"; of an unprotected
  one, 404 "Branch not protected". A PUT replaces the whole protection, as on GitHub. Required
  checks keep their names only (no app pinning); restriction, dismissal and bypass lists keep
  users and teams (apps are accepted and dropped). Omitted on/off settings are off.
- An environment PUT changes the fields it names and keeps the others; reviewers are given by
  id and must be known users or teams of the repository's organization (at most six).
- Variable names are stored upper-case and must be unique; `GITHUB_` names are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mlops.testing.github_model import (
    BranchProtection,
    Environment,
    Repository,
    ReviewRule,
    Runner,
    Secret,
    Team,
    Token,
    Variable,
    to_json,
)
from mlops.testing.github_rules import GitHubRules, invalid
from mlops.testing.github_state import GitHubError, synchronized

ADMIN_ONLY = "Must have admin rights to Repository."
FLAGS = (
    "required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations",
    "required_conversation_resolution", "lock_branch", "allow_fork_syncing",
)  # fmt: skip
MAX_REVIEWERS = 6
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class GitHubAdmin(GitHubRules):
    """GitHubRules plus repository settings."""

    def require_admin(self, repo: str, token: Token) -> None:
        if token.app:
            raise GitHubError(403, "Resource not accessible by integration")
        if self.permission(repo, token.login) != "admin":
            raise GitHubError(403, ADMIN_ONLY)

    def _normalize_repository(self, repo: Repository) -> None:
        super()._normalize_repository(repo)
        for environment in repo.environments:
            for login in environment.users:
                self._account(login)
            for slug in environment.teams:
                self._team(repo.owner, slug)
        for protection in repo.protections:
            rule = protection.reviews
            for login in [*(protection.push_users or []), *_users(rule)]:
                self._account(login)
            for slug in [*protection.push_teams, *_teams(rule)]:
                self._team(repo.owner, slug)

    def _team(self, org: str, slug: str) -> Team:
        for team in self.data.teams:
            if (team.org.lower(), team.slug.lower()) == (org.lower(), slug.lower()):
                return team
        team = Team(org, slug, slug, id=self.new_id(), created_at=self.now())
        self.data.teams.append(team)
        self._account(org, "Organization")
        return team

    # branch protection ------------------------------------------------------------------------

    def protection(self, repo: str, branch: str) -> BranchProtection:
        record = self.repository(repo)
        if self.branch_sha(record, branch) is None:
            raise GitHubError(404, "Branch not found")
        for protection in record.protections:
            if protection.branch == branch:
                return protection
        raise GitHubError(404, "Branch not protected")

    def put_protection(self, repo: str, branch: str, body: dict[str, Any]) -> BranchProtection:
        record = self.repository(repo)
        if self.branch_sha(record, branch) is None:
            raise GitHubError(404, "Branch not found")
        protection = BranchProtection(branch, enforce_admins=bool(body["enforce_admins"]))
        checks = body["required_status_checks"]
        if checks is not None:
            named = [c["context"] for c in checks.get("checks") or []]
            protection.strict = bool(checks.get("strict"))
            protection.contexts = list(dict.fromkeys(named or checks.get("contexts") or []))
        reviews = body["required_pull_request_reviews"]
        if reviews is not None:
            protection.reviews = _review_rule(reviews)
        restrictions = body["restrictions"]
        if restrictions is not None:
            protection.push_users = list(restrictions.get("users") or [])
            protection.push_teams = list(restrictions.get("teams") or [])
        protection.flags = {name: bool(body.get(name)) for name in FLAGS}
        record.protections = [p for p in record.protections if p.branch != branch]
        record.protections.append(protection)
        self.normalize()
        return protection

    # environments -----------------------------------------------------------------------------

    def environment(self, repo: str, name: str) -> Environment:
        for environment in self.repository(repo).environments:
            if environment.name.lower() == name.lower():
                return environment
        raise GitHubError(404, "Not Found")

    def put_environment(self, repo: str, name: str, body: dict[str, Any] | None) -> Environment:
        record = self.repository(repo)
        body = body or {}
        policy = body.get("deployment_branch_policy")
        if policy is not None and policy["protected_branches"] == policy["custom_branch_policies"]:
            raise GitHubError(422, "Only one of `protected_branches` and "
                              "`custom_branch_policies` can be true")  # fmt: skip
        found = [e for e in record.environments if e.name.lower() == name.lower()]
        environment = found[0] if found else Environment(name, created_at=self.now())
        if body.get("reviewers") is not None:
            environment.users, environment.teams = self._reviewers(record, body["reviewers"])
        for key in ("wait_timer", "prevent_self_review"):
            if body.get(key) is not None:
                setattr(environment, key, body[key])
        if "deployment_branch_policy" in body:
            environment.branch_policy = (
                None if policy is None
                else [policy["protected_branches"], policy["custom_branch_policies"]]
            )  # fmt: skip
        environment.updated_at = self.now()
        if not found:
            record.environments.append(environment)
        self.normalize()
        return environment

    def _reviewers(
        self, repo: Repository, reviewers: list[dict[str, Any]]
    ) -> tuple[list[str], list[str]]:
        if len(reviewers) > MAX_REVIEWERS:
            raise invalid("Environment", "reviewers", message="at most 6 reviewers")
        users, teams = [], []
        for reviewer in reviewers:
            kind, number = reviewer.get("type"), reviewer.get("id")
            if kind == "User":
                logins = [u.login for u in self.data.users if u.id == number and u.type == "User"]
                if not logins:
                    raise invalid("Environment", "reviewers", message=f"no user with id {number}")
                users.append(logins[0])
            else:
                slugs = [
                    t.slug for t in self.data.teams
                    if t.id == number and t.org.lower() == repo.owner.lower()
                ]  # fmt: skip
                if not slugs:
                    raise invalid("Environment", "reviewers", message=f"no team with id {number}")
                teams.append(slugs[0])
        return users, teams

    # variables, secrets, runners --------------------------------------------------------------

    def create_variable(self, repo: str, name: str, value: str) -> Variable:
        record = self.repository(repo)
        if not VARIABLE_NAME.match(name) or name.upper().startswith("GITHUB_"):
            raise invalid("Variable", "name", message=f"invalid variable name {name!r}")
        if any(v.name == name.upper() for v in record.variables):
            raise GitHubError(409, "Already exists - Variable already exists")
        variable = Variable(name.upper(), value)
        record.variables.append(variable)
        self.normalize()
        return variable

    def update_variable(self, repo: str, name: str, body: dict[str, Any]) -> Variable:
        found = [v for v in self.repository(repo).variables if v.name == name.upper()]
        if not found:
            raise GitHubError(404, "Not Found")
        variable = found[0]
        variable.value = body.get("value", variable.value)
        variable.name = str(body.get("name", variable.name)).upper()
        variable.updated_at = self.now()
        return variable

    # seeding ----------------------------------------------------------------------------------

    @synchronized
    def protect(
        self, repo: str, branch: str = "main", *, contexts: Iterable[str] | None = None,
        code_owner_reviews: bool = False, approvals: int | None = None, strict: bool = False,
        enforce_admins: bool = False, flags: dict[str, bool] | None = None,
    ) -> None:  # fmt: skip
        """Protect `branch`: `contexts` None requires no checks, `approvals` None no reviews."""
        record = self.repository(repo)
        protection = BranchProtection(branch, strict, None, enforce_admins)
        protection.contexts = None if contexts is None else list(contexts)
        if approvals is not None:
            protection.reviews = ReviewRule(require_code_owner_reviews=code_owner_reviews,
                                            required_approving_review_count=approvals)  # fmt: skip
        protection.flags = dict.fromkeys(FLAGS, False) | (flags or {})
        record.protections = [p for p in record.protections if p.branch != branch]
        record.protections.append(protection)
        self.normalize()

    @synchronized
    def add_environment(
        self, repo: str, name: str, *, users: Iterable[str] = (), teams: Iterable[str] = (),
        wait_timer: int = 0,
    ) -> None:  # fmt: skip
        record = self.repository(repo)
        environment = Environment(name, list(users), list(teams), wait_timer)
        record.environments = [e for e in record.environments if e.name != name] + [environment]
        self.normalize()

    @synchronized
    def set_variable(self, repo: str, name: str, value: str) -> None:
        record = self.repository(repo)
        record.variables = [v for v in record.variables if v.name != name.upper()]
        record.variables.append(Variable(name.upper(), value))
        self.normalize()

    @synchronized
    def set_secret(self, repo: str, name: str) -> None:
        """A secret named `name` (GitHub answers names only, so no value is kept)."""
        record = self.repository(repo)
        record.secrets = [s for s in record.secrets if s.name != name.upper()]
        record.secrets.append(Secret(name.upper()))
        self.normalize()

    @synchronized
    def add_runner(
        self, repo: str, name: str, *, labels: Iterable[str] = (), status: str = "online"
    ) -> None:
        """A self-hosted runner with the default labels (self-hosted, Linux, X64) and `labels`."""
        runner = Runner(name, status=status)
        runner.labels = [*runner.labels, *labels]
        self.repository(repo).runners.append(runner)
        self.normalize()

    # inspection -------------------------------------------------------------------------------

    @synchronized
    def protections(self, repo: str) -> dict[str, dict[str, Any]]:
        return {p.branch: to_json(p) for p in self.repository(repo).protections}

    @synchronized
    def environments(self, repo: str) -> dict[str, dict[str, Any]]:
        return {e.name: to_json(e) for e in self.repository(repo).environments}

    @synchronized
    def variables(self, repo: str) -> dict[str, str]:
        return {v.name: v.value for v in self.repository(repo).variables}


def _review_rule(body: dict[str, Any]) -> ReviewRule:
    count = body.get("required_approving_review_count", 1)
    if not 0 <= count <= MAX_REVIEWERS:
        raise invalid("ProtectedBranch", "required_approving_review_count",
                      message="must be between 0 and 6")  # fmt: skip
    rule = ReviewRule(
        bool(body.get("dismiss_stale_reviews")), bool(body.get("require_code_owner_reviews")),
        count, bool(body.get("require_last_push_approval")),
    )  # fmt: skip
    dismissal = body.get("dismissal_restrictions")
    if dismissal:  # an empty object lifts the restriction
        rule.dismissal_users = list(dismissal.get("users") or [])
        rule.dismissal_teams = list(dismissal.get("teams") or [])
    bypass = body.get("bypass_pull_request_allowances") or {}
    rule.bypass_users = list(bypass.get("users") or [])
    rule.bypass_teams = list(bypass.get("teams") or [])
    return rule


def _users(rule: ReviewRule | None) -> list[str]:
    return [*(rule.dismissal_users or []), *rule.bypass_users] if rule else []


def _teams(rule: ReviewRule | None) -> list[str]:
    return [*rule.dismissal_teams, *rule.bypass_teams] if rule else []
