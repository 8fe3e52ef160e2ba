"""Image references: parsing, where a model's images are pushed, and which image a deploy host
runs (the one it has, one it pulls by digest, or none: build)."""

from __future__ import annotations

import pytest

from mlops.core.image_reference import (
    BUILD,
    PULL,
    RUN,
    ImageChoice,
    Reference,
    choose_image,
    image_mismatch,
    image_record,
    parse_reference,
    pinned,
    pushed_repository,
    registry_problem,
)

DIGEST = "sha256:" + "ab" * 32
IMAGE_ID = "sha256:" + "cd" * 32
LOCAL = "mlops/m:1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000/acme/m@" + DIGEST, Reference("127.0.0.1:5000", "acme/m", None, DIGEST)),
        ("registry.example.com/ml/m:3", Reference("registry.example.com", "ml/m", "3", None)),
        ("localhost/m:3@" + DIGEST, Reference("localhost", "m", "3", DIGEST)),
        ("mlops/breast-cancer:3", Reference(None, "mlops/breast-cancer", "3", None)),
        ("python:3.11-slim", Reference(None, "python", "3.11-slim", None)),
        ("[::1]:5000/m@" + DIGEST, Reference("[::1]:5000", "m", None, DIGEST)),
    ],
)
def test_references_parse_into_registry_repository_tag_and_digest(
    text: str, expected: Reference
) -> None:
    """A reference splits as Docker splits it, and prints back as it was written."""
    found = parse_reference(text)
    assert found == expected
    assert str(found) == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "an image reference cannot be empty"),
        ("127.0.0.1:5000/Acme/m", "repository 'Acme/m' must be lower-case"),
        ("127.0.0.1:5000/acme/m@sha256:abc", "digest 'sha256:abc' is not sha256: and 64"),
        ("127.0.0.1:5000/acme//m", "repository 'acme//m' must be lower-case"),
        ("a b", "an image reference has no spaces"),
    ],
)
def test_bad_references_say_why(text: str, why: str) -> None:
    """A malformed reference is refused with the part that is wrong."""
    with pytest.raises(ValueError, match="^" + why.replace("(", r"\(")):
        parse_reference(text)


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("127.0.0.1:5000/acme", None),
        ("registry.example.com", None),
        ("localhost:5000/a/b", None),
        ("acme", "'acme' names no registry host"),
        ("acme/models", "'acme/models' names no registry host"),
        ("127.0.0.1:5000/Acme", "'127.0.0.1:5000/Acme' is not a registry host[:port] and path"),
        ("127.0.0.1:5000/acme@" + DIGEST, "is not a registry host[:port] and path"),
        ("127.0.0.1:5000/acme:1", "is not a registry host[:port] and path"),
        ("127.0.0.1:99999/acme", "port 99999 is not a port number"),
        ("", "names no registry host"),
    ],
)
def test_a_registry_setting_is_a_host_and_an_optional_path(
    prefix: str, problem: str | None
) -> None:
    """The registry setting must name a host (else Docker would read it as a Docker Hub
    namespace), with a lower-case path, no tag and no digest."""
    found = registry_problem(prefix)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_a_models_images_are_pushed_under_the_registry_path_and_pinned_by_digest() -> None:
    """`<registry path>/<model>`, tagged by version for people and recorded by digest."""
    repository = pushed_repository("127.0.0.1:5000/acme/", "breast-cancer")
    assert repository == "127.0.0.1:5000/acme/breast-cancer"
    assert pinned(repository, DIGEST) == f"127.0.0.1:5000/acme/breast-cancer@{DIGEST}"


def test_a_recorded_reference_runs_when_present_and_is_pulled_when_not() -> None:
    """The pushed reference wins over every local image; absent, it is pulled, never built."""
    ref = f"127.0.0.1:5000/acme/m@{DIGEST}"
    entry = {"image": ref, "image_digest": IMAGE_ID, "model_sha256": "f" * 64}
    assert choose_image(entry, LOCAL, {ref: IMAGE_ID}, None) == ImageChoice(RUN, ref)
    local = {IMAGE_ID: IMAGE_ID, LOCAL: IMAGE_ID}
    assert choose_image(entry, LOCAL, local, "f" * 64) == ImageChoice(PULL, ref)


def test_without_a_reference_the_local_image_runs_as_today() -> None:
    """No pushed reference: the recorded image ID on the engine, else the local tag built
    from this very model, else a build."""
    entry = {"image_digest": IMAGE_ID, "model_sha256": "f" * 64}
    assert choose_image(entry, LOCAL, {IMAGE_ID: IMAGE_ID}, None) == ImageChoice(RUN, IMAGE_ID)
    other = "sha256:" + "ee" * 32
    assert choose_image(entry, LOCAL, {LOCAL: other}, "f" * 64) == ImageChoice(RUN, LOCAL)
    assert choose_image(entry, LOCAL, {LOCAL: other}, "0" * 64) == ImageChoice(BUILD, None)
    assert choose_image(entry, LOCAL, {}, "f" * 64) == ImageChoice(BUILD, None)
    assert choose_image({}, LOCAL, {LOCAL: other}, None) == ImageChoice(BUILD, None)


def test_with_a_registry_configured_an_unpushed_version_is_built_and_pushed() -> None:
    """A registry configured and no reference recorded: the local image is not what runs,
    a (cached) build pushes it and the pinned reference runs; a recorded one still runs."""
    entry = {"image_digest": IMAGE_ID, "model_sha256": "f" * 64}
    local = {IMAGE_ID: IMAGE_ID, LOCAL: IMAGE_ID}
    assert choose_image(entry, LOCAL, local, "f" * 64, registry=True) == ImageChoice(BUILD, None)
    ref = f"127.0.0.1:5000/acme/m@{DIGEST}"
    pushed = {**entry, "image": ref}
    assert choose_image(pushed, LOCAL, {ref: IMAGE_ID}, None, registry=True) == ImageChoice(
        RUN, ref
    )


def test_a_pulled_image_must_be_the_recorded_one() -> None:
    """The image a reference resolves to must have the image ID registry.yaml recorded."""
    ref = f"r.example.com/m@{DIGEST}"
    assert image_mismatch({"image_digest": IMAGE_ID}, ref, IMAGE_ID) is None
    assert image_mismatch({}, ref, IMAGE_ID) is None
    problem = image_mismatch({"image_digest": IMAGE_ID}, ref, "sha256:" + "00" * 32)
    assert problem == (
        f"{ref} is image sha256:000000000000…, but registry.yaml records image_digest "
        "sha256:cdcdcdcdcdcd…"
    )


def test_a_pulled_image_must_carry_the_version_s_model() -> None:
    """An image found through the tracking store (no image_digest in registry.yaml) must
    carry the version's model digest in its label; a missing label is refused too."""
    ref = f"r.example.com/m@{DIGEST}"
    entry = {"model_sha256": "ab" * 32}
    assert image_mismatch(entry, ref, IMAGE_ID, "ab" * 32) is None
    assert image_mismatch(entry, ref, IMAGE_ID, "ef" * 32) == (
        f"{ref} carries model efefefefefefefef…, but registry.yaml records model_sha256 "
        "abababababababab… for this version"
    )
    assert "carries no model digest label" in str(image_mismatch(entry, ref, IMAGE_ID, None))


def test_a_build_records_its_reference_and_drops_a_stale_one() -> None:
    """A push records the new reference; a local build keeps the recorded reference only
    while it is still the same image."""
    old = f"r.example.com/m@{DIGEST}"
    new = "r.example.com/m@sha256:" + "12" * 32
    entry = {"image": old, "image_digest": IMAGE_ID, "bento_tag": "m:1-a"}
    assert image_record(entry, "m:1-b", IMAGE_ID, new) == {
        "bento_tag": "m:1-b", "image_digest": IMAGE_ID, "image": new,
    }  # fmt: skip
    assert image_record(entry, "m:1-a", IMAGE_ID, None) == {
        "bento_tag": "m:1-a", "image_digest": IMAGE_ID, "image": old,
    }  # fmt: skip
    other = "sha256:" + "99" * 32
    assert image_record(entry, "m:1-c", other, None) == {
        "bento_tag": "m:1-c", "image_digest": other,
    }  # fmt: skip
