"""The vendored subset of GitHub's OpenAPI description and the script that trims it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openapi_spec_validator
import pytest

from mlops.testing.github_openapi import (
    OPERATIONS,
    SUBSET_PATH,
    dumps,
    load_subset,
    main,
    trim,
)


def _source() -> dict[str, Any]:
    """A miniature full description: two operations, shared and unused components."""
    user = {"type": "object", "properties": {"login": {"type": "string"}}}
    run = {
        "type": "object",
        "properties": {
            "conclusion": {"type": "string", "nullable": True, "enum": ["success", "failure"]},
            "author": {
                "nullable": True,
                "oneOf": [{"$ref": "#/components/schemas/user"}, {"type": "string"}],
            },
            "owner": {"$ref": "#/components/schemas/user"},
        },
    }
    ok = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/run"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "9.9.9"},
        "servers": [{"url": "https://api.github.com"}],
        "tags": [{"name": "dropped"}],
        "paths": {
            "/runs/{id}": {
                "parameters": [{"$ref": "#/components/parameters/id"}],
                "get": {"responses": {"200": ok}},
                "delete": {"responses": {"204": {"description": "gone"}}},
            },
            "/other": {"get": {"responses": {"200": {"$ref": "#/components/responses/other"}}}},
        },
        "components": {
            "schemas": {"run": run, "user": user, "unused": {"type": "integer"}},
            "parameters": {"id": {"name": "id", "in": "path", "required": True}},
            "responses": {"other": {"description": "other"}},
        },
    }


def test_trim_keeps_the_operations_and_the_components_they_reach() -> None:
    """It keeps only the wanted operations, their path parameters and the $ref closure."""
    subset = trim(_source(), [("get", "/runs/{id}")])
    assert list(subset["paths"]) == ["/runs/{id}"]
    assert set(subset["paths"]["/runs/{id}"]) == {"parameters", "get"}
    assert subset["components"] == {
        "parameters": {"id": {"name": "id", "in": "path", "required": True}},
        "schemas": {
            "run": subset["components"]["schemas"]["run"],
            "user": _source()["components"]["schemas"]["user"],
        },
    }
    assert "tags" not in subset
    assert subset["info"]["x-source"] == "npm @octokit/openapi@9.9.9 generated/api.github.com.json"


def test_trim_lets_nullable_enums_and_unions_hold_null() -> None:
    """It appends null to a nullable enum and a null-only branch to a typeless nullable oneOf."""
    run = trim(_source(), [("get", "/runs/{id}")])["components"]["schemas"]["run"]
    assert run["properties"]["conclusion"]["enum"] == ["success", "failure", None]
    assert run["properties"]["author"]["oneOf"][-1] == {
        "type": "object",
        "nullable": True,
        "enum": [None],
    }


def test_trim_refuses_an_operation_the_source_lacks() -> None:
    """It fails loudly when a wanted operation is not in the source description."""
    with pytest.raises(KeyError, match="POST /runs/"):
        trim(_source(), [("post", "/runs/{id}")])


def test_vendored_subset_holds_exactly_our_operations() -> None:
    """The vendored file holds every operation of OPERATIONS and nothing else."""
    subset = load_subset()
    found = {
        (method, path)
        for path, item in subset["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert found == set(OPERATIONS)
    assert subset["info"]["x-source"].startswith("npm @octokit/openapi@23.0.2 ")


def test_vendored_subset_is_a_valid_openapi_document() -> None:
    """The subset passes openapi-spec-validator's full self-check."""
    openapi_spec_validator.validate(load_subset())


def test_regenerating_from_the_subset_reproduces_it_byte_for_byte(tmp_path: Path) -> None:
    """Trimming is deterministic and its fixes are idempotent: the subset trims to itself."""
    out = tmp_path / "subset.json"
    assert main([str(SUBSET_PATH), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == SUBSET_PATH.read_text(encoding="utf-8")


def test_dumps_sorts_keys_and_ends_with_a_newline() -> None:
    """The written form has sorted keys and a final newline, so diffs stay small."""
    text = dumps({"b": 1, "a": {"d": 2, "c": 3}})
    assert text.endswith("}\n")
    assert list(json.loads(text)) == ["a", "b"]
    assert text.index('"c"') < text.index('"d"')


def test_add_labels_accepts_the_bare_array_pygithub_sends() -> None:
    """The add-labels body allows the documented bare array as well as {"labels": [...]}."""
    path = "/repos/{owner}/{repo}/issues/{issue_number}/labels"
    body = load_subset()["paths"][path]["post"]["requestBody"]
    kinds = [s.get("type") for s in body["content"]["application/json"]["schema"]["oneOf"]]
    assert kinds == ["object", "array"]
