"""Where things live in a repository: the one place that knows the folder layout."""

from __future__ import annotations

MODELS_DIR = "models"
MANIFEST = "model.yaml"
REGISTRY = "registry.yaml"
POLICIES_DIR = "policies"
SCHEMAS_DIR = "policies/schemas"
PROMOTION_POLICY = "policies/promotion.yaml"
PLATFORM_POLICY = "policies/platform.yaml"
COSTS_POLICY = "policies/costs.yaml"
KEYS_POLICY = "policies/api-keys.yaml"

MODEL_SCHEMA = "model.schema.json"
REGISTRY_SCHEMA = "registry.schema.json"
PROMOTION_SCHEMA = "promotion.schema.json"
PLATFORM_SCHEMA = "platform.schema.json"
COSTS_SCHEMA = "costs.schema.json"
KEYS_SCHEMA = "api-keys.schema.json"

# Which schema validates which kind of file.
SCHEMA_OF = {
    "model": MODEL_SCHEMA,
    "registry": REGISTRY_SCHEMA,
    "promotion": PROMOTION_SCHEMA,
    "platform": PLATFORM_SCHEMA,
    "costs": COSTS_SCHEMA,
    "keys": KEYS_SCHEMA,
}


def manifest_path(model: str) -> str:
    return f"{MODELS_DIR}/{model}/{MANIFEST}"


def model_dir(model: str) -> str:
    return f"{MODELS_DIR}/{model}"


def model_of_path(path: str) -> str | None:
    """The model a repository path belongs to: `models/<name>/...` -> name."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[0] == MODELS_DIR and parts[1] and not parts[1].startswith("."):
        return parts[1]
    return None
