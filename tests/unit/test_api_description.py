"""The OpenAPI description a model's server answers: this model's features and limits, every
status with its body, and the key only when one is required."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.core.features import INT64_LIMIT, Feature
from mlops.core.prediction_log import Protection
from mlops.serving.api_description import describe_api, feature_schema
from mlops.serving.config import ServeConfig
from mlops.serving.requests import body_refusal

FEATURES = (
    Feature("radius", "number", minimum=0, maximum=290),
    Feature("cylinders", "integer", minimum=3.5, maximum=8.9),
    Feature("doors", "number", whole=True),
    Feature("manual", "boolean"),
    Feature("colour", "category", categories=("red", "blue", 3)),
    Feature("note", "string", nullable=True),
)


def config(api_key: str | None = None) -> ServeConfig:
    return ServeConfig(
        model="cars", version="4", model_uri="models:/cars/4", tracking_uri=None,
        manifest=Path("model.yaml"), features=FEATURES, task="regression", api_key=api_key,
        prediction_logs=None, environment="production", protection=Protection(), max_rows=25,
        max_body=1000,
    )  # fmt: skip


def test_each_feature_is_described_as_the_server_checks_it() -> None:
    """Bounds, whole numbers (inside the 64-bit range), categories and nulls; a number
    without bounds stops at the largest finite float, which JSON can carry."""
    schemas = [feature_schema(f) for f in FEATURES]
    assert schemas[0] == {"type": "number", "minimum": 0, "maximum": 290}
    assert schemas[1] == {"type": "integer", "minimum": 4, "maximum": 8}
    assert schemas[2] == {"type": "integer", "minimum": -INT64_LIMIT, "maximum": INT64_LIMIT - 1}
    assert schemas[3] == {"type": "boolean"}
    assert schemas[4] == {"enum": ["red", "blue", 3]}
    assert schemas[5] == {"type": "string", "nullable": True}
    assert feature_schema(Feature("x", "number"))["maximum"] == 1.7976931348623157e308


def test_a_request_is_one_to_max_rows_rows_of_exactly_the_features() -> None:
    document = describe_api(config())
    operation = document["paths"]["/predict"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["rows"] and body["additionalProperties"] is False
    rows = body["properties"]["rows"]
    assert (rows["minItems"], rows["maxItems"]) == (1, 25)
    assert rows["items"]["required"] == [f.name for f in FEATURES]
    assert rows["items"]["additionalProperties"] is False
    assert sorted(operation["responses"]) == ["200", "400", "413", "422", "500", "503"]
    assert "security" not in operation and "securitySchemes" not in document["components"]
    assert document["info"]["version"] == "4"


def test_with_a_key_the_description_says_how_to_send_it_and_what_a_refusal_is() -> None:
    document = describe_api(config("secret"))
    operation = document["paths"]["/predict"]["post"]
    assert operation["security"] == [{"bearer": []}, {"header": []}]
    assert document["components"]["securitySchemes"]["header"]["name"] == "X-API-Key"
    assert {"401", "403"} <= set(operation["responses"])
    assert "secret" not in str(document)


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "the body is not valid JSON"),
        (b"\x00", "the body is not valid JSON"),
        (b'{"rows": [', "the body is not valid JSON"),
        (b"[1, 2]", "the body is a list"),
        (b'"rows"', "the body is a string"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400_of_the_documented_shape(
    raw: bytes, said: str
) -> None:
    refused = body_refusal(raw)
    assert refused is not None and refused.status == 400
    assert refused.body()["error"].startswith(said)
    assert refused.body()["problems"][0]["expected"].startswith("a JSON object")
    assert body_refusal(b'{"rows": []}') is None
