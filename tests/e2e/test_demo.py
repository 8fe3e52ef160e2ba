"""The README's demo runs end to end, shows what it promises, and leaves the checkout untouched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, git, require_system

MODEL = "breast-cancer"
ANSWER = re.compile(r"HTTP (\d{3}): (.*)")
REGISTRY = re.compile(r"registry at HEAD: (\S+) production = (\S+) \(commit: (.*)\)")
SAMPLE_ROWS = 3  # the demo scores the first three holdout rows


def scored_rows(lines: list[str]) -> list[int]:
    """The class labels `mlops predict` printed (CSV, a `prediction` column) in the demo."""
    (start,) = [i for i, line in enumerate(lines) if line.startswith(f"$ mlops predict {MODEL}")]
    assert lines[start + 1].split(",")[0] == "prediction", lines[start + 1]
    rows = lines[start + 2 : start + 2 + SAMPLE_ROWS]
    assert not re.fullmatch(r"[\d.,e-]+", lines[start + 2 + SAMPLE_ROWS])  # no more rows
    labels = []
    for line in rows:
        value = float(line.split(",")[0])
        assert value in (0.0, 1.0), line  # a class label, e.g. "1" or "1.0"
        labels.append(int(value))
    return labels


def answers(lines: list[str]) -> list[tuple[int, int, Any]]:
    """(line index, HTTP status, parsed JSON body) of each answer production gave."""
    found = [(i, ANSWER.fullmatch(line)) for i, line in enumerate(lines)]
    return [(i, int(m[1]), json.loads(m[2])) for i, m in found if m]


def production_at_head(lines: list[str]) -> list[tuple[int, str, str]]:
    """(line index, production version or `none`, commit subject) of each registry line."""
    found = [(i, REGISTRY.fullmatch(line)) for i, line in enumerate(lines)]
    return [(i, m[2], m[3]) for i, m in found if m and m[1] == MODEL]


def nginx_installed() -> bool:
    return bool(shutil.which("nginx")) or Path("/usr/sbin/nginx").exists()


@pytest.fixture(scope="module")
def demo() -> list[str]:
    """The demo's output lines; it must exit 0 and leave this checkout as it was. On a machine
    without nginx (a laptop, a hosted runner's portable tier) it is asked for the plan only."""
    status_before = git(ROOT, "status", "--porcelain") if (ROOT / ".git").exists() else ""
    plan_only = [] if nginx_installed() else ["--plan-only"]
    done = subprocess.run(
        [sys.executable, "-m", "mlops.demo", "--source", str(ROOT), *plan_only],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    if (ROOT / ".git").exists():
        assert git(ROOT, "status", "--porcelain") == status_before
    return [line.rstrip() for line in done.stdout.splitlines()]


def test_the_demo_walks_the_pull_request_steps(demo: list[str]) -> None:
    """It creates a model, plans the change, catches a broken manifest, trains, scores and
    evaluates, and finishes."""
    out = "\n".join(demo)
    assert "created models/churn-propensity/" in out
    assert "churn-propensity" in out and "added" in out
    assert "fuel-efficiency" in out and "modified" in out
    assert 'expected one of "python", "r", "julia"; got "pyhton" (did you mean \'python\'?)' in out
    assert '"all_models": true' in out
    assert "1 (new)" in out and "1 (unchanged)" in out
    assert "Decision: passes every gate" in out
    assert demo[-1].endswith("demo finished")


def test_the_demo_scores_with_the_registered_version(demo: list[str]) -> None:
    """`mlops predict` prints a class label (0 or 1) for each of the sample's rows."""
    assert len(scored_rows(demo)) == SAMPLE_ROWS


def test_the_demo_scores_a_batch_with_production_and_shows_its_lineage(demo: list[str]) -> None:
    """`mlops score` scores every holdout row with version 1 and the table of scored rows shows
    the model, version and run ids beside each prediction."""
    (start,) = [i for i, line in enumerate(demo) if line.startswith(f"$ mlops score {MODEL}")]
    shown = "\n".join(demo[start:])
    assert re.search(rf"{MODEL}\W+scored\W+1\W+143\W+143\W+0\W", shown), shown[:2000]
    assert "scored.parquet: 143 rows (first 3)" in shown
    assert "mlops_batch_run_id" in shown.replace("…", "") or "mlops_batch_r" in shown
    assert re.search(r"FNA-00000\W+[01]\W+[01]\.\d{4}\W+breast-cancer\W+1\W", shown), shown[:3000]


@pytest.mark.system
def test_production_serves_the_promoted_version_then_the_revert_removes_it(
    demo: list[str],
) -> None:
    """After the promotion production answers 200 as breast-cancer version 1, with the class
    `mlops predict` gave that row and a probability; after `git revert` the registry at HEAD
    has no production version and production answers 503, naming no version."""
    require_system("nginx", nginx_installed(), "apt-get install nginx-light")
    (deployed, promoted, subject), (reverted, left, revert_subject) = production_at_head(demo)
    assert (promoted, subject) == ("1", f"Promote {MODEL} 1")
    assert (left, revert_subject) == ("none", f'Revert "Promote {MODEL} 1"')
    (at_first, first, body), (at_second, second, after) = answers(demo)
    assert deployed < at_first < reverted < at_second  # each answer follows its registry line

    assert first == 200, body
    assert (body["model"], body["version"]) == (MODEL, "1")
    (served,) = body["predictions"]
    assert served["prediction"] == scored_rows(demo)[0]  # the row the demo sent
    assert isinstance(served["probability"], float) and 0.0 <= served["probability"] <= 1.0

    assert second == 503, after
    assert not (isinstance(after, dict) and "version" in after), after


@pytest.mark.system
def test_monitoring_catches_the_shifted_inputs_alerts_once_and_proposes_retraining(
    demo: list[str],
) -> None:
    """Shifted requests are answered and logged; the first monitoring run opens the drift
    alert issue naming both shifted features, the second comments on it, and the retraining
    pull request is opened from its own branch."""
    require_system("nginx", nginx_installed(), "apt-get install nginx-light")
    out = "\n".join(demo)
    assert "sent 200 shifted rows in 20 requests: 20 answered 200" in out
    assert re.search(r"mean_radius\W+psi\W+[\d.]+\W+0\.2\W+yes", out), out[-6000:]
    assert "alert opened: #1 breast-cancer: drift alert in production" in out
    assert "alert updated: #1 breast-cancer: drift alert in production" in out
    assert ("GitHub issue #1 [open] breast-cancer: drift alert in production (labels:"
            " mlops-alert, model-alert, breast-cancer; 1 comment(s))") in out  # fmt: skip
    assert re.search(r"GitHub pull request #2: Retrain breast-cancer: drift fired in each of the"
                     r" last 2 monitoring runs of production \(mlops/retrain/breast-cancer-"
                     r"\d{8}-\d{6} -> main\)", out)  # fmt: skip


def test_without_nginx_the_demo_stops_at_once_and_says_how_to_get_it(tmp_path: Path) -> None:
    """No silent plan: without nginx (MLOPS_NGINX names a binary that does not exist) the demo
    exits 1 before doing any work, naming the package to install and --plan-only."""
    env = {**os.environ, "MLOPS_NGINX": str(tmp_path / "no-nginx")}
    done = subprocess.run(
        [sys.executable, "-m", "mlops.demo", "--source", str(ROOT)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 1
    said = " ".join(done.stderr.split())
    assert "nginx is not installed, and the demo deploys behind it" in said
    assert "sudo apt-get install nginx-light" in said and "--plan-only" in said
    assert "mlops new" not in done.stdout  # stopped before the first step


@pytest.mark.system
def test_the_demo_renders_the_catalogue_of_what_it_did(demo: list[str]) -> None:
    """The catalogue counts the demo's production moves: the promotion and its restoration
    as deploys, the revert between them as a rollback."""
    require_system("nginx", nginx_installed(), "apt-get install nginx-light")
    out = "\n".join(demo)
    assert re.search(
        r"Wrote \d+ files to \S+catalogue \(\d+ models, 2 deploys, 1 rollbacks\)", out
    ), out[-3000:]
