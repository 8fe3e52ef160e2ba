"""Names the platform accepts: models (DNS-safe) and owners (GitHub users and teams)."""

from __future__ import annotations

import re

MODEL_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
OWNER = re.compile(
    r"^@[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,99})?$"
)
LANGUAGES = ("python", "r", "julia")


def model_name_problem(name: str) -> str | None:
    """Why `name` is not a valid model name, or None when it is."""
    if not name:
        return "a model name cannot be empty"
    if len(name) > 63:
        return f"model name {name!r} is {len(name)} characters; the limit is 63"
    if not MODEL_NAME.match(name):
        return (
            f"model name {name!r} is not DNS-safe: use lower-case letters, digits and '-', "
            "start with a letter and do not end with '-'"
        )
    return None


def owner_problem(owner: str) -> str | None:
    """Why `owner` is not a GitHub user or team reference, or None when it is."""
    if not OWNER.match(owner):
        return f'owner {owner!r} is not a GitHub user "@user" or team "@org/team"'
    return None
