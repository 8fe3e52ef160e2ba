"""The rules GitHub applies to writes, as the local GitHub API server applies them.

Simplifications (documented, deliberate):

- Deployments never merge the default branch into the ref (`auto_merge` is accepted and
  ignored: no 202). `required_contexts` is checked against commit statuses only (not check
  runs): omitted means every context with a status on the sha must be `success`, a list names
  the contexts that must be `success`, `[]` skips the check. A failing check answers 409.
- A `success` deployment status with `auto_inactive` (the default) adds an `inactive` status
  to every earlier, non-transient deployment of the same environment whose latest status is
  `success`.
- A pull request is opened from a branch of the repository itself (`head` is `branch` or
  `owner:branch` with the repository's owner); one from a fork is seeded instead
  (`add_pull_request(head_repo=...)`). `head` and `base` must be branches (else 422 naming the
  field), no open pull request may have the same head and base (422 "A pull request already
  exists for owner:branch."), and the head must have commits the base lacks (422 "No commits
  between base and head"). It takes the next issue number and changes no files.
  `maintainer_can_modify` is accepted and reported false, as GitHub does for a branch of the
  same repository; converting an `issue` into a pull request is refused (422).
- Collaborator permission: a listed collaborator has their role; the owner account is admin;
  anyone else has `read` on a public repository and `none` on a private one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops.testing.github_model import (
    CheckRun,
    Comment,
    Deployment,
    DeploymentStatus,
    Issue,
    Pull,
    Repository,
    Status,
)
from mlops.testing.github_state import GitHubError, GitHubState

MAX_STATUSES = 1000
MAX_ANNOTATIONS = 50
MAX_SUMMARY = 65535
LEGACY_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write"}
NO_ISSUE_CONVERSION = "converting an issue is not supported by the local server"
CHECK_RUN_FIELDS = ("name", "details_url", "external_id", "started_at", "completed_at")


def invalid(resource: str, field: str, code: str = "invalid", message: str = "") -> GitHubError:
    """A 422 Validation Failed naming one field, as GitHub reports it."""
    error = {"resource": resource, "field": field, "code": code}
    if message:
        error["message"] = message
    return GitHubError(422, "Validation Failed", [error])


def custom(resource: str, message: str) -> GitHubError:
    """A 422 Validation Failed whose error carries GitHub's own message (code `custom`)."""
    error = {"resource": resource, "code": "custom", "message": message}
    return GitHubError(422, "Validation Failed", [error])


def pull_key(pull: Pull) -> tuple[str | None, str, str]:
    """What makes an open pull request unique: head repository (None: this one), head, base."""
    return pull.head_repo, pull.head_ref, pull.base_ref


class GitHubRules(GitHubState):
    """GitHubState plus the writes the REST API performs."""

    def commit_sha(self, repo: Repository, sha: str) -> str:
        found = self.resolve(repo, sha)
        if found is None:
            raise GitHubError(422, f"No commit found for SHA: {sha}")
        return found

    # comments and labels ---------------------------------------------------------------------

    def comment(self, repo: str, comment_id: int) -> tuple[Issue, Comment]:
        for issue in self.repository(repo).issues:
            for comment in issue.comments:
                if comment.id == comment_id:
                    return issue, comment
        raise GitHubError(404, "Not Found")

    def create_comment(self, repo: str, number: int, user: str, body: str) -> Comment:
        issue = self.issue(repo, number)
        now = self.now()
        comment = Comment(body, user, self.new_id(), now, now)
        issue.comments.append(comment)
        issue.updated_at = now
        return comment

    def edit_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        _, comment = self.comment(repo, comment_id)
        comment.body, comment.updated_at = body, self.now()
        return comment

    def add_labels(self, repo: str, number: int, names: Iterable[str]) -> Issue:
        record, issue = self.repository(repo), self.issue(repo, number)
        for name in names:
            label = self._label(record, name)
            if label.name not in issue.labels:
                issue.labels.append(label.name)
        issue.updated_at = self.now()
        return issue

    def remove_label(self, repo: str, number: int, name: str) -> Issue:
        issue = self.issue(repo, number)
        kept = [n for n in issue.labels if n.lower() != name.lower()]
        if len(kept) == len(issue.labels):
            raise GitHubError(404, "Label does not exist")
        issue.labels, issue.updated_at = kept, self.now()
        return issue

    # commit statuses and check runs ----------------------------------------------------------

    def create_status(
        self, repo: str, sha: str, state: str, context: str, description: str | None,
        target_url: str | None, creator: str,
    ) -> Status:  # fmt: skip
        """A commit status on a known sha (at most 1000 per sha and context)."""
        record = self.repository(repo)
        sha = self.commit_sha(record, sha)
        same = [s for s in record.statuses if (s.sha, s.context) == (sha, context)]
        if len(same) >= MAX_STATUSES:
            raise GitHubError(
                422, "This SHA and context has reached the maximum number of statuses."
            )
        now = self.now()
        status = Status(sha, state, context, description, target_url, creator, self.new_id())
        status.created_at = status.updated_at = now
        record.statuses.append(status)
        self._account(creator)
        return status

    def latest_statuses(self, repo: Repository, sha: str) -> list[Status]:
        """The latest status of each context on `sha`, newest first."""
        latest: dict[str, Status] = {}
        for status in repo.statuses:
            if status.sha == sha:
                latest[status.context] = status
        return sorted(latest.values(), key=lambda s: s.id, reverse=True)

    @staticmethod
    def combined_state(latest: list[Status]) -> str:
        """failure if any context is error or failure, pending if none or any pending, else
        success."""
        states = {s.state for s in latest}
        if states & {"error", "failure"}:
            return "failure"
        return "pending" if not states or "pending" in states else "success"

    def create_check_run(self, repo: str, app: str, fields: dict[str, Any]) -> CheckRun:
        record = self.repository(repo)
        sha = self.commit_sha(record, fields["head_sha"])
        run = CheckRun(name=fields["name"], head_sha=sha, app=app, id=self.new_id())
        run.started_at = self.now()
        return self.update_check_run(record, run, fields, new=True)

    def update_check_run(
        self, repo: Repository, run: CheckRun, fields: dict[str, Any], *, new: bool = False
    ) -> CheckRun:
        """Apply the fields of a create or update request (annotations accumulate)."""
        output = fields.get("output") or {}
        annotations = output.get("annotations") or []
        if len(annotations) > MAX_ANNOTATIONS:
            raise invalid("CheckRun", "output.annotations", "too_long")
        if len(output.get("summary") or "") > MAX_SUMMARY:
            raise invalid("CheckRun", "output.summary", "too_long")
        status = fields.get("status", run.status)
        conclusion = fields.get("conclusion", run.conclusion)
        if conclusion is not None:
            status = "completed"
        if status == "completed" and conclusion is None:
            raise invalid("CheckRun", "conclusion", "missing_field")
        for name in CHECK_RUN_FIELDS:
            if fields.get(name) is not None:
                setattr(run, name, fields[name])
        run.status, run.conclusion = status, conclusion
        if status == "completed" and run.completed_at is None:
            run.completed_at = self.now()
        for name in ("title", "summary", "text"):
            if name in output:
                setattr(run, name, output[name])
        run.annotations.extend(annotations)
        if "images" in output:
            run.images = list(output["images"])
        if new:
            repo.check_runs.append(run)
        return run

    def check_run(self, repo: str, run_id: int) -> tuple[Repository, CheckRun]:
        record = self.repository(repo)
        for run in record.check_runs:
            if run.id == run_id:
                return record, run
        raise GitHubError(404, "Not Found")

    # deployments -----------------------------------------------------------------------------

    def deployment(self, repo: str, deployment_id: int) -> tuple[Repository, Deployment]:
        record = self.repository(repo)
        for deployment in record.deployments:
            if deployment.id == deployment_id:
                return record, deployment
        raise GitHubError(404, "Not Found")

    def create_deployment(self, repo: str, creator: str, fields: dict[str, Any]) -> Deployment:
        record = self.repository(repo)
        ref = fields["ref"]
        sha = self.resolve(record, ref)
        if sha is None:
            raise GitHubError(422, f"No ref found for: {ref}")
        latest = {s.context: s.state for s in self.latest_statuses(record, sha)}
        required = fields.get("required_contexts")
        required = list(latest) if required is None else required
        failing = [c for c in required if latest.get(c) != "success"]
        if failing:
            contexts = [{"context": c, "state": latest.get(c, "missing")} for c in failing]
            error = {"resource": "Deployment", "field": "required_contexts", "contexts": contexts}
            raise GitHubError(409, f"Conflict: Commit status checks failed for {ref}.", [error])
        environment = fields.get("environment", "production")
        now = self.now()
        deployment = Deployment(ref, sha, environment, fields.get("task", "deploy"))
        deployment.payload = fields.get("payload", {})
        deployment.description = fields.get("description", "")
        deployment.creator, deployment.id = creator, self.new_id()
        deployment.production_environment = fields.get(
            "production_environment", environment == "production"
        )
        deployment.transient_environment = fields.get("transient_environment", False)
        deployment.original_environment = environment
        deployment.created_at = deployment.updated_at = now
        record.deployments.append(deployment)
        return deployment

    def create_deployment_status(
        self, repo: str, deployment_id: int, creator: str, fields: dict[str, Any]
    ) -> DeploymentStatus:
        record, deployment = self.deployment(repo, deployment_id)
        if fields.get("environment"):
            deployment.environment = fields["environment"]
        status = self._deployment_status(deployment, fields["state"], creator)
        status.description = fields.get("description", "")
        status.environment_url = fields.get("environment_url", "")
        status.log_url = fields.get("log_url") or fields.get("target_url", "")
        if status.state == "success" and fields.get("auto_inactive", True):
            for other in record.deployments:
                if (
                    other.id < deployment.id
                    and other.environment == deployment.environment
                    and not other.transient_environment
                    and other.statuses
                    and other.statuses[-1].state == "success"
                ):
                    self._deployment_status(other, "inactive", creator)
        return status

    def _deployment_status(
        self, deployment: Deployment, state: str, creator: str
    ) -> DeploymentStatus:
        now = self.now()
        status = DeploymentStatus(state, creator, environment=deployment.environment)
        status.id, status.created_at, status.updated_at = self.new_id(), now, now
        deployment.statuses.append(status)
        deployment.updated_at = now
        return status

    # issues ----------------------------------------------------------------------------------

    def create_issue(self, repo: str, user: str, fields: dict[str, Any]) -> Issue:
        record = self.repository(repo)
        now = self.now()
        issue = Issue(self.next_number(record), str(fields["title"]), user, fields.get("body"))
        issue.id, issue.created_at, issue.updated_at = self.new_id(), now, now
        issue.assignees = [a for a in fields.get("assignees") or [] if self._known(a)]
        record.issues.append(issue)
        return self.add_labels(repo, issue.number, self._label_names(fields.get("labels")))

    def edit_issue(self, repo: str, number: int, user: str, fields: dict[str, Any]) -> Issue:
        issue = self.issue(repo, number)
        for name in ("title", "body"):
            if name in fields:
                setattr(issue, name, fields[name])
        if "assignees" in fields:
            issue.assignees = [a for a in fields["assignees"] or [] if self._known(a)]
        if "labels" in fields:
            issue.labels = []
            self.add_labels(repo, number, self._label_names(fields["labels"]))
        state = fields.get("state", issue.state)
        issue.updated_at = now = self.now()
        if state == "closed" and issue.state == "open":
            issue.closed_at, issue.closed_by = now, user
            issue.state_reason = fields.get("state_reason") or "completed"
        elif state == "open" and issue.state == "closed":
            issue.closed_at, issue.closed_by, issue.state_reason = None, None, "reopened"
        elif "state_reason" in fields:
            issue.state_reason = fields["state_reason"]
        issue.state = state
        return issue

    # pull requests ---------------------------------------------------------------------------

    def create_pull(self, repo: str, user: str, fields: dict[str, Any]) -> Issue:
        """Open a pull request from branch `head` (or `owner:branch` of this repository) into
        branch `base`; it is an issue with the next number."""
        record = self.repository(repo)
        if "issue" in fields:
            raise invalid("PullRequest", "issue", message=NO_ISSUE_CONVERSION)
        if not fields.get("title"):
            raise invalid("Issue", "title", "missing_field")
        base = fields["base"]
        owner, _, head = fields["head"].rpartition(":")
        base_sha = self.branch_sha(record, base)
        ours = owner.lower() in ("", record.owner.lower())
        head_sha = self.branch_sha(record, head) if ours else None
        if base_sha is None or head_sha is None:
            wrong = [name for name, sha in (("base", base_sha), ("head", head_sha)) if not sha]
            errors = [
                {"resource": "PullRequest", "field": name, "code": "invalid"} for name in wrong
            ]
            raise GitHubError(422, "Validation Failed", errors)
        key = (None, head, base)
        if any(i.state == "open" and i.pull and pull_key(i.pull) == key for i in record.issues):
            label = f"{record.owner}:{head}"
            raise custom("PullRequest", f"A pull request already exists for {label}.")
        if head_sha in self.history(record, base_sha):
            raise custom("PullRequest", f"No commits between {base} and {head}")
        now = self.now()
        issue = Issue(self.next_number(record), str(fields["title"]), user, fields.get("body"))
        issue.pull = Pull(head, head_sha, base, base_sha, draft=bool(fields.get("draft")))
        issue.id, issue.created_at, issue.updated_at = self.new_id(), now, now
        record.issues.append(issue)
        return issue

    def _known(self, login: str) -> bool:
        return any(u.login.lower() == login.lower() for u in self.data.users)

    @staticmethod
    def _label_names(labels: Any) -> list[str]:
        return [v if isinstance(v, str) else v["name"] for v in labels or []]

    # teams and permissions -------------------------------------------------------------------

    def membership_role(self, org: str, slug: str, login: str) -> str | None:
        team = self.team(org, slug)
        if any(m.lower() == login.lower() for m in team.maintainers):
            return "maintainer"
        return "member" if any(m.lower() == login.lower() for m in team.members) else None

    def permission(self, repo: str, login: str) -> str:
        """The role of `login` on the repository: admin, maintain, write, triage, read, none."""
        record = self.repository(repo)
        user = self.user(login)
        for name, role in record.collaborators.items():
            if name.lower() == user.login.lower():
                return role
        if user.login.lower() == record.owner.lower():
            return "admin"
        return "none" if record.private else "read"

    @staticmethod
    def legacy_permission(role: str) -> str:
        """The `permission` field: admin, write, read or none (maintain→write, triage→read)."""
        return LEGACY_PERMISSION.get(role, "none" if role == "none" else "read")
