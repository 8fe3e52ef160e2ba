"""The JSON Schemas themselves: valid draft 2020-12, documented, and covering the contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = sorted((ROOT / "policies" / "schemas").glob("*.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "policies" / "schemas" / name).read_text())


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schema_is_valid_against_its_metaschema(path: Path) -> None:
    """Every schema is a valid draft 2020-12 schema."""
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def _undocumented(schema: dict[str, Any]) -> list[str]:
    defs = schema.get("$defs", {})
    missing: list[str] = []

    def documented(node: dict[str, Any]) -> bool:
        ref = node.get("$ref", "")
        return "description" in node or (
            ref.startswith("#/$defs/") and "description" in defs[ref.rsplit("/", 1)[1]]
        )

    def walk(node: Any, where: str) -> None:
        if not isinstance(node, dict):
            return
        for name, sub in node.get("properties", {}).items():
            if not documented(sub):
                missing.append(f"{where}.{name}")
            walk(sub, f"{where}.{name}")
        for key in ("additionalProperties", "items"):
            walk(node.get(key), f"{where}[]")

    walk(schema, "$")
    for name, sub in defs.items():
        walk(sub, f"#/$defs/{name}")
    return missing


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_field_has_a_description(path: Path) -> None:
    """Each property says what it means (editors show it; validate quotes it)."""
    assert _undocumented(json.loads(path.read_text())) == []


def test_model_schema_covers_the_manifest_contract() -> None:
    """Every field DESIGN.md 3.1 names is a required top-level field of model.yaml."""
    schema = load("model.schema.json")
    contract = {
        "schema_version", "name", "description", "owners", "language", "task", "entrypoints",
        "data", "metrics", "serving", "monitoring", "compliance", "card",
    }  # fmt: skip
    assert contract <= set(schema["required"])
    assert set(schema["properties"]) == contract | {"cost_centre"}  # optional: who pays
    props = schema["properties"]
    assert props["language"]["enum"] == ["python", "r", "julia"]
    assert {"train", "predict"} <= set(props["entrypoints"]["required"])
    assert {"inputs", "features", "target"} <= set(props["data"]["required"])
    assert {"primary", "direction"} <= set(props["metrics"]["required"])
    assert {"absolute", "relative"} <= set(props["metrics"]["properties"]["gates"]["properties"])
    assert {"api", "batch"} <= set(props["serving"]["required"])
    assert {"slo", "resources"} <= set(props["serving"]["properties"]["api"]["properties"])
    assert {"drift", "alerts"} <= set(props["monitoring"]["required"])
    assert {"data_classification", "pii", "legal_basis", "retention_days"} <= set(
        props["compliance"]["required"]
    )
    assert {"intended_use", "limitations", "ethical_considerations"} <= set(
        props["card"]["required"]
    )


def test_registry_schema_covers_the_registry_contract() -> None:
    """Every version field and stage DESIGN.md 3.2 names is in registry.schema.json, plus the
    digest of the logged model that builds verify and the pushed image's pinned reference."""
    defs = load("registry.schema.json")["$defs"]
    version_fields = set(defs["version"]["properties"])
    assert version_fields == {
        "run_id", "model_uri", "git_commit", "dvc_hashes", "params_hash", "metrics",
        "artifact_sha256", "model_sha256", "bento_tag", "image_digest", "image", "created",
    }  # fmt: skip
    assert set(defs["model"]["properties"]["stages"]["properties"]) == {
        "staging",
        "production",
        "canary",
    }
    assert defs["version_id"]["type"] == "string"
