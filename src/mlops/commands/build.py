"""`mlops build NAME VERSION`: the bento and container image of one registered version.

The version must be in registry.yaml. Its logged MLflow model is downloaded and its digest
checked against the `model_sha256` the registry recorded at training: a model changed in the
artifact store since (tampered, or overwritten) is refused before anything is built. The
image's digest and the bento's tag are then written into the version's registry entry
(atomically, validated first), ready to commit: what was reviewed is what runs.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from mlops.adapters import atomic, tracking
from mlops.adapters.images import BuiltImage, ImageSpec, build
from mlops.adapters.repository import find_root
from mlops.adapters.settings import Settings, load_settings
from mlops.commands.loading import checked_models, manifest_data, registry_entry
from mlops.commands.promote import check_registry, render_registry
from mlops.core import layout
from mlops.errors import InvalidInput, MlopsError
from mlops.output import console, print_json


class Tampered(MlopsError):
    """The model in the artifact store is not the one registry.yaml recorded."""


@click.command("build")
@click.argument("name")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def command(obj: dict[str, Any], name: str, version: str, as_json: bool) -> None:
    """Build NAME's VERSION into a container image and record its digest in registry.yaml."""
    root = find_root(obj.get("repo"))
    check = checked_models(root, [name], "built")
    entry = (registry_entry(check, name).get("versions") or {}).get(version)
    if not isinstance(entry, dict):
        raise InvalidInput(
            f"{layout.REGISTRY}: {name} has no version {version}",
            hint=f"promote it first: mlops promote {name} {version} --to staging",
        )
    settings = load_settings(root)
    language = str(manifest_data(check, name).get("language", "python"))
    built = build_version(settings, name, version, entry, language)
    path = root / layout.REGISTRY
    before = path.read_text(encoding="utf-8")
    data = check.registry.data if check.registry else {}
    recorded = data["models"][name]["versions"][version]
    changed = (recorded.get("bento_tag"), recorded.get("image_digest")) != (
        built.bento_tag,
        built.digest,
    )
    recorded["bento_tag"], recorded["image_digest"] = built.bento_tag, built.digest
    if changed:
        after = render_registry(before, data)
        check_registry(root, after)
        atomic.write_text(path, after)
    if as_json:
        print_json({"model": name, "version": version, "image": built.image,
                    "bento_tag": built.bento_tag, "image_digest": built.digest,
                    "registry_changed": changed})  # fmt: skip
        return
    out = console(stderr=True)
    out.print(f"[green]✓[/] {built.image} ({built.digest[:19]}), bento {built.bento_tag}")
    if changed:
        out.print(f"wrote the digest into {layout.REGISTRY}; commit it")


def build_version(
    settings: Settings, model: str, version: str, entry: dict[str, Any], language: str
) -> BuiltImage:
    """Download, verify and build one version (see the module docstring)."""
    expected = entry.get("model_sha256")
    if not expected:
        raise Tampered(
            f"{layout.REGISTRY}: {model} version {version} records no model_sha256,"
            " so its model cannot be verified",
            hint="retrain and promote it",
        )
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
