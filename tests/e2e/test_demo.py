"""The README's demo runs end to end and leaves the checkout untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from support import ROOT, git


def test_the_demo_runs_on_a_scratch_copy(tmp_path: Path) -> None:
    """`python -m mlops.demo` creates a model, validates, plans, trains, deploys, rolls back,
    and cleans up after itself."""
    status_before = git(ROOT, "status", "--porcelain") if (ROOT / ".git").exists() else ""
    done = subprocess.run(
        [sys.executable, "-m", "mlops.demo", "--source", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "created models/churn-propensity/" in out
    assert "churn-propensity" in out and "added" in out
    assert "fuel-efficiency" in out and "modified" in out
    assert 'expected one of "python", "r", "julia"; got "pyhton" (did you mean \'python\'?)' in out
    assert '"all_models": true' in out
    assert "1 (new)" in out and "1 (unchanged)" in out
    assert "prediction" in out
    assert "Decision: passes every gate" in out
    nginx = shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
    assert nginx or not os.environ.get("CI"), "nginx is not installed: run scripts/bootstrap"
    if nginx:  # without it (a fresh laptop) the demo prints the deployment plan only
        assert 'HTTP 200: {"model": "breast-cancer", "version": "1"' in out
        assert "HTTP 503" in out  # after the revert: nothing in production
    assert "demo finished" in out
    if (ROOT / ".git").exists():
        assert git(ROOT, "status", "--porcelain") == status_before
