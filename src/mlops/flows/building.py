"""A registered version's container image: its logged model downloaded and verified against
the `model_sha256` registry.yaml recorded at training, built into a bento and an image, and the
image's digest and bento tag recorded in the version's registry entry.

A model changed in the artifact store since training (tampered, or overwritten) is refused
before anything is built. The registry entry is written (atomically, validated first) only
when asked to: what was reviewed is what runs.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters import atomic, tracking
from mlops.adapters.images import BuiltImage, ImageSpec, build
from mlops.adapters.settings import Settings, load_settings
from mlops.core import layout
from mlops.errors import InvalidInput, MlopsError
from mlops.flows.registry_file import check_registry, render_registry
from mlops.flows.repository import checked_models, manifest_data, registry_entry


class Tampered(MlopsError):
    """The model in the artifact store is not the one registry.yaml recorded."""


@dataclass(frozen=True)
class VersionImage:
    """What building a version did or would do, and whether registry.yaml changed."""

    model: str
    version: str
    model_uri: str
    recorded: tuple[str | None, str | None]  # (bento_tag, image_digest) in registry.yaml now
    built: BuiltImage | None = None  # None: planned only
    registry_changed: bool = False

    def to_dict(self) -> dict[str, Any]:
        built = self.built
        return {
            "model": self.model,
            "version": self.version,
            "model_uri": self.model_uri,
            "applied": built is not None,
            "image": built.image if built else None,
            "bento_tag": built.bento_tag if built else self.recorded[0],
            "image_digest": built.digest if built else self.recorded[1],
            "registry_changed": self.registry_changed,
        }


def version_image(root: Path, name: str, version: str, *, apply: bool) -> VersionImage:
    """Check that `version` can be built; with `apply`, build it and record its digest."""
    check = checked_models(root, [name], "built")
    entry = (registry_entry(check, name).get("versions") or {}).get(version)
    if not isinstance(entry, dict):
        raise InvalidInput(
            f"{layout.REGISTRY}: {name} has no version {version}",
            hint=f"promote it first: mlops promote {name} {version} --to staging --apply",
        )
    _require_digest(name, version, entry)
    recorded = (entry.get("bento_tag"), entry.get("image_digest"))
    plan = VersionImage(name, version, str(entry["model_uri"]), recorded)
    if not apply:
        return plan
    settings = load_settings(root)
    language = str(manifest_data(check, name).get("language", "python"))
    built = build_version(settings, name, version, entry, language)
    path = root / layout.REGISTRY
    before = path.read_text(encoding="utf-8")
    data = check.registry.data if check.registry else {}
    changed = recorded != (built.bento_tag, built.digest)
    if changed:
        record = data["models"][name]["versions"][version]
        record["bento_tag"], record["image_digest"] = built.bento_tag, built.digest
        after = render_registry(before, data)
        check_registry(root, after, f"recording {name} version {version}'s image")
        atomic.write_text(path, after)
    return VersionImage(name, version, plan.model_uri, recorded, built, changed)


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
    settings: Settings, model: str, version: str, entry: dict[str, Any], language: str
) -> BuiltImage:
    """Download, verify and build one version (see the module docstring)."""
    expected = _require_digest(model, version, entry)
    # BentoML refuses build contexts inside hidden folders such as the state folder; a failed
    # build keeps its folder (the error names its log), a successful one is removed.
    workdir = Path(tempfile.mkdtemp(prefix=f"mlops-build-{model}-{version}-"))
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
    built = build(spec, settings.state_dir / "bentoml", workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    return built
