"""`mlops catalogue`: the model catalogue as a static site, opened in headless Chromium.

A real git repository holds main with two merged pull requests (a first production version,
then a newer one) and a revert of the second pushed straight to main (a rollback); the local
GitHub API server holds the same pull requests and two alert issues monitoring opened (one
since closed), and checks every request against GitHub's OpenAPI description. The tracking
store was never created, which the pages must say instead of showing empty results.

The overview is rendered by Debian's chromium (its DOM read back, and a screenshot kept as a
test artifact: in MLOPS_TEST_ARTIFACTS, else the test environment's `artifacts` folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from registry_history import dated, github_env, merged_pull, repository_on_github
from servers import free_port
from support import bare_origin, git, make_repository, require_system

from mlops.adapters.github import GitHub
from mlops.testing.github_server import GitHubServer

REPO = "acme/models"
MODEL = "breast-cancer"
BOT = "ghs_bot"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--hide-scrollbars", "--window-size=1280,1600"]  # fmt: skip
INSTALL = "run scripts/bootstrap (Debian's chromium)"


def chromium() -> str:
    """Debian's chromium (or MLOPS_CHROMIUM)."""
    candidates = [os.environ.get("MLOPS_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    found = next((c for c in candidates if c and Path(c).exists()), None)
    require_system("chromium", found is not None, INSTALL)
    assert found is not None
    return found


def browse(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium(), *CHROMIUM_ARGS, *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip


def artifacts(tmp_path: Path) -> Path:
    """Where a test keeps what a person looks at afterwards."""
    if os.environ.get("MLOPS_TEST_ARTIFACTS"):
        folder = Path(os.environ["MLOPS_TEST_ARTIFACTS"])
    elif sys.prefix != sys.base_prefix:  # the nox session's environment
        folder = Path(sys.prefix) / "artifacts"
    else:
        folder = tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def story(tmp_path: Path, gh: GitHubServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    github_env(gh, monkeypatch, REPO, BOT)
    now = datetime.now(UTC).replace(microsecond=0)
    root = repository_on_github(gh, REPO, tmp_path / "repo", MODEL)
    # pull requests opened now (by the server's clock), merged one and two hours from now
    first = merged_pull(gh, REPO, root, MODEL, 1, {"staging": "1", "production": "1"},
                        versions={"1": 0.97}, when=now + timedelta(hours=1),
                        monkeypatch=monkeypatch)  # fmt: skip
    second = merged_pull(gh, REPO, root, MODEL, 2, {"staging": "2", "production": "2"},
                         versions={"1": 0.97, "2": 0.99}, when=now + timedelta(hours=2),
                         monkeypatch=monkeypatch)  # fmt: skip
    dated(monkeypatch, now + timedelta(hours=3))
    git(root, "revert", "--no-edit", "-m", "1", second)
    gh.add_commit(REPO, git(root, "rev-parse", "HEAD"), parents=(second,), branch="main")
    issues = {}
    for kind in ("drift", "quality"):
        body = f"<!-- mlops-alert: {MODEL}/production/{kind} -->\n{kind} past its threshold"
        issues[kind] = gh.add_issue(REPO, title=f"{MODEL}: {kind} alert in production",
                                    author="alice", body=body, labels=["mlops-alert"])  # fmt: skip
    GitHub(REPO, BOT).comment_issue(issues["quality"], "recovered", close=True)
    months = sorted({(now + timedelta(hours=h)).strftime("%Y-%m") for h in (1, 2, 3)})
    return {"root": root, "first": first, "issues": issues, "months": months}


class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [v for k, v in attrs if k in ("href", "src") and v is not None]


def broken_links(site: Path) -> list[str]:
    """Links of the site's pages that name no file of the site (external http(s) allowed)."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        parser = Links()
        parser.feed(page.read_text())
        assert parser.found, f"{page} has no links"
        for link in parser.found:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if parts.scheme or not parts.path or not target.is_file() or site not in target.parents:
                broken.append(f"{page.relative_to(site)}: {link}")
    return broken


@pytest.mark.system  # chromium
def test_the_overview_renders_in_chromium_with_every_link_resolving(
    cli, story: dict[str, Any], tmp_path: Path
) -> None:
    """It renders the overview (production models with owners and version, deploys and
    rollbacks per month, pull-request-to-production times, incidents) and one page per
    model; Chromium shows them from file://, every link names a file of the site, and the
    screenshot is kept."""
    site = tmp_path / "out" / "site"
    done = cli("--repo", story["root"], "catalogue", "--out", site, "--json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert (data["deploys"], data["rollbacks"]) == (2, 1)
    assert [p["name"] for p in data["in_production"]] == [MODEL]
    assert data["in_production"][0]["version"] == "1"  # the revert rolled back to 1
    assert sum(m["deploys"] for m in data["months"]) == 2
    assert [m["month"] for m in data["months"]][-1] == story["months"][-1]
    lead = data["lead_time_hours"]
    assert [(p["pull"], p["until"]) for p in lead["pull_requests"]] == [(1, "merge"), (2, "merge")]
    assert 0.9 <= lead["median"] <= 1.6
    assert [(i["kind"], i["closed"] is None) for i in data["incidents"]] in (
        [("drift", True), ("quality", False)], [("quality", False), ("drift", True)])  # fmt: skip
    assert data["sources"]["tracking"].startswith("not available: ")
    assert sorted(data["files"]) == sorted(["index.html", "style.css", f"models/{MODEL}.html"])

    assert broken_links(site) == []
    dom = browse(site / "index.html", "--dump-dom").stdout
    assert "<h1>Overview</h1>" in dom
    for text in (
        f'href="models/{MODEL}.html">{MODEL}</a>',
        "v1",
        "@acme/clinical-ml",
        "roc_auc 0.97",
        "Deploys and rollbacks per month",
        story["months"][0],
        f"#{story['issues']['drift']}",
        "Time from pull request to production",
    ):
        assert text in dom, text
    assert dom.count('class="figure"') == 6
    model = browse(site / "models" / f"{MODEL}.html", "--dump-dom").stdout
    for text in (
        "Model card",
        "Intended use",
        "rollback",
        "Open alerts",
        "drift",
        "Not available: the tracking store",
    ):
        assert text in model, text
    assert "model_name:" not in model and "&lt;!--" not in model  # card metadata left out
    assert f"#{story['issues']['quality']}" not in model.split("Open alerts")[1].split("</ul>")[0]

    shot = artifacts(tmp_path) / "catalogue-overview.png"
    shot.unlink(missing_ok=True)
    browse(site / "index.html", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_without_github_incidents_and_lead_times_are_unknown_not_zero(
    cli, story: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without GitHub the deploys and rollbacks still come from git, while incidents and the
    time from pull request to production are unknown, and the page says why."""
    monkeypatch.delenv("GITHUB_TOKEN")
    site = tmp_path / "site"
    done = cli("--repo", story["root"], "catalogue", "--out", site, "--json", "--no-tracking")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert (data["deploys"], data["rollbacks"], data["incidents"]) == (2, 1, None)
    assert data["lead_time_hours"] == {"median": None, "pull_requests": []}
    assert {m["incidents"] for m in data["months"]} == {None}
    index = (site / "index.html").read_text()
    assert 'github</strong>: <span class="bad">not available: set GITHUB_TOKEN' in index
    assert "Unknown: alert issues are read from GitHub" in index


def test_publishing_commits_the_site_to_the_pages_branch_without_touching_the_checkout(
    cli, story: dict[str, Any], tmp_path: Path
) -> None:
    """It pushes the site as a commit of the Pages branch (with .nojekyll), leaves HEAD, the
    index and the working tree alone, and commits nothing new when the site is unchanged."""
    root = story["root"]
    remote = bare_origin(root, tmp_path / "origin.git")
    head = git(root, "rev-parse", "HEAD")
    args = ("--repo", root, "catalogue", "--out", tmp_path / "site", "--no-tracking",
            "--publish", "gh-pages", "--json")  # fmt: skip
    first = json.loads(cli(*args).out)["published"]
    files = git(remote, "ls-tree", "-r", "--name-only", "gh-pages").splitlines()
    assert {"index.html", "style.css", f"models/{MODEL}.html", ".nojekyll"} <= set(files)
    assert git(remote, "rev-parse", "gh-pages") == first
    assert git(root, "rev-parse", "HEAD") == head and git(root, "status", "--porcelain") == ""
    again = json.loads(cli(*args).out)["published"]
    if again != first:  # the generated time changed the page: a child commit, never a rewrite
        assert git(remote, "rev-parse", "gh-pages^") == first


def test_an_out_that_is_a_file_or_a_foreign_folder_is_refused_untouched(
    cli, story: dict[str, Any], tmp_path: Path
) -> None:
    """It refuses a file, and a folder holding other files, as --out, and changes nothing."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    done = cli("--repo", story["root"], "catalogue", "--out", a_file, "--no-tracking")
    assert done.code != 0 and f"--out {a_file}: is a file" in done.err
    assert a_file.read_text() == "keep me"
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "mine.md").write_text("mine")
    done = cli("--repo", story["root"], "catalogue", "--out", folder, "--no-tracking")
    assert done.code != 0 and "never replaced" in done.err
    assert [p.name for p in folder.iterdir()] == ["mine.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["notes.txt", "docs", "repo"])


def test_a_registry_that_does_not_parse_is_refused_and_leaves_the_old_site(
    cli, story: dict[str, Any], tmp_path: Path
) -> None:
    """It names registry.yaml, exits non-zero, and leaves the previous site as it was."""
    site = tmp_path / "site"
    assert cli("--repo", story["root"], "catalogue", "--out", site, "--no-tracking").code == 0
    before = (site / "index.html").read_text()
    (story["root"] / "registry.yaml").write_text("models: [unclosed\n")
    done = cli("--repo", story["root"], "catalogue", "--out", site, "--no-tracking")
    assert done.code != 0
    assert "registry.yaml" in done.err
    assert (site / "index.html").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "site"]


def test_the_latest_batch_and_monitoring_runs_come_from_the_tracking_store(
    cli, tmp_path: Path
) -> None:
    """It shows each model's newest finished batch scoring and monitoring run (status,
    version, alert states and metrics) from the embedded tracking store, and says a model
    with no run yet has none."""
    from mlops.adapters import tracking
    from mlops.adapters.settings import load_settings

    root = make_repository(tmp_path / "repo", (MODEL, "fuel-efficiency"))
    settings = load_settings(root)
    tracking.connect(settings)
    for experiment, status, rows in (("batch", "scored", 10.0), ("batch", "published", 120.0),
                                     ("monitor", "drift", 80.0)):  # fmt: skip
        found = tracking.experiment_id(settings, f"{experiment}/{MODEL}")
        tags = {"mlops.model": MODEL, "mlops.version": "3", "mlops.status": status}
        if experiment == "monitor":
            tags |= {"mlops.environment": "production", "mlops.alert.drift": "firing"}
        with tracking.run(found, f"{MODEL}-{experiment}", tags):
            tracking.log_run_data({}, {"rows": rows}, {})
    site = tmp_path / "site"
    done = cli("--repo", root, "catalogue", "--out", site)
    assert done.code == 0, done.err
    page = (site / "models" / f"{MODEL}.html").read_text()
    batch, monitoring = page.split("<h3>Batch scoring</h3>")[1].split("<h3>Monitoring</h3>")
    assert "<dd>published</dd>" in batch and "rows 120" in batch and "scored" not in batch
    assert "<dd>drift</dd>" in monitoring and "<dt>drift alert</dt><dd>firing</dd>" in monitoring
    assert "<dd>production</dd>" in monitoring
    other = (site / "models" / "fuel-efficiency.html").read_text()
    assert other.count("No run recorded yet.") == 2


def test_a_github_that_fails_still_leaves_the_deploys_git_knows(
    cli, story: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub configured but not answering: deploys and rollbacks still come from git, the
    page names the failure, and what only GitHub knows is unknown."""
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{free_port()}")
    site = tmp_path / "site"
    done = cli("--repo", story["root"], "catalogue", "--out", site, "--json", "--no-tracking")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert (data["deploys"], data["rollbacks"], data["incidents"]) == (2, 1, None), data["notes"]
    assert any("GitHub's records not read" in note and "from git alone" in note
               for note in data["notes"]), data["notes"]  # fmt: skip
