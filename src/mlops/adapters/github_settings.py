"""A repository's settings on GitHub through PyGithub: branch protection, environments, Actions
variables and secrets (names only), self-hosted runners. Reading and changing them needs
admin rights on the repository; a token without them gets one error saying so.

Branch protection goes through PyGithub's requester with a body built here: a PUT replaces
the whole protection, and `Branch.edit_protection` resets what it is not given and sends
required checks without the `contexts` GitHub's description requires. The body keeps every
setting read back from GitHub and adds only what setup asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from mlops.adapters.github import GitHub, GitHubError
from mlops.core.github_settings import Change, Environment, Observed, Protection, Runner

FLAGS = (
    "required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations",
    "required_conversation_resolution", "lock_branch", "allow_fork_syncing",
)  # fmt: skip


class NeedsAdmin(GitHubError):
    """The token may not read or change the repository's settings."""

    def __init__(self, repository: str, doing: str, answer: str) -> None:
        super().__init__(
            f"{doing} needs admin rights on {repository}, which this token lacks "
            f"(GitHub answered {answer})",
            hint="use a token of a repository admin: a classic one with the `repo` scope, or a "
            "fine-grained one with Administration, Environments, Secrets and Variables (read; "
            "write for `setup --apply`). A workflow's GITHUB_TOKEN never has them.",
        )


class RepositorySettings:
    """Reads and changes one repository's settings."""

    def __init__(self, github: GitHub) -> None:
        self.github = github
        self.name = github.name

    def read(self, branch: str, environments: Sequence[str], *, runners: bool) -> Observed:
        """What GitHub holds; `runners` False skips listing self-hosted runners."""
        exists, raw = self._raw_protection(branch)
        found = {}
        for name in environments:
            environment = self._environment(name)
            if environment is not None:
                found[name] = environment
        repo = self.github.repo
        variables: dict[str, str] = self._call("listing variables", lambda: {
            str(v.name).upper(): str(v.value) for v in repo.get_variables()})  # fmt: skip
        secrets: frozenset[str] = self._call("listing secrets", lambda: frozenset(
            str(s.name).upper() for s in repo.get_secrets()))  # fmt: skip
        listed: tuple[Runner, ...] = ()
        if runners:
            listed = self._call("listing self-hosted runners", lambda: tuple(
                Runner(r.name, r.status == "online", tuple(str(x["name"]) for x in r.labels))
                for r in repo.get_self_hosted_runners()))  # fmt: skip
        return Observed(exists, _protection(raw), found, variables, secrets, listed)

    def apply(self, change: Change, observed: Observed) -> None:
        if change.kind == "protection":
            self._protect(change.name, change.contexts)
        elif change.kind == "environment":
            self._put_environment(change, observed.environments.get(change.name))
        else:
            self._set_variable(change, observed.variables.get(change.name) is None)

    # branch protection ------------------------------------------------------------------------

    def _protection_url(self, branch: str) -> str:
        return f"/repos/{self.name}/branches/{quote(branch, safe='')}/protection"

    def _raw_protection(self, branch: str) -> tuple[bool, dict[str, Any] | None]:
        """Whether the branch exists, and its protection as GitHub answers it (None:
        unprotected)."""
        from github import GithubException

        requester = self.github.client.requester
        try:
            _, data = requester.requestJsonAndCheck("GET", self._protection_url(branch))
        except GithubException as exc:
            message = _message(exc)
            if exc.status == 404 and message in ("Branch not protected", "Branch not found"):
                return message == "Branch not protected", None
            raise self._error(f"reading the protection of {branch}", exc) from None
        return True, dict(data)

    def _protect(self, branch: str, contexts: Sequence[str]) -> None:
        _, current = self._raw_protection(branch)
        body = protection_body(current, contexts)
        requester = self.github.client.requester
        self._call(f"protecting {branch}", requester.requestJsonAndCheck, "PUT",
                   self._protection_url(branch), input=body)  # fmt: skip

    # environments -----------------------------------------------------------------------------

    def _environment(self, name: str) -> Environment | None:
        from github import UnknownObjectException

        def read() -> Environment | None:
            try:
                found = self.github.repo.get_environment(name)
                rules = found.protection_rules
            except UnknownObjectException:
                return None
            reviewers: list[str] = []
            wait_timer, prevent_self_review = 0, False
            for rule in rules:
                if rule.type == "wait_timer":
                    wait_timer = rule.wait_timer
                elif rule.type == "required_reviewers":
                    prevent_self_review = bool(rule.prevent_self_review)
                    reviewers += [self._reviewer(r.type, r.reviewer) for r in rule.reviewers]
            policy = found.deployment_branch_policy
            branch_policy = (
                (policy.protected_branches, policy.custom_branch_policies) if policy else None
            )
            return Environment(name, tuple(reviewers), wait_timer, prevent_self_review,
                               branch_policy)  # fmt: skip

        found: Environment | None = self._call(f"reading environment {name}", read)
        return found

    def _reviewer(self, kind: str, reviewer: Any) -> str:
        if kind == "Team":
            return f"@{self.name.split('/')[0]}/{reviewer.slug}"
        return f"@{reviewer.login}"

    def _put_environment(self, change: Change, current: Environment | None) -> None:
        from github.EnvironmentDeploymentBranchPolicy import (
            EnvironmentDeploymentBranchPolicyParams,
        )

        current = current or Environment(change.name)
        reviewers = [self._reviewer_params(r) for r in change.reviewers]
        policy = current.branch_policy
        self._call(
            f"changing environment {change.name}",
            self.github.repo.create_environment,
            change.name,
            wait_timer=current.wait_timer,
            reviewers=reviewers,
            prevent_self_review=current.prevent_self_review,
            deployment_branch_policy=EnvironmentDeploymentBranchPolicyParams(*policy)
            if policy
            else None,
        )

    def _reviewer_params(self, owner: str) -> Any:
        from github import GithubException
        from github.EnvironmentProtectionRuleReviewer import ReviewerParams

        name = owner.removeprefix("@")
        client = self.github.client
        try:
            if "/" in name:
                org, slug = name.split("/", 1)
                return ReviewerParams(
                    "Team", client.get_organization(org).get_team_by_slug(slug).id
                )
            return ReviewerParams("User", client.get_user(name).id)
        except GithubException as exc:
            if exc.status != 404:
                raise self._error(f"finding reviewer {owner}", exc) from None
            raise GitHubError(
                f"cannot make {owner} a reviewer of environment production: GitHub knows no "
                "such user or team, or this token may not read the organization's teams",
                hint="fix [tool.mlops.github] production_reviewers (default: the platform "
                "owners); finding a team needs a token that may read the organization",
            ) from None

    # variables --------------------------------------------------------------------------------

    def _set_variable(self, change: Change, create: bool) -> None:
        repo = self.github.repo
        if create:
            self._call(f"creating variable {change.name}", repo.create_variable, change.name,
                       change.value)  # fmt: skip
        else:
            self._call(f"updating variable {change.name}",
                       lambda: repo.get_variable(change.name).edit(change.value))  # fmt: skip

    # errors -----------------------------------------------------------------------------------

    def _call(self, doing: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from github import GithubException

        try:
            return fn(*args, **kwargs)
        except GithubException as exc:
            raise self._error(doing, exc) from None

    def _error(self, doing: str, exc: Any) -> GitHubError:
        """`doing` says what failed, as "listing secrets"."""
        message = _message(exc)
        answer = f"{exc.status} {message}"
        if exc.status == 403 and "rate limit" not in message.lower():
            return NeedsAdmin(self.name, doing, answer)
        if exc.status == 404 and message == "Not Found":
            return GitHubError(
                f"{doing} of {self.name} failed: GitHub answered {answer} (no such "
                "repository, or the token cannot see it)",
                hint="check --repository (or GITHUB_REPOSITORY) and the token",
            )
        return GitHubError(f"{doing} of {self.name} failed: GitHub answered {answer}")


def _protection(data: dict[str, Any] | None) -> Protection | None:
    if data is None:
        return None
    checks = data.get("required_status_checks")
    reviews = data.get("required_pull_request_reviews")
    approvals = int(reviews.get("required_approving_review_count") or 0) if reviews else None
    return Protection(
        contexts=tuple(checks.get("contexts") or ()) if checks else None,
        code_owner_reviews=bool(reviews and reviews.get("require_code_owner_reviews")),
        approvals=approvals,
    )


def protection_body(current: dict[str, Any] | None, contexts: Sequence[str]) -> dict[str, Any]:
    """The PUT body that keeps every setting of `current` (a GET answer, None: unprotected),
    requires `contexts` besides the checks required already, code-owner reviews and at least
    one approval."""
    current = current or {}
    checks = current.get("required_status_checks") or {}
    reviews = current.get("required_pull_request_reviews") or {}
    required = dict.fromkeys([*(checks.get("contexts") or []), *contexts])
    rule: dict[str, Any] = {
        "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
        "require_code_owner_reviews": True,
        "required_approving_review_count": max(
            1, int(reviews.get("required_approving_review_count") or 0)
        ),
        "require_last_push_approval": bool(reviews.get("require_last_push_approval")),
    }
    if reviews.get("dismissal_restrictions"):
        rule["dismissal_restrictions"] = _names(reviews["dismissal_restrictions"])
    if reviews.get("bypass_pull_request_allowances"):
        rule["bypass_pull_request_allowances"] = _names(reviews["bypass_pull_request_allowances"])
    restrictions = current.get("restrictions")
    body: dict[str, Any] = {
        "required_status_checks": {"strict": bool(checks.get("strict")), "contexts": [*required]},
        "enforce_admins": bool((current.get("enforce_admins") or {}).get("enabled")),
        "required_pull_request_reviews": rule,
        "restrictions": _names(restrictions) if restrictions else None,
    }
    for flag in FLAGS:
        if isinstance(current.get(flag), dict):
            body[flag] = bool(current[flag].get("enabled"))
    return body


def _names(group: dict[str, Any]) -> dict[str, list[str]]:
    """Users, teams and apps of a GET answer as the logins and slugs a PUT takes."""
    return {
        "users": [u["login"] for u in group.get("users") or []],
        "teams": [t["slug"] for t in group.get("teams") or []],
        "apps": [a["slug"] for a in group.get("apps") or []],
    }


def _message(exc: Any) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    return str(data.get("message") or exc)
