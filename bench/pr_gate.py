"""Benchmark: what a pull request changing one model costs before training, on 200 models.

Target (the issue's limit): `mlops validate` + `mlops plan` + `mlops gate` together under 3 s
for a pull request that changes one model in a repository of 200 models. The gate talks to the
local GitHub API server (PyGithub, throttling off as in tests), seeded with the pull request,
an owner's approval and the model's passing check run. Printed beside the floor of three bare
Python start-ups (what any three CLI calls cost) and the target, as ratios; medians of runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cli_speed import generate, git, timed

from mlops.testing.github_fixtures import github_client, github_server

REPO = "acme/models"
TOKEN = "ghs_bench"
TARGET = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    mlops = [sys.executable, "-m", "mlops"]
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp, github_server() as gh:
        root = Path(tmp)
        generate(root, args.models)
        subprocess.run([*mlops, "codeowners"], cwd=root, check=True, capture_output=True)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "base")
        base = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=root, text=True).strip()
        git(root, "checkout", "-q", "-b", "change")
        changed = f"model-{args.models // 2:04d}"
        with (root / "models" / changed / "params.yaml").open("a") as fh:
            fh.write("# changed\n")
        git(root, "commit", "-q", "-am", "change one model")
        head = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=root, text=True).strip()

        gh.add_token(TOKEN, login="github-actions[bot]", can_read_org=False)
        gh.add_user("alice")
        gh.add_user("mchen")
        gh.add_repository(REPO, default_branch="main")
        gh.add_commit(REPO, base, branch="main")
        gh.add_commit(REPO, head, parents=(base,), branch="change")
        number = gh.add_pull_request(
            REPO, author="alice", head_ref="change", head_sha=head, base_sha=base,
            files=[(f"models/{changed}/params.yaml", "modified")],
        )  # fmt: skip
        gh.add_review(REPO, number, user="mchen", state="APPROVED", commit_id=head)
        github_client(gh, TOKEN).get_repo(REPO).create_check_run(
            name=f"mlops: {changed}", head_sha=head, status="completed", conclusion="success",
            output={"title": "passes every gate", "summary": "passes every gate"},
        )  # fmt: skip

        env = {
            **os.environ, "GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO,
            "GITHUB_TOKEN": TOKEN, "MLOPS_GITHUB_THROTTLE": "off",
        }  # fmt: skip
        parts = {
            "validate": timed([*mlops, "validate"], root, args.runs, env=env),
            "plan": timed([*mlops, "plan", "--base", "main", "--json"], root, args.runs, env=env),
            "gate": timed([*mlops, "gate", "--pr", str(number)], root, args.runs, env=env),
        }
        floor = 3 * timed([sys.executable, "-c", "pass"], root, args.runs)
    total = sum(parts.values())
    print(f"{args.models} models, one changed, median of {args.runs} runs, {os.cpu_count()} cores")
    for name, seconds in parts.items():
        print(f"  {name:<10}{seconds:8.3f}s")
    print(f"  {'total':<10}{total:8.3f}s  target {TARGET:.1f}s  ours/target {total / TARGET:.2f}x"
          f"  {'ok' if total < TARGET else 'OVER'}")  # fmt: skip
    print(f"  floor: three bare Python start-ups {floor:.3f}s, ours/floor {total / floor:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
