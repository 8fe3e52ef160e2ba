"""Every task a person or a workflow runs. `nox` runs the default sessions, exactly as CI does.

Dependencies come from pyproject.toml (the project and its dependency groups) and are pinned
by requirements/constraints.txt, regenerated with `nox -s lock`.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "typecheck", "tests", "validate"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml("pyproject.toml")
CONSTRAINTS = ("-c", "requirements/constraints.txt")
WORKFLOWS = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
SCHEMAS = sorted(str(p) for p in (ROOT / "policies" / "schemas").glob("*.json"))
QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "1",
}


def install(session: nox.Session, *groups: str, project: bool = True, extras: str = "") -> None:
    """Install the project (editable, with `extras`) and the named dependency groups, pinned."""
    requirements = [r for g in groups for r in nox.project.dependency_groups(PYPROJECT, g)]
    args = [*CONSTRAINTS, *requirements]
    if project:
        args += ["-e", f".[{extras}]" if extras else "."]
    # Compiled bytecode, as a pip install leaves it: every CLI call then starts in half the
    # time (PyGithub alone imports in 0.7 s instead of 1.3 s when its modules are compiled).
    session.install(*args, env={"UV_COMPILE_BYTECODE": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint and format check), zizmor and the workflow and schema checks."""
    install(session, "lint", project=False)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("zizmor", "--offline", "--min-severity", "low", ".github")
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    session.run("check-jsonschema", "--check-metaschema", *SCHEMAS)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Strict mypy on src/."""
    install(session, "typecheck")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (unit, integration and e2e tiers). Extra arguments go to pytest."""
    install(session, "test")
    session.run("pytest", *session.posargs, env=QUIET_ENV)


@nox.session(default=False)
def portable(session: nox.Session) -> None:
    """The tests that need no system package (`-m "not system"`): what a hosted runner with
    only Python runs. With CI=true a test that needs one but is not marked `system` fails."""
    install(session, "test")
    session.run("pytest", "-m", "not system", *session.posargs, env=QUIET_ENV)


@nox.session
def validate(session: nox.Session) -> None:
    """`mlops validate` on this repository."""
    install(session)
    session.run("mlops", "validate")
    session.run("mlops", "card", "--all", "--check")
    session.run("mlops", "codeowners", "--check")
    session.run("mlops", "schedules", "--check")
    session.run("mlops", "alerts", "render", "--check")


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """The end-to-end demo on embedded defaults, in a scratch copy of this repository."""
    install(session, extras="monitor,testing")  # step 11: monitoring, a local GitHub server
    session.run("python", "-m", "mlops.demo", *session.posargs, env=QUIET_ENV)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: measured against their targets, printed as ratios (never pass/fail tests)."""
    install(session, "bench", extras="monitor")
    session.run("python", "bench/cli_speed.py", *session.posargs)
    session.run("python", "bench/pr_gate.py", *session.posargs)
    session.run("python", "bench/validate_bounds.py", *session.posargs)
    session.run("python", "bench/train_overhead.py", *session.posargs, env=QUIET_ENV)
    session.run("python", "bench/serving.py", *session.posargs, env=QUIET_ENV)
    session.run("python", "bench/serving_batching.py", *session.posargs, env=QUIET_ENV)
    session.run("python", "bench/serving_docker.py", env=QUIET_ENV)
    session.run("python", "bench/prediction_logging.py", *session.posargs, env=QUIET_ENV)
    session.run("python", "bench/batch.py", *session.posargs, env=QUIET_ENV)
    session.run("python", "bench/monitor.py", *session.posargs, env=QUIET_ENV)
    session.run("python", "bench/rollout.py", env=QUIET_ENV)


@nox.session(default=False, venv_backend="none")
def openapi(session: nox.Session) -> None:
    """Regenerate the vendored GitHub OpenAPI subset from npm @octokit/openapi (needs npm)."""
    import sys
    import tarfile

    tmp = Path(session.create_tmp())
    package = "@octokit/openapi@23.0.2"
    session.run("npm", "pack", package, "--pack-destination", str(tmp), external=True)
    (tarball,) = tmp.glob("octokit-openapi-*.tgz")
    source = tmp / "api.github.com.json"
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/generated/api.github.com.json")
        assert member is not None
        source.write_bytes(member.read())
    session.run(
        sys.executable, "-m", "mlops.testing.github_openapi", str(source),
        env={"PYTHONPATH": str(ROOT / "src")}, external=True,
    )  # fmt: skip


@nox.session(default=False, venv_backend="none")
def lock(session: nox.Session) -> None:
    """Re-pin every dependency into requirements/constraints.txt."""
    session.run(
        "uv", "pip", "compile", "pyproject.toml", "--quiet", "--no-header", "--all-extras",
        "--group", "test", "--group", "lint", "--group", "typecheck", "--group", "bench",
        "--python-version", "3.11", "-o", "requirements/constraints.txt",
        external=True,
    )  # fmt: skip
