"""BentoML bentos and container images of one registered model version.

`build` turns a downloaded MLflow model directory and its model.yaml into a bento of our one
service (`mlops.serving.service:ModelService`) and a container image `mlops/<model>:<version>`
that needs nothing at run time: the model, the manifest and the `mlops` package are inside,
and the image's environment pins what to serve (MLOPS_SERVE_MODEL, _VERSION, _MODEL_URI,
_MANIFEST). The build context holds:

    service.py        a shim exposing ModelService, with the image definition attached
    mlops/            the modules of this package that serving imports, found by following
                      the imports of the service and of the R/Julia worker pyfunc (whose
                      pickled models refer to mlops.adapters.workers)
    model/            the MLflow model directory (MLOPS_SERVE_MODEL_URI points here)
    model.yaml        the manifest: its features are the request schema
    requirements.txt  the model's requirements, `mlflow` as `mlflow-skinny` (same version:
                      loading a model needs no tracking server, UI or database drivers),
                      plus bentoml (this version), pyyaml and pandas
    bentofile.yaml    name, labels, environment, requirements (locked by `bentoml build`)

The image definition names its base with a distro outside BentoML's table, so BentoML adds
no `apt-get install build-essential git` layer (about 650 MB): the base brings Python 3.11,
uv and whatever the model's language needs (scripts/build-base-images).

Builds are content-addressed: the bento version is `<version>-<hash>`, the hash of the build
context and the base image's ID. Building the same inputs again reuses the bento and, when
`mlops/<model>:<version>` already carries that bento's label, the image (same digest); changed
inputs (platform code, base image) make a new bento and move the image tag to a new image.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import version as installed_version
from pathlib import Path

import yaml

import mlops
from mlops.adapters.bento_layout import BENTO_SOURCE, LAUNCHER_LABEL
from mlops.adapters.containers import engine, sdk
from mlops.core.progress import QUIET, Reporter
from mlops.errors import MlopsError

DEFAULT_BASE_IMAGE = "python:3.11-slim"  # the public image; sites without a registry set theirs
LOCAL_PYTHON_BASE = "local/python:3.11-bookworm"
# Plain Python bases: an R or Julia model given one of these gets its language's base instead.
PYTHON_BASES = frozenset({DEFAULT_BASE_IMAGE, "python:3.11-slim-bookworm", LOCAL_PYTHON_BASE})
LANGUAGE_BASES = {"r": "local/r-python:bookworm", "julia": "local/julia-python:bookworm"}
IMAGE_REPOSITORY = "mlops"
PYTHON_VERSION = "3.11"
DOCKER_CLI = Path("/usr/bin/docker")  # Debian's CLI: BuildKit built in, no buildx needed
BUILD_TIMEOUT = 1800.0
OUTPUT_TAIL = 40  # lines of a failed command's output an error shows
LABEL_BENTO = "mlops.bento"
# What a served model needs of this package: the service, and the pyfunc of R/Julia models.
SERVING_MODULES = ("mlops.serving.service", "mlops.serving.launcher", "mlops.adapters.workers")

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_VERSION = re.compile(r"[1-9][0-9]*")
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MLFLOW = re.compile(r"mlflow(\[[^\]]*\])?(?=$|[\s<>=!~;@(])", re.IGNORECASE)


class ImageBuildError(MlopsError):
    """A bento or its container image could not be built."""


@dataclass(frozen=True)
class ImageSpec:
    model: str  # e.g. "breast-cancer"
    version: str  # e.g. "3"
    language: str  # python | r | julia
    model_dir: Path  # a downloaded MLflow model directory (has MLmodel)
    manifest: Path  # the model's model.yaml
    requirements: list[str]  # the MLflow model's requirements.txt lines
    base_image: str = DEFAULT_BASE_IMAGE
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltImage:
    bento_tag: str  # "breast-cancer:3-<hash>"
    image: str  # "mlops/breast-cancer:3"
    digest: str  # "sha256:<64 hex>", the image ID (config digest) as the engine reports it


def image_name(model: str, version: str) -> str:
    return f"{IMAGE_REPOSITORY}/{model}:{version}"


def base_image_for(spec: ImageSpec) -> str:
    """The base an image of `spec` is built on: the caller's, except that an R or Julia model
    given a plain Python base (the default, say) gets its language's local base."""
    if spec.language == "python" or spec.base_image not in PYTHON_BASES:
        return spec.base_image
    return LANGUAGE_BASES[spec.language]


def serving_requirements(requirements: Iterable[str]) -> list[str]:
    """The model's requirements with `mlflow` swapped for `mlflow-skinny` (same specifier),
    any bentoml pin replaced by this one, orjson (the prediction log's encoder) pinned to
    this one unless present, and pyyaml and pandas added unless present."""
    kept: list[str] = []
    for line in requirements:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        swapped = _MLFLOW.match(text)
        if swapped:
            text = "mlflow-skinny" + text[swapped.end() :]
        if _requirement_name(text) != "bentoml":
            kept.append(text)
    names = {_requirement_name(text) for text in kept}
    kept.append(f"bentoml=={installed_version('bentoml')}")
    if "orjson" not in names:
        kept.append(f"orjson=={installed_version('orjson')}")
    kept += [extra for extra in ("pyyaml", "pandas") if extra not in names]
    return kept


def image_digest(image: str) -> str | None:
    """The image ID ("sha256:...") of `image` on the engine; None when it is not there."""
    try:
        return str(engine().images.get(image).id)
    except sdk().errors.ImageNotFound:
        return None


def image_labels(image: str) -> dict[str, str] | None:
    """The labels of `image` on the engine; None when it is not there."""
    try:
        found = engine().images.get(image)
    except sdk().errors.ImageNotFound:
        return None
    return {str(k): str(v) for k, v in (found.labels or {}).items()}


def build(
    spec: ImageSpec, bentoml_home: Path, workdir: Path, progress: Reporter = QUIET
) -> BuiltImage:
    """The bento and container image `mlops/<model>:<version>` of one model version (see the
    module docstring); `workdir` holds the build context and a log of both commands, which
    are `progress`'s stages."""
    _check(spec)
    base = base_image_for(spec)
    base_id = image_digest(base)
    if base_id is None and base.startswith("local/"):
        raise ImageBuildError(
            f"base image {base} is not on the Docker engine",
            hint="build it with scripts/build-base-images",
        )
    context = workdir / "context"
    _write_context(spec, base, context)
    bento_tag = f"{spec.model}:{spec.version}-{_fingerprint(context, base_id)}"
    image = image_name(spec.model, spec.version)
    env = _environment(bentoml_home, workdir)
    log = workdir / "build.log"
    name, bento_version = bento_tag.split(":")
    if not (bentoml_home / "bentos" / name / bento_version / "bento.yaml").is_file():
        with progress.stage(f"{spec.model} {spec.version}: bentoml build"):
            _bentoml(["build", str(context), "--version", bento_version], env, log)
    if (image_labels(image) or {}).get(LABEL_BENTO) != bento_tag:
        labels = {"mlops.model": spec.model, "mlops.version": spec.version, **spec.labels,
                  LABEL_BENTO: bento_tag, LAUNCHER_LABEL: "1"}  # fmt: skip
        options = [f"--opt=label={key}={value}" for key, value in labels.items()]
        with progress.stage(f"{spec.model} {spec.version}: bentoml containerize"):
            _bentoml(["containerize", bento_tag, "-t", image, "--opt=network=host", *options],
                     env, log)  # fmt: skip
    digest = image_digest(image)
    if digest is None:
        raise ImageBuildError(f"`bentoml containerize {bento_tag}` left no image {image}")
    return BuiltImage(bento_tag=bento_tag, image=image, digest=digest)


def _check(spec: ImageSpec) -> None:
    problems = []
    if not _NAME.fullmatch(spec.model):
        problems.append(f"model name {spec.model!r} is not DNS-safe")
    if not _VERSION.fullmatch(spec.version):
        problems.append(f"version {spec.version!r} is not a registered version number")
    if spec.language not in ("python", *LANGUAGE_BASES):
        problems.append(f"unknown language {spec.language!r} (python, r or julia)")
    if not (spec.model_dir / "MLmodel").is_file():
        problems.append(f"{spec.model_dir} is not an MLflow model directory (no MLmodel)")
    if not spec.manifest.is_file():
        problems.append(f"{spec.manifest}: no such file")
    if problems:
        raise ImageBuildError(f"cannot build an image of {spec.model} {spec.version}: "
                              + "; ".join(problems))  # fmt: skip


def _write_context(spec: ImageSpec, base: str, context: Path) -> None:
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    package = Path(mlops.__file__).parent
    for relative in serving_sources():
        (context / "mlops" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(package / relative, context / "mlops" / relative)
    shutil.copytree(spec.model_dir, context / "model")
    shutil.copy2(spec.manifest, context / "model.yaml")
    requirements = serving_requirements(spec.requirements)
    (context / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    (context / "service.py").write_text(_shim(base), encoding="utf-8")
    envs = {
        "MLOPS_SERVE_MODEL": spec.model,
        "MLOPS_SERVE_VERSION": spec.version,
        "MLOPS_SERVE_MODEL_URI": f"{BENTO_SOURCE}/model",
        "MLOPS_SERVE_MANIFEST": f"{BENTO_SOURCE}/model.yaml",
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    bentofile = {
        "service": "service:ModelService",
        "name": spec.model,
        "description": f"{spec.model} version {spec.version}, served by mlops' ModelService",
        "labels": {"mlops.model": spec.model, "mlops.version": spec.version, **spec.labels},
        "include": ["service.py", "mlops/", "model/", "model.yaml", "requirements.txt"],
        "exclude": ["__pycache__/", "*.pyc"],
        "python": {"requirements_txt": "requirements.txt", "lock_packages": True},
        "envs": [{"name": name, "value": value} for name, value in envs.items()],
    }
    text = yaml.safe_dump(bentofile, sort_keys=False)
    (context / "bentofile.yaml").write_text(text, encoding="utf-8")


def serving_sources() -> list[Path]:
    """The files of this package (relative to it) that SERVING_MODULES import, directly or
    not, with the __init__.py of every package on the way."""
    root = Path(mlops.__file__).parent
    found: set[Path] = set()
    seen: set[str] = set()
    todo = list(SERVING_MODULES)
    while todo:
        name = todo.pop()
        if name in seen or not (name == "mlops" or name.startswith("mlops.")):
            continue
        seen.add(name)
        path = _module_file(root, name.split(".")[1:])
        if path is None:
            continue  # a name inside a module (from mlops.errors import MlopsError)
        found.add(path.relative_to(root))
        todo.append(name.rpartition(".")[0])  # its package
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return sorted(found)


def _module_file(root: Path, parts: list[str]) -> Path | None:
    package = root.joinpath(*parts, "__init__.py")
    if package.is_file():
        return package
    module = root.joinpath(*parts[:-1], f"{parts[-1]}.py") if parts else None
    return module if module is not None and module.is_file() else None


def _shim(base: str) -> str:
    return f'''"""The bento's entry point: mlops' ModelService on {base}.

The distro name is outside BentoML's table on purpose: BentoML then installs no system
packages of its own; the base image brings Python {PYTHON_VERSION}, uv and the model's runtime.
"""

import bentoml

from mlops.serving.service import ModelService

ModelService.image = bentoml.images.Image(
    base_image={base!r}, distro="local", python_version={PYTHON_VERSION!r}
)

__all__ = ["ModelService"]
'''


def _fingerprint(context: Path, base_id: str | None) -> str:
    """A short hash of every file in the build context and of the base image's ID."""
    digest = hashlib.sha256(f"base {base_id or '-'}\n".encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(context).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def _environment(bentoml_home: Path, workdir: Path) -> dict[str, str]:
    """BentoML's environment: its store, no telemetry, and Debian's docker CLI first on PATH
    when there is one (newer CLIs without buildx fail BentoML's BuildKit builds)."""
    env = {**os.environ, "BENTOML_HOME": str(bentoml_home), "BENTOML_DO_NOT_TRACK": "true",
           "DOCKER_BUILDKIT": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}  # fmt: skip
    if DOCKER_CLI.is_file():
        shim = workdir / "dockerbin"
        shim.mkdir(parents=True, exist_ok=True)
        link = shim / "docker"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(DOCKER_CLI)
        env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    return env


def _bentoml(args: list[str], env: dict[str, str], log: Path) -> None:
    """Run `bentoml ARGS` (this interpreter's), appending its output to `log`; a failure
    raises ImageBuildError with the end of that output."""
    command = [sys.executable, "-m", "bentoml", *args]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, env=env, cwd=log.parent, capture_output=True, text=True,
            timeout=BUILD_TIMEOUT, check=False,
        )  # fmt: skip
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        output, code = _text(exc.stdout) + _text(exc.stderr), None
    with log.open("a", encoding="utf-8") as sink:
        took = time.monotonic() - started
        sink.write(f"==> bentoml {' '.join(args)}\n{output}\n<== {took:.1f} s, exit {code}\n")
    if code == 0:
        return
    tail = "\n".join(output.rstrip().splitlines()[-OUTPUT_TAIL:])
    what = f"timed out after {BUILD_TIMEOUT:.0f} s" if code is None else f"failed (exit {code})"
    raise ImageBuildError(f"`bentoml {args[0]}` {what}:\n{tail}", hint=f"full output: {log}")


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def _requirement_name(text: str) -> str | None:
    found = _REQUIREMENT_NAME.match(text)
    return re.sub(r"[-_.]+", "-", found.group()).lower() if found else None
