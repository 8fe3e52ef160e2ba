"""Container image references, where a model's images are pushed, and which image runs.

A reference is `[registry/]repository[:tag][@sha256:<64 hex>]`, split as Docker splits it:
the first path component names a registry when it has a `.` or a `:`, is `localhost` or is
an IPv6 address in brackets. With an image registry configured (`[tool.mlops.deploy]
registry`, a host and an optional path such as `127.0.0.1:5000/acme`), a version's image is
pushed to `<registry path>/<model>`, tagged with its version for people, and recorded in
registry.yaml pinned by the registry's manifest digest (`image`): the one reference a
deploy host pulls and runs, whatever a tag says later. `image_digest` stays the image ID
(the digest of its configuration), which the engine reports for every container it runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]+))?")
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

RUN, PULL, BUILD = "run", "pull", "build"


@dataclass(frozen=True)
class Reference:
    registry: str | None  # "127.0.0.1:5000"; None: the engine's default registry
    repository: str  # "acme/breast-cancer"
    tag: str | None = None
    digest: str | None = None  # "sha256:<64 hex>", the registry's manifest digest

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.name}{tag}{digest}"


def parse_reference(text: str) -> Reference:
    """`text` as a reference; ValueError says what is wrong with it."""
    if not text:
        raise ValueError("an image reference cannot be empty")
    if any(c.isspace() for c in text):
        raise ValueError(f"an image reference has no spaces: {text!r}")
    name, _, digest = text.partition("@")
    if digest and not DIGEST.fullmatch(digest):
        raise ValueError(f"digest {digest!r} is not sha256: and 64 lower-case hex digits")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ValueError(f"tag {tag!r} is not a valid image tag")
    first, _, rest = name.partition("/")
    registry = None
    if rest and _names_a_host(first):
        registry, name = first, rest
        problem = _host_problem(registry)
        if problem:
            raise ValueError(problem)
    if not _is_repository(name):
        raise ValueError(
            f"repository {name!r} must be lower-case letters and digits, separated by "
            "'.', '_' or '-' within and '/' between components"
        )
    return Reference(registry, name, tag, digest or None)


def registry_problem(prefix: str) -> str | None:
    """Why `prefix` cannot say where images are pushed (a registry host[:port] and an
    optional path, `127.0.0.1:5000/acme`), or None when it can."""
    text = prefix.rstrip("/")
    host, _, path = text.partition("/")
    if not _names_a_host(host):
        return (
            f"{prefix!r} names no registry host: write host[:port][/path], "
            "such as 127.0.0.1:5000/acme"
        )
    problem = _host_problem(host)
    if problem:
        return problem
    if path and not _is_repository(path):
        return (
            f"{prefix!r} is not a registry host[:port] and path: the path takes lower-case "
            "letters, digits and '.', '_', '-' between '/', and no tag or digest"
        )
    return None


def pushed_repository(prefix: str, model: str) -> str:
    """Where `model`'s images go in the registry `prefix`: `<prefix>/<model>`."""
    return f"{prefix.rstrip('/')}/{model}"


def pinned(repository: str, digest: str) -> str:
    """The content-addressed reference of the manifest `digest` in `repository`."""
    return f"{repository}@{digest}"


@dataclass(frozen=True)
class ImageChoice:
    """What a deploy host does to serve a version: RUN `image` (the engine has it), PULL
    `image` first, or BUILD one (`image` is None)."""

    action: str
    image: str | None


def references(entry: Mapping[str, Any], local_name: str) -> list[str]:
    """The references `choose_image` asks the engine about, in the order it prefers them."""
    found = [entry.get("image"), entry.get("image_digest"), local_name]
    return [str(ref) for ref in found if isinstance(ref, str) and ref]


def choose_image(
    entry: Mapping[str, Any],
    local_name: str,
    on_engine: Mapping[str, str],
    local_model_sha256: str | None,
    *,
    registry: bool = False,
) -> ImageChoice:
    """The image to run for a version's registry.yaml `entry`.

    `on_engine` maps each of `references(...)` the engine has to its image ID;
    `local_model_sha256` is the model digest `local_name` (`mlops/<model>:<version>`) carries
    in its label. A pushed reference (`image`) is always what runs: pulled when the engine
    lacks it, never rebuilt. Without one, when a `registry` is configured, a build (cached
    builds only push) makes one. With no registry: the recorded image ID when the engine
    has it, else the local tag when it was built from this very model, else a build.
    """
    reference = entry.get("image")
    if isinstance(reference, str) and reference:
        return ImageChoice(RUN if reference in on_engine else PULL, reference)
    if registry:
        return ImageChoice(BUILD, None)
    recorded = entry.get("image_digest")
    if isinstance(recorded, str) and on_engine.get(recorded) == recorded:
        return ImageChoice(RUN, recorded)
    wanted = entry.get("model_sha256")
    if wanted and local_name in on_engine and local_model_sha256 == wanted:
        return ImageChoice(RUN, local_name)
    return ImageChoice(BUILD, None)


def image_mismatch(
    entry: Mapping[str, Any], reference: str, image_id: str, model_sha256: str | None = None
) -> str | None:
    """Why the image `reference` resolved to (its ID, and the model digest its label
    carries) is not the version's recorded image or model, or None."""
    recorded = entry.get("image_digest")
    if recorded and recorded != image_id:
        return (
            f"{reference} is image {image_id[:19]}…, but registry.yaml records image_digest "
            f"{str(recorded)[:19]}…"
        )
    wanted = entry.get("model_sha256")
    if wanted and model_sha256 != wanted:
        carried = f"model {model_sha256[:16]}…" if model_sha256 else "no model digest label"
        return (
            f"{reference} carries {carried}, but registry.yaml records model_sha256 "
            f"{str(wanted)[:16]}… for this version"
        )
    return None


def image_record(
    entry: Mapping[str, Any], bento_tag: str, image_id: str, reference: str | None
) -> dict[str, str]:
    """The image fields of a version's entry after a build, and a push when `reference` is
    given. Without a push, a recorded reference is kept only while it is the same image."""
    record = {"bento_tag": bento_tag, "image_digest": image_id}
    kept = entry.get("image") if entry.get("image_digest") == image_id else None
    if reference or kept:
        record["image"] = str(reference or kept)
    return record


def _names_a_host(component: str) -> bool:
    return bool(component) and (
        "." in component or ":" in component or component == "localhost"
        or component.startswith("[")
    )  # fmt: skip


def _host_problem(host: str) -> str | None:
    found = _HOST.fullmatch(host)
    if found is None:
        return f"{host!r} is not a registry host[:port]"
    port = found.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return f"registry {host!r}: port {port} is not a port number"
    return None


def _is_repository(path: str) -> bool:
    return all(_COMPONENT.fullmatch(part) for part in path.split("/"))
