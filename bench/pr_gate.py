"""Benchmark: what a pull request changing one model costs before training, on 200 models.

Target (the issue's limit): `mlops validate` + `mlops plan` + `mlops gate` together under 3 s
for a pull request that changes one model in a repository of 200 models. The gate talks to the
local GitHub API server (PyGithub, throttling off as in tests), seeded with the pull request,
an owner's approval and the model's passing check run (`mlops.testing.github_seed`).

Measured in the same run and printed as ratios (medians of runs):
- the peer: `check-jsonschema` validating the same 200 manifests against the model schema,
  the part of the job a real tool does too (schema only: no rules, no registry.yaml, no
  plan, no gate), beside `mlops validate`. Without check-jsonschema (the `bench` dependency
  group) the peer is a `python -c` loop of `jsonschema` over `yaml.safe_load`, and says so;
- a floor, not a peer: three bare Python start-ups, the least any three CLI calls cost,
  beside the total.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cli_speed import generate, git, timed

from mlops.testing.github_fixtures import github_server
from mlops.testing.github_seed import approve, open_pull_request, passing_check_run

REPO = "acme/models"
TOKEN = "ghs_bench"
TARGET = 3.0
# The peer when check-jsonschema is not installed: every error of every file, exit 1 if any.
JSONSCHEMA_LOOP = """\
import json, sys, jsonschema, yaml
schema = json.load(open(sys.argv[1]))
validator = jsonschema.validators.validator_for(schema)(schema)
errors = 0
for path in sys.argv[2:]:
    with open(path) as fh:
        errors += sum(1 for _ in validator.iter_errors(yaml.safe_load(fh)))
sys.exit(1 if errors else 0)
"""


def peer(schema: Path, manifests: list[str]) -> tuple[str, list[str]]:
    """The label and command of the schema validator that checks `manifests` as `mlops
    validate` does, schema only: check-jsonschema, or the labelled jsonschema loop."""
    beside = Path(sys.executable).parent / "check-jsonschema"
    checker = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    if checker:
        return "check-jsonschema", [checker, "--schemafile", str(schema), *manifests]
    label = "python -c jsonschema+yaml.safe_load loop (check-jsonschema not installed)"
    return label, [sys.executable, "-c", JSONSCHEMA_LOOP, str(schema), *manifests]


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
        number = open_pull_request(
            gh, REPO, author="alice", branch="change", base=base, head=head,
            files=[(f"models/{changed}/params.yaml", "modified")],
        )  # fmt: skip
        approve(gh, REPO, number, "mchen", commit=head)
        passing_check_run(gh, REPO, changed, head)

        env = {
            **os.environ, "GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO,
            "GITHUB_TOKEN": TOKEN, "MLOPS_GITHUB_THROTTLE": "off",
        }  # fmt: skip
        parts = {
            "validate": timed([*mlops, "validate"], root, args.runs, env=env),
            "plan": timed([*mlops, "plan", "--base", "main", "--json"], root, args.runs, env=env),
            "gate": timed([*mlops, "gate", "--pr", str(number)], root, args.runs, env=env),
        }
        manifests = sorted(str(p) for p in root.glob("models/*/model.yaml"))
        if len(manifests) != args.models:
            sys.exit(f"the peer would check {len(manifests)} manifests, not {args.models}")
        peer_name, peer_command = peer(root / "policies/schemas/model.schema.json", manifests)
        peer_time = timed(peer_command, root, args.runs)
        floor = 3 * timed([sys.executable, "-c", "pass"], root, args.runs)
    total = sum(parts.values())
    print(f"{args.models} models, one changed, median of {args.runs} runs, {os.cpu_count()} cores")
    for name, seconds in parts.items():
        print(f"  {name:<10}{seconds:8.3f}s")
    print(f"  {'total':<10}{total:8.3f}s  target {TARGET:.1f}s  ours/target {total / TARGET:.2f}x"
          f"  {'ok' if total < TARGET else 'OVER'}")  # fmt: skip
    ratio = parts["validate"] / peer_time
    print(f"  peer: {peer_name} on the same {len(manifests)} manifests (schema only)"
          f" {peer_time:.3f}s, ours (validate)/peer {ratio:.2f}x")  # fmt: skip
    print(f"  floor (not a peer): three bare Python start-ups {floor:.3f}s,"
          f" ours (total)/floor {total / floor:.1f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
