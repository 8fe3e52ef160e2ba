"""JSON bodies of the local GitHub API server, built from its records.

Each builder answers one schema of GitHub's OpenAPI description (named in its docstring).
Every URL derives from the server's own bases: `api` (e.g. http://127.0.0.1:PORT/api/v3) for
API URLs and `html` (http://127.0.0.1:PORT) for web URLs, the layout of GitHub Enterprise
Server, so PyGithub follows them back to the same server.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote

from mlops.testing.github_model import (
    ChangedFile,
    Comment,
    Commit,
    File,
    Issue,
    Label,
    Pull,
    Repository,
    Review,
    Team,
    User,
)
from mlops.testing.github_rules import GitHubRules

JSON = dict[str, Any]
REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
    "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
    "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}", "languages_url": "/languages",
    "merges_url": "/merges", "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
    "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}  # fmt: skip
USER_URLS = {
    "followers_url": "/followers", "following_url": "/following{/other_user}",
    "gists_url": "/gists{/gist_id}", "starred_url": "/starred{/owner}{/repo}",
    "subscriptions_url": "/subscriptions", "organizations_url": "/orgs", "repos_url": "/repos",
    "events_url": "/events{/privacy}", "received_events_url": "/received_events",
}  # fmt: skip
SIMPLE_PULL_KEYS = (
    "url", "id", "node_id", "html_url", "diff_url", "patch_url", "issue_url", "commits_url",
    "review_comments_url", "review_comment_url", "comments_url", "statuses_url", "number",
    "state", "locked", "title", "user", "body", "labels", "milestone", "active_lock_reason",
    "created_at", "updated_at", "closed_at", "merged_at", "merge_commit_sha", "assignee",
    "assignees", "requested_reviewers", "requested_teams", "head", "base", "_links",
    "author_association", "auto_merge", "draft",
)  # fmt: skip
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"{len(kind):02d}:{kind}{number}".encode()).decode()


def blob_sha(content: bytes) -> str:
    """The git blob id of `content`, as GitHub reports it."""
    header = f"blob {len(content)}\0".encode()
    return hashlib.sha1(header + content, usedforsecurity=False).hexdigest()


class Payloads:
    """Builds response bodies for `state`, with URLs under `api` and `html`."""

    def __init__(self, state: GitHubRules, api: str, html: str) -> None:
        self.state, self.api, self.html = state, api.rstrip("/"), html.rstrip("/")

    def repo_api(self, repo: Repository) -> str:
        return f"{self.api}/repos/{repo.full_name}"

    # accounts --------------------------------------------------------------------------------

    def user(self, login: str) -> JSON:
        """simple-user"""
        user = self.state.user(login)
        url = f"{self.api}/users/{quote(user.login, safe='')}"
        web = user.login.removesuffix("[bot]")
        html = f"{self.html}/apps/{web}" if user.type == "Bot" else f"{self.html}/{web}"
        data: JSON = {"login": user.login, "id": user.id, "node_id": node_id(user.type, user.id)}
        data |= {"avatar_url": f"{self.html}/avatars/u/{user.id}", "gravatar_id": ""}
        data |= {"url": url, "html_url": html, "type": user.type, "site_admin": False}
        data |= {key: url + suffix for key, suffix in USER_URLS.items()}
        return data | {"user_view_type": "public"}

    def maybe_user(self, login: str | None) -> JSON | None:
        return self.user(login) if login else None

    def full_user(self, login: str, *, private: bool) -> JSON:
        """public-user, or private-user for the authenticated user"""
        user: User = self.state.user(login)
        data = self.user(login) | {"name": user.name, "email": user.email, "company": None}
        data |= {"blog": "", "location": None, "hireable": None, "bio": None}
        data |= {"twitter_username": None, "public_repos": 0, "public_gists": 0}
        data |= {"followers": 0, "following": 0}
        data |= {"created_at": user.created_at, "updated_at": user.created_at}
        if private:
            data |= {"private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0}
            data |= {"disk_usage": 0, "collaborators": 0, "two_factor_authentication": True}
        return data | {"user_view_type": "private" if private else "public"}

    def organization(self, login: str) -> JSON:
        """organization-full"""
        org = self.state.user(login)
        url = f"{self.api}/orgs/{org.login}"
        data: JSON = {"login": org.login, "id": org.id, "node_id": node_id("Organization", org.id)}
        data |= {"url": url, "repos_url": f"{url}/repos", "events_url": f"{url}/events"}
        data |= {"hooks_url": f"{url}/hooks", "issues_url": f"{url}/issues"}
        data |= {"members_url": f"{url}/members{{/member}}"}
        data |= {"public_members_url": f"{url}/public_members{{/member}}"}
        data |= {"avatar_url": f"{self.html}/avatars/u/{org.id}", "description": None}
        data |= {"html_url": f"{self.html}/{org.login}", "name": org.name or org.login}
        data |= {"has_organization_projects": True, "has_repository_projects": True}
        data |= {"public_repos": 0, "public_gists": 0, "followers": 0, "following": 0}
        data |= {"created_at": org.created_at, "updated_at": org.created_at}
        return data | {"type": "Organization", "archived_at": None}

    def team(self, team: Team, *, full: bool = False) -> JSON:
        """team-simple / team, or team-full"""
        url = f"{self.api}/orgs/{team.org}/teams/{team.slug}"
        org = self.state.user(team.org)
        data: JSON = {"id": team.id, "node_id": node_id("Team", team.id), "url": url}
        data |= {"html_url": f"{self.html}/orgs/{team.org}/teams/{team.slug}"}
        data |= {"name": team.name, "slug": team.slug, "description": team.description}
        data |= {"privacy": "closed", "notification_setting": "notifications_enabled"}
        data |= {"permission": "pull", "members_url": f"{url}/members{{/member}}"}
        data |= {"repositories_url": f"{url}/repos", "parent": None, "type": "organization"}
        data |= {"organization_id": org.id}
        if full:
            members = {m.lower() for m in [*team.members, *team.maintainers]}
            data |= {"members_count": len(members), "repos_count": 0}
            data |= {"created_at": team.created_at, "updated_at": team.created_at}
            data |= {"organization": self.organization(team.org)}
        return data

    def collaborator(self, repo: str, login: str) -> JSON:
        """repository-collaborator-permission"""
        role = self.state.permission(repo, login)
        legacy = self.state.legacy_permission(role)
        ranks = ["none", "read", "triage", "write", "maintain", "admin"]
        rank = ranks.index(role) if role in ranks else 0
        names = ("pull", "triage", "push", "maintain", "admin")
        user = self.user(login) | {"role_name": role}
        user["permissions"] = {name: rank > i for i, name in enumerate(names)}
        return {"permission": legacy, "role_name": role, "user": user}

    # repositories, commits, contents ---------------------------------------------------------

    def repository(self, full_name: str, *, full: bool = False) -> JSON:
        """repository, or full-repository"""
        found = [r for r in self.state.data.repositories if r.full_name == full_name]
        repo = found[0] if found else Repository(full_name=full_name, id=0)
        owner, name = full_name.split("/", 1)
        url = f"{self.api}/repos/{full_name}"
        html = f"{self.html}/{full_name}"
        host = self.html.split("://", 1)[1]
        created = repo.created_at or self.state.data.clock
        open_issues = sum(i.state == "open" for i in repo.issues)
        repo_id = repo.id or int(blob_sha(full_name.encode())[:7], 16)
        data: JSON = {"id": repo_id, "name": name, "full_name": full_name}
        data |= {"node_id": node_id("Repository", repo_id)}
        data |= {"owner": self.user(owner), "private": repo.private, "html_url": html}
        data |= {"description": repo.description, "fork": not found, "url": url}
        data |= {key: url + suffix for key, suffix in REPO_URLS.items()}
        data |= {"git_url": f"git://{host}/{full_name}.git", "ssh_url": f"git@{host}:{full_name}"}
        data |= {"clone_url": f"{html}.git", "svn_url": html, "mirror_url": None}
        data |= {
            "homepage": None,
            "language": None,
            "size": 0,
            "default_branch": repo.default_branch,
        }
        for key in ("forks", "forks_count", "stargazers_count", "watchers_count", "watchers"):
            data[key] = 0
        data |= {"open_issues_count": open_issues, "open_issues": open_issues}
        for key in ("has_issues", "has_projects", "has_wiki", "has_downloads"):
            data[key] = True
        data |= {"has_pages": False, "has_discussions": False, "archived": False}
        data |= {"disabled": False, "license": None, "topics": [], "is_template": False}
        data |= {"visibility": "private" if repo.private else "public"}
        data |= {"pushed_at": created, "created_at": created, "updated_at": created}
        if full:
            data |= {"network_count": 0, "subscribers_count": 0}
        return data

    def commit(self, repo: Repository, commit: Commit) -> JSON:
        """commit"""
        url = f"{self.repo_api(repo)}/commits/{commit.sha}"
        html = f"{self.html}/{repo.full_name}/commit/{commit.sha}"
        who = self.state.user(commit.author) if commit.author else None
        git_user = {"name": who.name or who.login if who else "unknown", "date": commit.created_at}
        git_user["email"] = (who.email if who else None) or "noreply@example.invalid"
        tree = {"sha": commit.sha, "url": f"{self.repo_api(repo)}/git/trees/{commit.sha}"}
        verification: JSON = {"verified": False, "reason": "unsigned", "signature": None}
        verification |= {"payload": None, "verified_at": None}
        inner: JSON = {"url": f"{self.repo_api(repo)}/git/commits/{commit.sha}", "tree": tree}
        inner |= {"author": git_user, "committer": git_user, "message": commit.message}
        inner |= {"comment_count": 0, "verification": verification}
        parents = [
            {"sha": p, "url": f"{self.repo_api(repo)}/commits/{p}", "html_url": html[:-40] + p}
            for p in commit.parents
        ]
        data: JSON = {"sha": commit.sha, "node_id": node_id("Commit", int(commit.sha[:7], 16))}
        data |= {"url": url, "html_url": html, "comments_url": f"{url}/comments"}
        data |= {"commit": inner, "parents": parents, "files": []}
        data |= {"author": self.maybe_user(commit.author)}
        data |= {"committer": self.maybe_user(commit.author)}
        return data | {"stats": {"total": 0, "additions": 0, "deletions": 0}}

    def content_file(self, repo: Repository, file: File, ref: str) -> JSON:
        """content-file (base64, wrapped every 60 characters like GitHub)"""
        raw = file.content.encode()
        encoded = base64.b64encode(raw).decode()
        wrapped = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
        sha = blob_sha(raw)
        url = f"{self.repo_api(repo)}/contents/{quote(file.path)}?ref={quote(ref, safe='')}"
        git = f"{self.repo_api(repo)}/git/blobs/{sha}"
        html = f"{self.html}/{repo.full_name}/blob/{ref}/{quote(file.path)}"
        data: JSON = {"type": "file", "encoding": "base64", "size": len(raw), "sha": sha}
        data |= {"name": file.path.rsplit("/", 1)[-1], "path": file.path, "content": wrapped}
        data |= {"url": url, "git_url": git, "html_url": html}
        data |= {"download_url": f"{self.html}/{repo.full_name}/raw/{ref}/{quote(file.path)}"}
        return data | {"_links": {"self": url, "git": git, "html": html}}

    # issues, pull requests, comments, labels --------------------------------------------------

    def association(self, repo: Repository, login: str) -> str:
        """author-association"""
        if login.lower() == repo.owner.lower():
            return "OWNER"
        if login in repo.collaborators:
            return "COLLABORATOR"
        teams = [t for t in self.state.data.teams if t.org == repo.owner]
        return "MEMBER" if any(login in [*t.members, *t.maintainers] for t in teams) else "NONE"

    def label(self, repo: Repository, name: str) -> JSON:
        """label"""
        label: Label = self.state._label(repo, name)
        data: JSON = {"id": label.id, "node_id": node_id("Label", label.id), "name": label.name}
        data |= {"url": f"{self.repo_api(repo)}/labels/{quote(label.name, safe='')}"}
        return data | {"color": label.color, "description": label.description, "default": False}

    def issue(self, repo: Repository, issue: Issue) -> JSON:
        """issue (a pull request carries `pull_request`)"""
        url = f"{self.repo_api(repo)}/issues/{issue.number}"
        kind = "pull" if issue.pull else "issues"
        html = f"{self.html}/{repo.full_name}/{kind}/{issue.number}"
        data: JSON = {"id": issue.id, "node_id": node_id("Issue", issue.id), "url": url}
        data |= {"repository_url": self.repo_api(repo), "labels_url": f"{url}/labels{{/name}}"}
        data |= {"comments_url": f"{url}/comments", "events_url": f"{url}/events"}
        data |= {"html_url": html, "timeline_url": f"{url}/timeline", "number": issue.number}
        data |= {"title": issue.title, "body": issue.body, "user": self.user(issue.user)}
        data |= {"labels": [self.label(repo, name) for name in issue.labels]}
        data |= {"state": issue.state, "state_reason": issue.state_reason, "locked": False}
        data |= {"assignees": [self.user(a) for a in issue.assignees]}
        data |= {"assignee": self.user(issue.assignees[0]) if issue.assignees else None}
        data |= {"milestone": None, "comments": len(issue.comments), "active_lock_reason": None}
        data |= {"created_at": issue.created_at, "updated_at": issue.updated_at}
        data |= {"closed_at": issue.closed_at, "closed_by": self.maybe_user(issue.closed_by)}
        data |= {"author_association": self.association(repo, issue.user)}
        data |= {"reactions": self.reactions(url)}
        if issue.pull:
            pull_url = f"{self.repo_api(repo)}/pulls/{issue.number}"
            links = {"url": pull_url, "html_url": html, "merged_at": issue.pull.merged_at}
            links |= {"diff_url": f"{html}.diff", "patch_url": f"{html}.patch"}
            data |= {"pull_request": links, "draft": issue.pull.draft}
        return data

    def reactions(self, url: str) -> JSON:
        return {"url": f"{url}/reactions", "total_count": 0} | dict.fromkeys(REACTIONS, 0)

    def comment(self, repo: Repository, issue: Issue, comment: Comment) -> JSON:
        """issue-comment"""
        url = f"{self.repo_api(repo)}/issues/comments/{comment.id}"
        kind = "pull" if issue.pull else "issues"
        html = f"{self.html}/{repo.full_name}/{kind}/{issue.number}#issuecomment-{comment.id}"
        data: JSON = {"id": comment.id, "node_id": node_id("IssueComment", comment.id), "url": url}
        data |= {"html_url": html, "body": comment.body, "user": self.user(comment.user)}
        data |= {"created_at": comment.created_at, "updated_at": comment.updated_at}
        data |= {"issue_url": f"{self.repo_api(repo)}/issues/{issue.number}"}
        data |= {"author_association": self.association(repo, comment.user)}
        return data | {"reactions": self.reactions(url)}

    def pull(self, repo: Repository, issue: Issue) -> JSON:
        """pull-request"""
        pull: Pull = issue.pull  # type: ignore[assignment]
        url = f"{self.repo_api(repo)}/pulls/{issue.number}"
        issue_data = self.issue(repo, issue)
        html = issue_data["html_url"]
        data: JSON = {
            k: issue_data[k] for k in ("id", "number", "state", "locked", "title", "user")
        }
        data |= {k: issue_data[k] for k in ("body", "labels", "milestone", "active_lock_reason")}
        data |= {k: issue_data[k] for k in ("created_at", "updated_at", "closed_at")}
        data |= {k: issue_data[k] for k in ("assignee", "assignees", "author_association")}
        data |= {"node_id": node_id("PullRequest", issue.id), "url": url, "html_url": html}
        data |= {"diff_url": f"{html}.diff", "patch_url": f"{html}.patch"}
        data |= {"issue_url": issue_data["url"], "commits_url": f"{url}/commits"}
        data |= {"review_comments_url": f"{url}/comments"}
        data |= {"comments_url": issue_data["comments_url"]}
        data |= {"review_comment_url": f"{self.repo_api(repo)}/pulls/comments{{/number}}"}
        data |= {"statuses_url": f"{self.repo_api(repo)}/statuses/{pull.head_sha}"}
        data |= {"merged_at": pull.merged_at, "merge_commit_sha": pull.merge_commit_sha}
        data |= {"merged": pull.merged, "merged_by": self.maybe_user(pull.merged_by)}
        data |= {"requested_reviewers": [self.user(u) for u in pull.requested_reviewers]}
        data |= {"requested_teams": [self.team(t) for t in self.requested_teams(repo, pull)]}
        head_repo = pull.head_repo or repo.full_name
        data |= {"head": self.branch(head_repo, pull.head_ref, pull.head_sha)}
        data |= {"base": self.branch(repo.full_name, pull.base_ref, pull.base_sha)}
        links = {"self": url, "html": html, "issue": issue_data["url"]}
        links |= {"comments": issue_data["comments_url"], "commits": f"{url}/commits"}
        links |= {"review_comments": f"{url}/comments"}
        links |= {"review_comment": data["review_comment_url"], "statuses": data["statuses_url"]}
        data |= {"_links": {key: {"href": value} for key, value in links.items()}}
        data |= {"auto_merge": None, "draft": pull.draft, "mergeable": not pull.merged}
        data |= {"rebaseable": not pull.merged, "mergeable_state": "clean"}
        data |= {"comments": len(issue.comments), "review_comments": 0}
        data |= {"maintainer_can_modify": False, "commits": 1, "changed_files": len(pull.files)}
        data |= {"additions": sum(f.additions for f in pull.files)}
        return data | {"deletions": sum(f.deletions for f in pull.files)}

    def pull_simple(self, repo: Repository, issue: Issue) -> JSON:
        """pull-request-simple (the pull request as lists show it)"""
        full = self.pull(repo, issue)
        return {key: full[key] for key in SIMPLE_PULL_KEYS}

    def requested_teams(self, repo: Repository, pull: Pull) -> list[Team]:
        return [self.state.team(repo.owner, slug) for slug in pull.requested_teams]

    def branch(self, full_name: str, ref: str, sha: str) -> JSON:
        owner = full_name.split("/", 1)[0]
        data: JSON = {"label": f"{owner}:{ref}", "ref": ref, "sha": sha, "user": self.user(owner)}
        return data | {"repo": self.repository(full_name)}

    def diff_entry(self, repo: Repository, pull: Pull, changed: ChangedFile) -> JSON:
        """diff-entry"""
        path = quote(changed.filename)
        data: JSON = {"sha": blob_sha(f"{pull.head_sha}:{changed.filename}".encode())}
        data |= {"filename": changed.filename, "status": changed.status}
        data |= {"additions": changed.additions, "deletions": changed.deletions}
        data |= {"changes": changed.additions + changed.deletions}
        data |= {"blob_url": f"{self.html}/{repo.full_name}/blob/{pull.head_sha}/{path}"}
        data |= {"raw_url": f"{self.html}/{repo.full_name}/raw/{pull.head_sha}/{path}"}
        data |= {"contents_url": f"{self.repo_api(repo)}/contents/{path}?ref={pull.head_sha}"}
        if changed.previous_filename:
            data["previous_filename"] = changed.previous_filename
        return data

    def review(self, repo: Repository, issue: Issue, review: Review) -> JSON:
        """pull-request-review"""
        pull_url = f"{self.repo_api(repo)}/pulls/{issue.number}"
        html = f"{self.html}/{repo.full_name}/pull/{issue.number}#pullrequestreview-{review.id}"
        data: JSON = {"id": review.id, "node_id": node_id("PullRequestReview", review.id)}
        data |= {"user": self.user(review.user), "body": review.body, "state": review.state}
        data |= {"html_url": html, "pull_request_url": pull_url, "commit_id": review.commit_id}
        data |= {"_links": {"html": {"href": html}, "pull_request": {"href": pull_url}}}
        data |= {"submitted_at": review.submitted_at}
        return data | {"author_association": self.association(repo, review.user)}
