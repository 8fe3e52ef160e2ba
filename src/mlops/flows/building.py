"""A registered version's container image: its logged model downloaded and verified against
the `model_sha256` registry.yaml recorded at training, built into a bento and an image, pushed
to the image registry when one is configured, and recorded in the version's registry entry:
the bento tag, the image ID (`image_digest`) and, once pushed, the reference pinned by the
registry's manifest digest (`image`) that deploy hosts pull and run.

With no registry configured (`[tool.mlops.deploy] registry`, MLOPS_IMAGE_REGISTRY) the image
stays on the engine that built it and only its ID is recorded, as before. A model changed in
the artifact store since training (tampered, or overwritten) is refused before anything is
built; a registry that refuses the push fails the build. The registry entry is written
(atomically, validated first) only when asked to, and only after the push: what was
reviewed is what runs.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlops.adapters import atomic, tracking
from mlops.adapters.image_registry import PASSWORD_ENV, USERNAME_ENV, RegistryError, push
from mlops.adapters.images import BuiltImage, ImageSpec, build
from mlops.adapters.settings import Settings, load_settings
from mlops.core import layout
from mlops.core.image_reference import image_record, parse_reference, pushed_repository
from mlops.core.progress import QUIET, Reporter
from mlops.errors import InvalidInput, MlopsError
from mlops.flows.registry_file import check_registry, render_registry
from mlops.flows.repository import checked_models, manifest_data, registry_entry


class Tampered(MlopsError):
    """The model in the artifact store is not the one registry.yaml recorded."""


IMAGE_FIELDS = ("bento_tag", "image_digest", "image")  # what a build records, in this order
PUSHED_TAG = "mlops.image"  # the version tag holding its pushed, pinned reference


@dataclass(frozen=True)
class VersionImage:
    """What building a version did or would do, and whether registry.yaml changed."""

    model: str
    version: str
    model_uri: str
    recorded: dict[str, str]  # the IMAGE_FIELDS registry.yaml holds now
    registry: str | None  # where images are pushed; None: they stay on the engine
    built: BuiltImage | None = None  # None: planned only
    record: dict[str, str] | None = None  # the IMAGE_FIELDS after the build (and push)
    registry_changed: bool = False

    def to_dict(self) -> dict[str, Any]:
        fields = self.record if self.record is not None else self.recorded
        return {
            "model": self.model,
            "version": self.version,
            "model_uri": self.model_uri,
            "applied": self.built is not None,
            "local_image": self.built.image if self.built else None,
            "registry": self.registry,
            **{key: fields.get(key) for key in IMAGE_FIELDS},
            "registry_changed": self.registry_changed,
        }


def version_image(
    root: Path, name: str, version: str, *, apply: bool, progress: Reporter = QUIET
) -> VersionImage:
    """Check that `version` can be built; with `apply`, build and push it and record it,
    telling `progress` of each stage."""
    check = checked_models(root, [name], "built")
    entry = (registry_entry(check, name).get("versions") or {}).get(version)
    if not isinstance(entry, dict):
        raise InvalidInput(
            f"{layout.REGISTRY}: {name} has no version {version}",
            hint=f"promote it first: mlops promote {name} {version} --to staging --apply",
        )
    _require_digest(name, version, entry)
    settings = load_settings(root)
    recorded = {key: str(entry[key]) for key in IMAGE_FIELDS if entry.get(key)}
    plan = VersionImage(name, version, str(entry["model_uri"]), recorded,
                        settings.deploy.registry)  # fmt: skip
    if not apply:
        return plan
    language = str(manifest_data(check, name).get("language", "python"))
    built = build_version(settings, name, version, entry, language, progress)
    pushed = publish(settings, name, version, built, progress)
    record = image_record(entry, built.bento_tag, built.digest, pushed)
    path = root / layout.REGISTRY
    before = path.read_text(encoding="utf-8")
    data = check.registry.data if check.registry else {}
    changed = record != recorded
    if changed:
        target = data["models"][name]["versions"][version]
        for key in IMAGE_FIELDS:  # in place: recorded fields keep their lines
            if key in record:
                target[key] = record[key]
            else:
                target.pop(key, None)
        after = render_registry(before, data)
        check_registry(root, after, f"recording {name} version {version}'s image")
        atomic.write_text(path, after)
    return replace(plan, built=built, record=record, registry_changed=changed)


def publish(
    settings: Settings, model: str, version: str, built: BuiltImage, progress: Reporter = QUIET
) -> str | None:
    """Push `built` to the configured image registry as `<registry>/<model>:<version>` and
    record the reference pinned by the registry's digest on the registered version (tag
    PUSHED_TAG), where a deploy host on another machine finds it before registry.yaml does;
    returns that reference, or None when no registry is configured."""
    registry = settings.deploy.registry
    if registry is None:
        return None
    try:
        with progress.stage(f"{model} {version}: push to {registry}"):
            reference = push(built.image, pushed_repository(registry, model), version)
    except RegistryError as exc:
        raise RegistryError(
            f"cannot push {built.image} to the image registry {registry} "
            f"({settings.deploy.registry_setting}): {exc.reason}",
            exc.reason,
            hint=f"check that the registry answers and accepts pushes (a login comes from "
            f"{USERNAME_ENV} and {PASSWORD_ENV}, or docker login)",
        ) from None
    with contextlib.redirect_stdout(sys.stderr):
        tracking.connect(settings)
        tracking.set_version_tags(
            model, version, {PUSHED_TAG: reference, "mlops.image_digest": built.digest}
        )
    return reference


def pushed_image(settings: Settings, model: str, version: str) -> str | None:
    """The pinned reference `publish` recorded for a version, or None (never pushed, or
    pushed before references were recorded). A malformed record is an error, never a guess."""
    with contextlib.redirect_stdout(sys.stderr):
        tracking.connect(settings)
        found = tracking.version_tags(model, version).get(PUSHED_TAG)
    if not found:
        return None
    try:
        problem = None if parse_reference(found).digest else "it is not pinned by a digest"
    except ValueError as exc:
        problem = str(exc)
    if problem:
        raise MlopsError(
            f"{model} version {version}: the tracking store's tag {PUSHED_TAG} = {found!r} "
            f"is not an image reference: {problem}",
            hint=f"delete the tag, or record the image in {layout.REGISTRY} (mlops build --apply)",
        )
    return found


def fetch_version(
    settings: Settings, model: str, version: str, entry: dict[str, Any]
) -> tuple[Path, bool] | None:
    """The version's model directory on this machine and whether it was downloaded now: kept
    under the state folder once, and verified against registry.yaml's model_sha256 every
    time (the local target serves it without MLflow). None when no digest was recorded: the
    version is then served from the tracking store, unverified as before."""
    if not entry.get("model_sha256"):
        return None
    expected = _require_digest(model, version, entry)
    kept = settings.state_dir / "models" / model / version
    if kept.is_dir() and tracking.model_digest(kept) == expected:
        return kept, False
    kept.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=kept.parent))  # same disk: rename
    try:
        with contextlib.redirect_stdout(sys.stderr):
            tracking.connect(settings)
            model_dir = tracking.download_model(str(entry["model_uri"]), workdir / "download")
        found = tracking.model_digest(model_dir)
        if found != expected:
            raise Tampered(
                f"{model} version {version}: the model at {entry['model_uri']} has sha256 "
                f"{found[:16]}…, but {layout.REGISTRY} recorded {expected[:16]}…: "
                "it changed after training; it is not served"
            )
        shutil.rmtree(kept, ignore_errors=True)
        try:
            model_dir.rename(kept)
        except OSError:  # another deployer on this machine kept the same version meanwhile
            if not (kept.is_dir() and tracking.model_digest(kept) == expected):
                raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return kept, True


def _require_digest(model: str, version: str, entry: dict[str, Any]) -> str:
    expected = entry.get("model_sha256")
    if not expected:
        raise Tampered(
            f"{layout.REGISTRY}: {model} version {version} records no model_sha256,"
            " so its model cannot be verified",
            hint="retrain and promote it",
        )
    return str(expected)


def build_version(
    settings: Settings, model: str, version: str, entry: dict[str, Any], language: str,
    progress: Reporter = QUIET,
) -> BuiltImage:  # fmt: skip
    """Download, verify and build one version (see the module docstring)."""
    expected = _require_digest(model, version, entry)
    # BentoML refuses build contexts inside hidden folders such as the state folder; a failed
    # build keeps its folder (the error names its log), a successful one is removed.
    workdir = Path(tempfile.mkdtemp(prefix=f"mlops-build-{model}-{version}-"))
    with progress.stage(f"{model} {version}: download the model and verify it"):
        with contextlib.redirect_stdout(sys.stderr):
            tracking.connect(settings)
            model_dir = tracking.download_model(str(entry["model_uri"]), workdir / "download")
        found = tracking.model_digest(model_dir)
    if found != expected:
        shutil.rmtree(workdir, ignore_errors=True)
        raise Tampered(
            f"{model} version {version}: the model at {entry['model_uri']} has sha256 "
            f"{found[:16]}…, but {layout.REGISTRY} recorded {str(expected)[:16]}…: "
            "it changed after training; nothing was built"
        )
    requirements_file = model_dir / "requirements.txt"
    requirements = requirements_file.read_text().splitlines() if requirements_file.is_file() else []
    bases = settings.deploy.base_images
    spec = ImageSpec(
        model=model, version=version, language=language, model_dir=model_dir,
        manifest=settings.root / layout.model_dir(model) / "model.yaml",
        requirements=[r for r in requirements if r.strip() and not r.startswith("#")],
        base_image=bases.get(language, bases["python"]),
        labels={"mlops.model_sha256": str(expected),
                "mlops.git_commit": str(entry.get("git_commit", ""))},
    )  # fmt: skip
    built = build(spec, settings.state_dir / "bentoml", workdir, progress)
    shutil.rmtree(workdir, ignore_errors=True)
    return built
