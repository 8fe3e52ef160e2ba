"""The end-to-end demo (`nox -s demo`): the platform's flow on a scratch copy of this repository.

It never touches the checkout it starts from: the platform files are copied into a temporary
git repository, where every step runs the real `mlops` command line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlops.adapters.repository import find_root
from mlops.errors import MlopsError
from mlops.output import console

COPIED = (
    "policies",
    "models",
    "registry.yaml",
    ".github",
    ".dvc/config",
    ".dvcignore",
    ".gitignore",
)
IGNORED = shutil.ignore_patterns("*.csv", "model", "__pycache__")


def _step(title: str) -> None:
    console().rule(f"[bold]{title}")


def _run(workdir: Path, *args: str, check: bool = True) -> int:
    shown = " ".join(args)
    console().print(f"[dim]$[/] [cyan]{shown}[/]")
    command = [sys.executable, "-m", "mlops", *args[1:]] if args[0] == "mlops" else list(args)
    done = subprocess.run(command, cwd=workdir, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"demo step failed ({done.returncode}): {shown}")
    return done.returncode


def _git(workdir: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=workdir, check=True, capture_output=True)


def prepare(source: Path, workdir: Path) -> None:
    for name in COPIED:
        path = source / name
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, workdir / name, ignore=IGNORED)
        elif path.is_file():
            shutil.copy2(path, workdir / name)
    # The demo's data goes to a DVC remote of its own, removed with it.
    local = workdir / ".dvc" / "config.local"
    local.write_text(f"['remote \"local\"']\n    url = {workdir.parent / 'dvc-storage'}\n")
    from mlops.adapters.probes import free_port

    (workdir / "pyproject.toml").write_text(  # the demo's own ports, free right now
        f"[tool.mlops.deploy]\nports = {{ staging = {free_port()}, production = {free_port()} }}\n"
    )
    _git(workdir, "init", "-q", "-b", "main")
    _git(workdir, "add", "-A")
    _git(workdir, "commit", "-q", "-m", "Platform baseline")


def run_demo(workdir: Path, *, deploy: bool = True) -> None:
    _step("1. The models in this repository")
    _run(workdir, "mlops", "list")
    _run(workdir, "mlops", "validate")

    _step("2. A team creates a model from the template")
    _run(workdir, "git", "checkout", "-q", "-b", "add-churn-model")
    _run(
        workdir, "mlops", "new", "churn-propensity", "--language", "python",
        "--task", "classification", "--owner", "@acme/marketing-analytics",
        "--description", "Scores customers' propensity to cancel within 90 days.",
    )  # fmt: skip
    _run(workdir, "mlops", "validate", "models/churn-propensity")
    _run(workdir, "mlops", "show", "churn-propensity")

    _step("3. It also retunes an existing model, and opens a pull request")
    params = workdir / "models" / "fuel-efficiency" / "params.yaml"
    params.parent.mkdir(parents=True, exist_ok=True)
    with params.open("a", encoding="utf-8") as fh:
        fh.write("# retuned in the demo pull request\n")
    _git(workdir, "add", "-A")
    _git(workdir, "commit", "-q", "-m", "Add churn-propensity; retune fuel-efficiency")
    _run(workdir, "mlops", "plan", "--base", "main")

    _step("4. A broken manifest is caught with file, line and what was expected")
    manifest = workdir / "models" / "churn-propensity" / "model.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("language: python", "language: pyhton"), encoding="utf-8")
    _run(workdir, "mlops", "validate", check=False)
    manifest.write_text(text, encoding="utf-8")

    _step("5. A policy change touches every model")
    _run(workdir, "git", "checkout", "-q", "main")
    with (workdir / "policies" / "promotion.yaml").open("a", encoding="utf-8") as fh:
        fh.write("# tightened in the demo\n")
    _git(workdir, "checkout", "-q", "-b", "tighten-policy")
    _git(workdir, "commit", "-q", "-am", "Tighten the promotion policy")
    _run(workdir, "mlops", "plan", "--base", "main", "--json")

    _step("6. Train the Python example: DVC pipeline, MLflow run, registered version")
    _run(workdir, "mlops", "train", "breast-cancer")
    _run(workdir, "mlops", "train", "breast-cancer")  # unchanged: nothing new to register
    holdout = workdir / "models" / "breast-cancer" / "data" / "holdout.csv"
    sample = workdir / "sample.csv"
    sample.write_text("".join(holdout.read_text().splitlines(keepends=True)[:4]))
    _run(workdir, "mlops", "predict", "breast-cancer", "--version", "1", "--input", "sample.csv")

    _step("7. Evaluate it against the policy gates and write its model card")
    _run(workdir, "mlops", "evaluate", "breast-cancer")
    _run(workdir, "mlops", "card", "breast-cancer")
    _run(workdir, "mlops", "card", "--all", "--check")

    _step("8. Promote it to staging and production (a reviewed change to registry.yaml)")
    _run(workdir, "git", "checkout", "-q", "main")
    _run(workdir, "mlops", "promote", "breast-cancer", "1", "--to", "staging", "--apply")
    _run(workdir, "mlops", "promote", "breast-cancer", "1", "--to", "production", "--apply")
    _git(workdir, "add", "registry.yaml", "models/breast-cancer")
    _git(workdir, "commit", "-q", "-m", "Promote breast-cancer 1")

    _step("9. Score a batch with the production version: every output row carries its lineage")
    _batch_input(holdout, workdir / "models" / "breast-cancer" / "data" / "batch")
    _run(workdir, "mlops", "score", "breast-cancer")
    _show_scored(workdir / "models" / "breast-cancer" / "data" / "batch" / "scored.parquet")

    _step("10. Deploy it behind nginx, and roll the promotion back with git revert")
    if not deploy:
        console().print("--plan-only: the deployment plan, nothing deployed")
        _run(workdir, "mlops", "reconcile")
        return
    _run(workdir, "mlops", "reconcile", "--apply")
    _production_at_head(workdir, "breast-cancer")
    _ask(workdir, sample)
    _run(workdir, "git", "revert", "--no-edit", "HEAD")
    _run(workdir, "mlops", "reconcile", "--apply")
    _production_at_head(workdir, "breast-cancer")
    _ask(workdir, sample)

    _step("11. Monitor production: shifted inputs raise an alert and a retraining pull request")
    _monitor(workdir, holdout)


def _monitor(workdir: Path, holdout: Path) -> None:
    """v1 back in production; clients send inputs unlike the training data (two watched
    measurements 60% larger); two monitoring runs find the drift, open one alert issue and
    comment on it; the upstream extract changes and `mlops retrain` opens a pull request. A
    local GitHub API server stands in for github.com, and a bare repository for `origin`."""
    from mlops.testing.github_server import GitHubServer

    manifest = workdir / "models" / "breast-cancer" / "model.yaml"
    email = "      - type: email\n        to: clinical-ml@acme.example\n"
    manifest.write_text(manifest.read_text().replace(email, ""))  # no mail server here
    _git(workdir, "commit", "-q", "-am", "On this laptop, alerts go to GitHub issues only")
    _run(workdir, "git", "revert", "--no-edit", "HEAD~1")  # promote v1 again
    _run(workdir, "mlops", "reconcile", "--apply")
    _shifted_requests(workdir, holdout)
    origin = workdir.parent / "origin.git"
    _git(workdir.parent, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(workdir, "remote", "add", "origin", str(origin))
    _git(workdir, "push", "-q", "origin", "main")
    with GitHubServer() as github:
        github.add_token("demo-token", login="mlops-bot")
        github.add_repository("acme/models", default_branch="main")
        github.back_with_git("acme/models", origin)
        os.environ.update({"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": "demo-token",
                           "GITHUB_REPOSITORY": "acme/models",
                           "MLOPS_GITHUB_THROTTLE": "off"})  # fmt: skip
        for _ in range(2):  # drift in two runs in a row: a trend, not one bad window
            _run(workdir, "mlops", "monitor", "breast-cancer", "--alert", check=False)
        (repository,) = github.data.repositories
        for issue in repository.issues:
            console().print(f"GitHub issue #{issue.number} [{issue.state}] {issue.title}"
                            f" (labels: {', '.join(issue.labels)}; {len(issue.comments)}"
                            " comment(s))", markup=False, soft_wrap=True)  # fmt: skip
        params = workdir / "models" / "breast-cancer" / "params.yaml"
        params.write_text(params.read_text().replace("seed: 42\ntrain:", "seed: 7\ntrain:", 1))
        _git(workdir, "commit", "-q", "-am", "The upstream extract changed")
        _git(workdir, "push", "-q", "origin", "main")
        _run(workdir, "mlops", "retrain", "breast-cancer", "--apply")
        for issue in repository.issues:
            if issue.pull is not None:
                console().print(f"GitHub pull request #{issue.number}: {issue.title}"
                                f" ({issue.pull.head_ref} -> {issue.pull.base_ref})",
                                markup=False, soft_wrap=True)  # fmt: skip

        _step("12. The model catalogue: an overview for leadership and a page per model")
        site = workdir.parent / "catalogue"
        _run(workdir, "mlops", "catalogue", "--out", str(site))
        console().print(f"Open {site / 'index.html'} in a browser (pass --keep to keep it)",
                        markup=False, soft_wrap=True)  # fmt: skip


def _shifted_requests(workdir: Path, holdout: Path) -> None:
    """200 rows like the training data but with two watched features 60% larger, sent to
    production through nginx in requests of ten: the service logs every one."""
    import pandas as pd

    from mlops.adapters import probes
    from mlops.adapters.settings import load_settings
    from mlops.flows.rollout import environment_url, trust

    settings = load_settings(workdir)
    url = f"{environment_url(settings, 'production')}/breast-cancer/predict"
    train = holdout.with_name("train.csv")
    rows = pd.read_csv(train).drop(columns=["malignant"]).sample(200, replace=True,
                                                                  random_state=5)  # fmt: skip
    for name in ("mean_radius", "worst_area"):
        rows[name] = rows[name] * 1.6
    records = rows.to_dict(orient="records")
    answered = 0
    for start in range(0, len(records), 10):
        status, _ = probes.call(url, {"rows": records[start : start + 10]},
                                context=trust(settings))  # fmt: skip
        answered += status == 200
    console().print(f"sent {len(records)} shifted rows in {len(records) // 10} requests:"
                    f" {answered} answered 200")  # fmt: skip


def _batch_input(holdout: Path, folder: Path) -> None:
    """This week's rows to score (the manifest's serving.batch.input): the holdout's features
    with a sample id, as an upstream system would deliver them."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rows = pd.read_csv(holdout).drop(columns=["malignant"])
    rows.insert(0, "sample_id", [f"FNA-{i:05d}" for i in range(len(rows))])
    rows.to_parquet(folder / "incoming.parquet", index=False)


def _show_scored(path: Path) -> None:
    """The first scored rows: id, prediction and the lineage columns."""
    import pandas as pd

    from mlops.core.batch import LINEAGE_COLUMNS
    from mlops.output import print_table

    frame = pd.read_parquet(path)
    columns = ["sample_id", "prediction", "probability", *LINEAGE_COLUMNS]
    shown = frame[columns].head(3).astype(str)
    shown["probability"] = frame["probability"].head(3).map("{:.4f}".format)
    for column in ("mlops_model_run_id", "mlops_batch_run_id"):  # ids shortened for the screen
        shown[column] = shown[column].str[:12] + "…"
    times = frame["mlops_scored_at"].head(3)
    shown["mlops_scored_at"] = times.map(lambda t: t.isoformat("T", "seconds"))
    rows = [list(row) for row in shown.itertuples(index=False)]
    print_table(f"{path.name}: {len(frame)} rows (first 3)", columns, rows)


def _ask(workdir: Path, sample: Path) -> None:
    """One prediction through production's nginx port, as a client would ask."""
    import csv
    import json

    from mlops.adapters import probes
    from mlops.adapters.settings import load_settings
    from mlops.flows.rollout import environment_url, tls_files, trust

    settings = load_settings(workdir)
    with sample.open(encoding="utf-8") as fh:
        row = {k: float(v) for k, v in next(csv.DictReader(fh)).items() if k != "malignant"}
    url = f"{environment_url(settings, 'production')}/breast-cancer/predict"
    console().print(f"[dim]$[/] [cyan]POST {url}[/] [dim](--cacert {tls_files(settings).ca})[/]")
    status, body = probes.call(url, {"rows": [row]}, context=trust(settings))
    # One line, never wrapped: the answer is JSON a reader (or a test) can parse.
    console().print(f"HTTP {status}: {json.dumps(body)}", markup=False, soft_wrap=True)


def _production_at_head(workdir: Path, model: str) -> None:
    """The version registry.yaml at HEAD puts in production (`none` without one), and the
    commit's subject: what the deployment that follows must serve."""
    import yaml

    from mlops.adapters import git

    text = git.read_files(workdir, "HEAD", ["registry.yaml"])["registry.yaml"] or b"{}"
    registry = yaml.safe_load(text) or {}
    stages = ((registry.get("models") or {}).get(model) or {}).get("stages") or {}
    subject = git.run_git(workdir, "log", "-1", "--format=%s").decode().strip()
    line = f"registry at HEAD: {model} production = {stages.get('production') or 'none'}"
    console().print(f"{line} (commit: {subject})", markup=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=None, help="repository to copy")
    parser.add_argument("--keep", action="store_true", help="keep the scratch repository")
    parser.add_argument(
        "--plan-only", action="store_true",
        help="stop at the deployment plan (a machine without nginx)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not args.plan_only and not _nginx_ready():
        return 1
    source = find_root(args.source)
    os.environ.setdefault("GIT_AUTHOR_NAME", "Demo")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "demo@localhost")
    os.environ.setdefault("GIT_COMMITTER_NAME", "Demo")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "demo@localhost")
    scratch = Path(tempfile.mkdtemp(prefix="mlops-demo-"))
    workdir = scratch / "repo"
    workdir.mkdir()
    try:
        prepare(source, workdir)
        run_demo(workdir, deploy=not args.plan_only)
    finally:
        try:
            from mlops.adapters.settings import load_settings
            from mlops.flows.rollout import stop_all

            stop_all(load_settings(workdir))  # what step 8 deployed
        except MlopsError as exc:
            console().print(f"could not stop the demo's deployments: {exc.message}")
        if args.keep:
            console().print(f"Scratch repository kept at {workdir}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    console().print("[green]✓[/] demo finished")
    return 0


def _nginx_ready() -> bool:
    """Whether nginx is here to deploy behind; if not, say how to get it, before any work."""
    from mlops.adapters.nginx import find_nginx

    try:
        find_nginx()
    except MlopsError:
        console(stderr=True).print(
            "[red]error:[/] nginx is not installed, and the demo deploys behind it. Install it "
            "once (Debian/Ubuntu: [cyan]sudo apt-get install nginx-light[/]; macOS: "
            "[cyan]brew install nginx[/]) and run the demo again, or pass --plan-only "
            "([cyan]nox -s demo -- --plan-only[/]) to stop at the deployment plan."
        )
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
