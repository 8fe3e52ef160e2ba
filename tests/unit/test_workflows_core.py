"""What the workflows need from the repository's settings, read from their YAML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlops.core.workflows import RunnerNeed, WorkflowNeeds, is_hosted_label
from mlops.errors import InvalidInput
from mlops.flows.github_settings import read_workflows

ROOT = Path(__file__).resolve().parents[2]
PINNED_CHECKOUT = re.compile(r"actions/checkout@[0-9a-f]{40}")


def _needs(**texts: str) -> WorkflowNeeds:
    return read_workflows({f".github/workflows/{k}.yml": v for k, v in texts.items()})


def test_this_repositorys_workflows() -> None:
    """The platform's own workflows read the runner labels and the services' settings,
    require the `mlops gate` check of pr.yml, deploy to staging and production, and read the
    services' credentials as secrets; batch.yml adds its runner and the batch S3 endpoint,
    monitor.yml the mail server, and retrain.yml the token that opens pull requests."""
    folder = ROOT / ".github" / "workflows"
    texts = {f".github/workflows/{p.name}": p.read_text() for p in sorted(folder.glob("*.yml"))}
    needs = read_workflows(texts)
    assert sorted(needs.variables) == sorted([
        "DEPLOY_RUNNER", "SYSTEM_TEST_RUNNER", "BATCH_RUNNER", "MLFLOW_TRACKING_URI",
        "MLFLOW_S3_ENDPOINT_URL", "MLOPS_DVC_REMOTE", "MLOPS_DVC_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3", "MLOPS_DEPLOY_TARGET", "MLOPS_DEPLOY_DIR", "MLOPS_IMAGE_REGISTRY",
        "MLOPS_REGISTRY_USERNAME", "MLOPS_SMTP_HOST", "MLOPS_SMTP_PORT", "MLOPS_SMTP_FROM",
        "MLOPS_SMTP_STARTTLS", "MLOPS_PROMETHEUS_URL", "CATALOGUE_PAGES_BRANCH",
    ])  # fmt: skip
    assert sorted(needs.secrets) == [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CARE_ANALYTICS_WEBHOOK",
        "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_USERNAME", "MLOPS_BOT_TOKEN", "MLOPS_REGISTRY_PASSWORD",
        "MLOPS_SERVE_API_KEY", "MLOPS_SERVE_PII_KEY", "MLOPS_SMTP_PASSWORD", "MLOPS_SMTP_USER",
        "MLOPS_TEAMS_TOKEN",
    ]  # fmt: skip
    assert needs.gate_checks == ["mlops gate"]
    assert needs.environments == ["staging", "production"]
    assert needs.runners == [
        RunnerNeed(("batch.yml: score", "retrain.yml: retrain"), (), "BATCH_RUNNER"),
        RunnerNeed(
            ("main.yml: staging", "main.yml: production", "monitor.yml: monitor"),
            (),
            "DEPLOY_RUNNER",
        ),
        RunnerNeed(("pr.yml: system-tests",), (), "SYSTEM_TEST_RUNNER"),
    ]
    assert needs.diagnostics == []


def test_every_workflow_is_pinned_least_privileged_and_bounded() -> None:
    """Every workflow of this repository (batch.yml, generated, included) grants no default
    permissions, gives each job its own and a timeout, uses only actions/checkout pinned by
    commit and local actions, and lets no expression into a `run:` script (inputs go through
    `env:`)."""
    folder = ROOT / ".github" / "workflows"
    names = sorted(p.name for p in folder.glob("*.yml"))
    assert {"batch.yml", "main.yml", "pr.yml"} <= set(names)
    problems = []
    for name in names:
        data = yaml.safe_load((folder / name).read_text())
        if data.get("permissions") != {}:
            problems.append(f"{name}: top-level permissions are not {{}}")
        for job_id, job in data["jobs"].items():
            where = f"{name}: {job_id}"
            if not isinstance(job.get("permissions"), dict):
                problems.append(f"{where}: no permissions of its own")
            if not isinstance(job.get("timeout-minutes"), int):
                problems.append(f"{where}: no timeout-minutes")
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if uses and not (uses.startswith("./") or PINNED_CHECKOUT.fullmatch(uses)):
                    problems.append(f"{where}: uses {uses}")
                if "${{" in step.get("run", ""):
                    problems.append(f"{where}: an expression in `run:` ({step.get('name')})")
    assert problems == []


def test_a_workflow_without_variables_or_secrets_needs_none() -> None:
    """A workflow that reads no vars and only GITHUB_TOKEN needs nothing from the settings."""
    needs = _needs(
        ci="on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: make test\n        env:\n          T: ${{ secrets.GITHUB_TOKEN }}\n"
    )
    assert (needs.variables, needs.secrets, needs.runners) == ({}, {}, [])
    assert needs.gate_checks == [] and needs.environments == []


def test_references_are_read_from_expressions_only() -> None:
    """Names inside ${{ }} (dotted or indexed, any case) and in `if:` count, with where they
    are read; shell text outside an expression does not."""
    text = (
        "on: [push]\n"
        "jobs:\n"
        "  deploy:\n"
        "    if: vars.DEPLOY_ENABLED == 'true' && secrets.s3_key != ''\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo secrets.NOT_READ vars.NOT_READ_EITHER\n"
        "        env:\n"
        "          URI: ${{ vars.Tracking_URI }}\n"
        "          PASSWORD: \"${{ secrets['MLFLOW_PASSWORD'] }}-${{ secrets.S3_KEY }}\"\n"
    )
    needs = _needs(deploy=text)
    assert needs.variables == {
        "DEPLOY_ENABLED": [".github/workflows/deploy.yml:4"],
        "TRACKING_URI": [".github/workflows/deploy.yml:9"],
    }
    assert needs.secrets == {
        "S3_KEY": [".github/workflows/deploy.yml:4", ".github/workflows/deploy.yml:10"],
        "MLFLOW_PASSWORD": [".github/workflows/deploy.yml:10"],
    }


def test_the_gate_check_is_the_pull_request_job_that_runs_mlops_gate() -> None:
    """Only jobs of pull-request workflows count; a job without a name is its id."""
    gate = "    runs-on: ubuntu-latest\n    steps:\n      - run: mlops gate --pr 1\n"
    needs = _needs(
        pr="on:\n  pull_request:\njobs:\n  merge-gate:\n" + gate,
        main="on: push\njobs:\n  gate:\n    name: push gate\n" + gate,
    )
    assert needs.gate_checks == ["merge-gate"]


def test_a_gate_job_named_by_an_expression_is_reported() -> None:
    """Branch protection needs the check's exact name: an expression there is an error."""
    text = (
        "on: pull_request\njobs:\n  gate:\n    name: gate ${{ github.run_id }}\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - run: mlops gate\n"
    )
    with pytest.raises(InvalidInput) as caught:
        _needs(pr=text)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.render().startswith(".github/workflows/pr.yml:4:11: $.jobs.gate.name: ")


def test_runners_asked_for() -> None:
    """Literal self-hosted labels and a variable's label count; hosted runners, runner groups
    without labels and matrix expressions do not."""
    steps = "    steps:\n      - run: 'true'\n"
    text = (
        "on: push\njobs:\n"
        "  a:\n    runs-on: [self-hosted, gpu]\n" + steps
        + "  b:\n    runs-on: ${{ vars.deploy_runner || 'ubuntu-latest' }}\n" + steps
        + "  c:\n    runs-on: windows-2022\n" + steps
        + "  d:\n    runs-on: {group: big}\n" + steps
        + "  e:\n    runs-on: ${{ matrix.os }}\n" + steps
        + "  f:\n    runs-on: {group: big, labels: [serving]}\n" + steps
    )  # fmt: skip
    assert _needs(w=text).runners == [
        RunnerNeed(("w.yml: a",), ("self-hosted", "gpu")),
        RunnerNeed(("w.yml: b",), (), "DEPLOY_RUNNER"),
        RunnerNeed(("w.yml: f",), ("serving",)),
    ]


def test_hosted_labels() -> None:
    assert is_hosted_label("ubuntu-latest") and is_hosted_label("macos-14")
    assert is_hosted_label("windows-2022") and not is_hosted_label("mlops-deploy")


def test_a_malformed_workflow_names_its_file_and_line() -> None:
    """Invalid YAML is an error at its file, line and column."""
    with pytest.raises(InvalidInput) as caught:
        _needs(ok="on: push\njobs:\n  a:\n    runs-on: x\n", broken="on: push\njobs: [a\n")
    assert "broken.yml" in caught.value.message
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.render().startswith(".github/workflows/broken.yml:3:1: $: invalid YAML")


def test_a_workflow_of_the_wrong_shape_names_its_file_and_line() -> None:
    """Jobs that are not a mapping, and an expression never closed, are errors where they
    stand; the `on` key is not mistaken for a boolean."""
    with pytest.raises(InvalidInput) as caught:
        _needs(
            a="on: push\njobs:\n  - build\n",
            b="on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    env:\n      A: ${{ vars.X\n",
        )
    assert [d.render() for d in caught.value.diagnostics] == [
        ".github/workflows/a.yml:3:3: $.jobs: expected `jobs`: a mapping of job ids to jobs",
        ".github/workflows/b.yml:6:10: $.jobs.x.env.A: "
        "an expression opened with `${{` is never closed by `}}`",
    ]
