"""JSON bodies of the local GitHub API server for a repository's settings: branch protection,
environments, Actions variables and secrets, self-hosted runners.
"""

from __future__ import annotations

from urllib.parse import quote

from mlops.testing.github_admin import FLAGS
from mlops.testing.github_model import (
    BranchProtection,
    Environment,
    Repository,
    ReviewRule,
    Runner,
    Secret,
    Variable,
)
from mlops.testing.github_payloads import JSON, node_id
from mlops.testing.github_payloads_ci import CIPayloads

READ_ONLY_LABELS = {"self-hosted", "linux", "windows", "macos", "x64", "arm", "arm64"}


class AdminPayloads(CIPayloads):
    """CIPayloads plus repository settings."""

    def protection_url(self, repo: Repository, branch: str) -> str:
        return f"{self.repo_api(repo)}/branches/{quote(branch, safe='')}/protection"

    def branch_protection(self, repo: Repository, protection: BranchProtection) -> JSON:
        """branch-protection (GET)"""
        url = self.protection_url(repo, protection.branch)
        data: JSON = {"url": url, "enabled": True, "name": protection.branch}
        data |= {"protection_url": url}
        data |= self._common(repo, protection, url)
        if protection.reviews is not None:
            data["required_pull_request_reviews"] = self._reviews(repo, protection.reviews, url)
        return data

    def protected_branch(self, repo: Repository, protection: BranchProtection) -> JSON:
        """protected-branch (the answer to a PUT)"""
        url = self.protection_url(repo, protection.branch)
        data: JSON = {"url": url} | self._common(repo, protection, url)
        if protection.reviews is not None:
            data["required_pull_request_reviews"] = self._reviews(repo, protection.reviews, url)
        return data

    def _common(self, repo: Repository, protection: BranchProtection, url: str) -> JSON:
        data: JSON = {}
        if protection.contexts is not None:
            checks_url = f"{url}/required_status_checks"
            data["required_status_checks"] = {
                "url": checks_url, "strict": protection.strict,
                "contexts": list(protection.contexts),
                "checks": [{"context": c, "app_id": None} for c in protection.contexts],
                "contexts_url": f"{checks_url}/contexts",
            }  # fmt: skip
        data["enforce_admins"] = {"url": f"{url}/enforce_admins",
                                  "enabled": protection.enforce_admins}  # fmt: skip
        data["required_signatures"] = {"url": f"{url}/required_signatures", "enabled": False}
        if protection.push_users is not None:
            restrictions = f"{url}/restrictions"
            data["restrictions"] = {
                "url": restrictions, "users_url": f"{restrictions}/users",
                "teams_url": f"{restrictions}/teams", "apps_url": f"{restrictions}/apps",
                "users": [self.user(u) for u in protection.push_users],
                "teams": [self.team(self.state.team(repo.owner, t)) for t in protection.push_teams],
                "apps": [],
            }  # fmt: skip
        for name in FLAGS:
            data[name] = {"enabled": protection.flags.get(name, False)}
        return data

    def _reviews(self, repo: Repository, rule: ReviewRule, url: str) -> JSON:
        data: JSON = {"url": f"{url}/required_pull_request_reviews"}
        data |= {"dismiss_stale_reviews": rule.dismiss_stale_reviews}
        data |= {"require_code_owner_reviews": rule.require_code_owner_reviews}
        data |= {"required_approving_review_count": rule.required_approving_review_count}
        data |= {"require_last_push_approval": rule.require_last_push_approval}
        if rule.dismissal_users is not None:
            dismissal = f"{url}/dismissal_restrictions"
            data["dismissal_restrictions"] = {
                "url": dismissal, "users_url": f"{dismissal}/users",
                "teams_url": f"{dismissal}/teams",
                "users": [self.user(u) for u in rule.dismissal_users],
                "teams": [self.team(self.state.team(repo.owner, t)) for t in rule.dismissal_teams],
                "apps": [],
            }  # fmt: skip
        if rule.bypass_users or rule.bypass_teams:
            data["bypass_pull_request_allowances"] = {
                "users": [self.user(u) for u in rule.bypass_users],
                "teams": [self.team(self.state.team(repo.owner, t)) for t in rule.bypass_teams],
                "apps": [],
            }  # fmt: skip
        return data

    def environment(self, repo: Repository, environment: Environment) -> JSON:
        """environment (its protection rules: wait timer, required reviewers, branch policy)"""
        url = f"{self.repo_api(repo)}/environments/{quote(environment.name, safe='')}"
        html = f"{self.html}/{repo.full_name}/deployments/activity_log"
        data: JSON = {"id": environment.id, "node_id": node_id("Environment", environment.id)}
        data |= {"name": environment.name, "url": url}
        data |= {"html_url": f"{html}?environments_filter={quote(environment.name)}"}
        data |= {"created_at": environment.created_at, "updated_at": environment.updated_at}
        rules: list[JSON] = []

        def rule(kind: str, **fields: object) -> None:
            number = environment.id * 10 + len(rules) + 1
            rules.append({"id": number, "node_id": node_id("Gate", number), "type": kind} | fields)

        if environment.wait_timer:
            rule("wait_timer", wait_timer=environment.wait_timer)
        if environment.users or environment.teams:
            reviewers = [{"type": "User", "reviewer": self.user(u)} for u in environment.users]
            reviewers += [
                {"type": "Team", "reviewer": self.team(self.state.team(repo.owner, t))}
                for t in environment.teams
            ]
            rule("required_reviewers", prevent_self_review=environment.prevent_self_review,
                 reviewers=reviewers)  # fmt: skip
        policy = environment.branch_policy
        if policy is not None:
            rule("branch_policy")
        data["protection_rules"] = rules
        data["deployment_branch_policy"] = (
            None if policy is None
            else {"protected_branches": policy[0], "custom_branch_policies": policy[1]}
        )  # fmt: skip
        return data

    @staticmethod
    def variable(variable: Variable) -> JSON:
        """actions-variable"""
        return {"name": variable.name, "value": variable.value,
                "created_at": variable.created_at, "updated_at": variable.updated_at}  # fmt: skip

    @staticmethod
    def secret(secret: Secret) -> JSON:
        """actions-secret (names and dates only: GitHub never answers a value)"""
        return {"name": secret.name, "created_at": secret.created_at,
                "updated_at": secret.updated_at}  # fmt: skip

    @staticmethod
    def runner(runner: Runner) -> JSON:
        """runner"""
        labels = [
            {"id": runner.id * 100 + i, "name": label,
             "type": "read-only" if label.lower() in READ_ONLY_LABELS else "custom"}
            for i, label in enumerate(runner.labels, 1)
        ]  # fmt: skip
        data: JSON = {"id": runner.id, "runner_group_id": 1, "name": runner.name}
        data |= {"os": runner.os, "status": runner.status, "busy": runner.busy}
        return data | {"labels": labels, "ephemeral": False, "version": "2.323.0"}
