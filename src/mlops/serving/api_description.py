"""The OpenAPI description a model's server answers at `GET /docs.json`: this model's request
and answers exactly, built from its manifest and limits.

BentoML's own description knows only the Python signature of `predict` (three optional values
of any type), so by it an empty object is a valid request, which the server refuses with 400;
a client generated from it, or a fuzzer, learns nothing of the features. This one states what
`requests.check_request` accepts: `rows`, one to `max_rows` objects holding every feature
(whole numbers, bounds, categories and nulls as the manifest declares them) and nothing else.
The `columns` and `data` form is described in words only: OpenAPI 3.0 cannot tie a value's
type to its column's position. Each status the server answers is listed with the body it
carries: 200 the predictions; 400, 413 and 422 the problems; 401 and 403 a refused key; 500
a model failure; 503 a model not loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from mlops.core.features import INT64_LIMIT, Feature
from mlops.serving.config import ServeConfig

OPENAPI = "3.0.3"
JSON = "application/json"


def describe_api(config: ServeConfig) -> dict[str, Any]:
    """The OpenAPI document of the server `config` configures."""
    answer = _object(
        {
            "model": {"type": "string"},
            "version": {"type": "string"},
            "request_id": {"type": "string"},
            "predictions": {"type": "array", "items": {"type": "object"}},
        },
        ["model", "version", "request_id", "predictions"],
    )
    problem = _object(
        {
            "row": {"type": "integer"},
            "field": {"type": "string"},
            "message": {"type": "string"},
            "expected": {"type": "string"},
        },
        ["message"],
        closed=True,
    )
    refused = _object(
        {
            "model": {"type": "string"},
            "version": {"type": "string"},
            "request_id": {"type": "string"},
            "error": {"type": "string"},
            "problem_count": {"type": "integer", "minimum": 1},
            "problems": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
        },
        ["model", "version", "request_id", "error", "problem_count", "problems"],
    )
    failed = _object(
        {
            "model": {"type": "string"},
            "version": {"type": "string"},
            "request_id": {"type": "string"},
            "error": {"type": "string"},
        },
        ["model", "version", "request_id", "error"],
    )
    key = _object(
        {"error": {"type": "string"}, "request_id": {"type": "string"}}, ["error", "request_id"]
    )
    too_large = {
        "oneOf": [
            {"$ref": "#/components/schemas/Refused"},
            _object(
                {
                    "error": {"type": "string"},
                    "limit": {"type": "string"},
                    "request_id": {"type": "string"},
                },
                ["error", "limit", "request_id"],
                closed=True,
            ),
        ]
    }
    responses = {
        "200": _response("The predictions, one per row, in order.", "Answer"),
        "400": _response("The request is not of the documented shape.", "Refused"),
        "413": _response(
            "Over serving.api.limits: too many rows, or too large a body.", schema=too_large
        ),
        "422": _response(
            "Values break the model's features; each problem names row and field.", "Refused"
        ),
        "500": _response("The model failed to score the rows.", "Failed"),
        "503": _response("The model is not loaded.", "Failed"),
    }
    operation: dict[str, Any] = {
        "summary": f"Predictions of {config.model} version {config.version}",
        "description": (
            'Send {"rows": [{feature: value, ...}, ...]}, or the same rows as'
            ' {"columns": [feature, ...], "data": [[value, ...], ...]}.'
        ),
        "operationId": "predict",
        "requestBody": {"required": True, "content": {JSON: {"schema": _request(config)}}},
        "responses": responses,
    }
    document: dict[str, Any] = {
        "openapi": OPENAPI,
        "info": {
            "title": f"{config.model}",
            "version": config.version,
            "description": f"Model {config.model}, version {config.version}"
            f" ({config.task or 'a model'}).",
        },
        "paths": {
            "/predict": {"post": operation},
            "/healthz": {"get": _probe("The process answers.")},
            "/readyz": {
                "get": _probe("The model loaded and passed its smoke prediction.", ready=True)
            },
        },
        "components": {
            "schemas": {
                "Answer": answer,
                "Problem": problem,
                "Refused": refused,
                "Failed": failed,
                "KeyRefused": key,
            }
        },
    }
    if config.api_key is not None:
        document["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "header": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        operation["security"] = [{"bearer": []}, {"header": []}]
        responses["401"] = _response("No API key, or not this server's.", "KeyRefused")
        responses["403"] = _response("The key may not call this model.", "KeyRefused")
    return document


def feature_schema(feature: Feature) -> dict[str, Any]:
    """The JSON schema (OpenAPI 3.0 dialect) of the values `check_value` accepts."""
    schema: dict[str, Any]
    if feature.type in ("boolean", "string"):
        schema = {"type": feature.type}
    elif feature.type == "category":
        schema = {"enum": list(feature.categories)}
    elif feature.integral:
        low = max(feature.minimum, -INT64_LIMIT) if feature.minimum is not None else -INT64_LIMIT
        high = INT64_LIMIT - 1 if feature.maximum is None else min(feature.maximum, INT64_LIMIT - 1)
        schema = {
            "type": "integer",
            "minimum": _whole(low, up=True),
            "maximum": _whole(high, up=False),
        }
    else:
        largest = sys.float_info.max
        schema = {
            "type": "number",
            "minimum": -largest if feature.minimum is None else feature.minimum,
            "maximum": largest if feature.maximum is None else feature.maximum,
        }
    if feature.nullable:
        schema["nullable"] = True
    return schema


def _request(config: ServeConfig) -> dict[str, Any]:
    row = _object(
        {f.name: feature_schema(f) for f in config.features},
        [f.name for f in config.features],
        closed=True,
    )
    rows = {"type": "array", "items": row, "minItems": 1, "maxItems": config.max_rows}
    return _object({"rows": rows}, ["rows"], closed=True)


def _whole(value: float, *, up: bool) -> int:
    import math

    return math.ceil(value) if up else math.floor(value)


def _object(
    properties: dict[str, Any], required: Sequence[str], *, closed: bool = False
) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return schema | {"additionalProperties": False} if closed else schema


def _response(
    text: str, component: str | None = None, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = schema if schema is not None else {"$ref": f"#/components/schemas/{component}"}
    return {"description": text, "content": {JSON: {"schema": body}}}


def _probe(text: str, ready: bool = False) -> dict[str, Any]:
    ok = {"description": text, "content": {JSON: {"schema": {"type": "object"}}}}
    responses = {"200": ok}
    if ready:
        responses["503"] = {
            "description": "Not ready yet, or loading failed.",
            "content": {JSON: {"schema": {"type": "object"}}},
        }
    return {"responses": responses}
