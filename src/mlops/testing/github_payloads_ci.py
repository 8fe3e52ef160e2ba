"""JSON bodies of the local GitHub API server for commit statuses, check runs and deployments.

The builders for accounts, repositories, issues and pull requests are in `github_payloads`.
"""

from __future__ import annotations

from mlops.testing.github_model import (
    CheckRun,
    Deployment,
    DeploymentStatus,
    Issue,
    Pull,
    Repository,
    Status,
)
from mlops.testing.github_payloads import JSON, Payloads, node_id


class CIPayloads(Payloads):
    """Payloads plus commit statuses, check runs and deployments."""

    def status(self, repo: Repository, status: Status, *, simple: bool = False) -> JSON:
        """status, or simple-commit-status (inside a combined status)"""
        creator = self.user(status.creator)
        data: JSON = {"id": status.id, "node_id": node_id("StatusContext", status.id)}
        data |= {"url": f"{self.repo_api(repo)}/statuses/{status.sha}", "state": status.state}
        data |= {"avatar_url": creator["avatar_url"], "description": status.description}
        data |= {"target_url": status.target_url, "context": status.context}
        data |= {"created_at": status.created_at, "updated_at": status.updated_at}
        return data if simple else data | {"creator": creator}

    def combined_status(self, repo: Repository, sha: str) -> JSON:
        """combined-commit-status"""
        latest = self.state.latest_statuses(repo, sha)
        url = f"{self.repo_api(repo)}/commits/{sha}"
        data: JSON = {"state": self.state.combined_state(latest), "sha": sha}
        data |= {"statuses": [self.status(repo, s, simple=True) for s in latest]}
        data |= {"total_count": len(latest), "repository": self.repository(repo.full_name)}
        return data | {"commit_url": url, "url": f"{url}/status"}

    def check_run(self, repo: Repository, run: CheckRun) -> JSON:
        """check-run"""
        url = f"{self.repo_api(repo)}/check-runs/{run.id}"
        output: JSON = {"title": run.title, "summary": run.summary, "text": run.text}
        output |= {"annotations_count": len(run.annotations)}
        output |= {"annotations_url": f"{url}/annotations"}
        data: JSON = {
            "id": run.id,
            "node_id": node_id("CheckRun", run.id),
            "head_sha": run.head_sha,
        }
        data |= {"external_id": run.external_id, "url": url, "details_url": run.details_url}
        data |= {"html_url": f"{self.html}/{repo.full_name}/runs/{run.id}", "name": run.name}
        data |= {"status": run.status, "conclusion": run.conclusion, "output": output}
        data |= {"started_at": run.started_at, "completed_at": run.completed_at}
        data |= {"check_suite": {"id": run.id}, "app": self.app(repo, run.app)}
        pulls = [i for i in repo.issues if i.pull and i.pull.head_sha == run.head_sha]
        return data | {"pull_requests": [self.minimal_pull(repo, i) for i in pulls]}

    def app(self, repo: Repository, slug: str) -> JSON:
        """nullable-integration (the App of the installation token that made a check run)"""
        bots = [u for u in self.state.data.users if u.login == f"{slug}[bot]"]
        owner = bots[0].login if bots else repo.owner
        app_id = bots[0].id if bots else 1
        data: JSON = {"id": app_id, "slug": slug, "node_id": node_id("App", app_id), "name": slug}
        data |= {"owner": self.user(owner), "description": None}
        data |= {"external_url": f"{self.html}/apps/{slug}"}
        data |= {"html_url": f"{self.html}/apps/{slug}", "permissions": {}, "events": []}
        created = bots[0].created_at if bots else self.state.data.clock
        return data | {"created_at": created, "updated_at": created}

    def minimal_pull(self, repo: Repository, issue: Issue) -> JSON:
        """pull-request-minimal"""
        pull: Pull = issue.pull  # type: ignore[assignment]
        repo_ref = {"id": repo.id, "url": self.repo_api(repo), "name": repo.name}
        data: JSON = {"id": issue.id, "number": issue.number}
        data |= {"url": f"{self.repo_api(repo)}/pulls/{issue.number}"}
        data |= {"head": {"ref": pull.head_ref, "sha": pull.head_sha, "repo": repo_ref}}
        return data | {"base": {"ref": pull.base_ref, "sha": pull.base_sha, "repo": repo_ref}}

    def deployment(self, repo: Repository, deployment: Deployment) -> JSON:
        """deployment"""
        url = f"{self.repo_api(repo)}/deployments/{deployment.id}"
        data: JSON = {"id": deployment.id, "node_id": node_id("Deployment", deployment.id)}
        data |= {"url": url, "sha": deployment.sha, "ref": deployment.ref}
        data |= {"task": deployment.task, "payload": deployment.payload}
        data |= {"original_environment": deployment.original_environment}
        data |= {"environment": deployment.environment, "description": deployment.description}
        data |= {"creator": self.user(deployment.creator), "statuses_url": f"{url}/statuses"}
        data |= {"created_at": deployment.created_at, "updated_at": deployment.updated_at}
        data |= {"repository_url": self.repo_api(repo)}
        data |= {"transient_environment": deployment.transient_environment}
        return data | {"production_environment": deployment.production_environment}

    def deployment_status(
        self, repo: Repository, deployment: Deployment, status: DeploymentStatus
    ) -> JSON:
        """deployment-status (`target_url` mirrors `log_url`, as on GitHub)"""
        deployment_url = f"{self.repo_api(repo)}/deployments/{deployment.id}"
        data: JSON = {"id": status.id, "node_id": node_id("DeploymentStatus", status.id)}
        data |= {"url": f"{deployment_url}/statuses/{status.id}", "state": status.state}
        data |= {"creator": self.user(status.creator), "description": status.description}
        data |= {"environment": status.environment, "target_url": status.log_url}
        data |= {"log_url": status.log_url, "environment_url": status.environment_url}
        data |= {"created_at": status.created_at, "updated_at": status.updated_at}
        return data | {"deployment_url": deployment_url, "repository_url": self.repo_api(repo)}
