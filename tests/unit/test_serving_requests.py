"""Serving: request rows checked against manifest features, and the configuration a deployer sets.

Every refusal names the row index and the field and says what was expected; the request's
shape is a 400, values that break the feature schema a 422.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops.core.features import ManifestError, model_schema
from mlops.serving.config import ConfigError, load_config
from mlops.serving.requests import (
    MAX_PROBLEMS,
    Feature,
    RequestRefused,
    check_request,
    client_request_id,
    smoke_row,
)

FEATURES = [
    Feature("radius", "number", minimum=0),
    Feature("cylinders", "integer", minimum=4, maximum=8),
    Feature("manual", "boolean"),
    Feature("colour", "category", categories=("red", "blue", 3)),
    Feature("note", "string", nullable=True),
]
ROW: dict[str, Any] = {"radius": 1.5, "cylinders": 6, "manual": True, "colour": "red", "note": "x"}


def refused(body: dict[str, Any], max_rows: int = 10) -> RequestRefused:
    with pytest.raises(RequestRefused) as caught:
        check_request(body, FEATURES, max_rows)
    return caught.value


def problems(body: dict[str, Any]) -> list[dict[str, Any]]:
    return refused(body).body()["problems"]


def test_valid_rows_come_back_normalised_in_feature_order() -> None:
    """Numbers become floats, whole numbers ints (4.0 included); keys follow the manifest."""
    row = {"note": None, "colour": 3, "manual": False, "cylinders": 4.0, "radius": 2}
    (checked,) = check_request({"rows": [row]}, FEATURES, 10)
    assert list(checked) == [f.name for f in FEATURES]
    assert checked == {"radius": 2.0, "cylinders": 4, "manual": False, "colour": 3, "note": None}
    assert type(checked["radius"]) is float and type(checked["cylinders"]) is int


def test_columns_and_data_are_the_same_rows() -> None:
    """The tabular form gives the same rows as the record form."""
    body = {"columns": list(ROW), "data": [list(ROW.values()), list(ROW.values())]}
    assert check_request(body, FEATURES, 10) == check_request({"rows": [ROW, ROW]}, FEATURES, 10)


def test_a_missing_feature_is_named_with_its_row_and_expected_type() -> None:
    """The second row lacks `radius`: row 1, the field, and `a number >= 0`."""
    row = {k: v for k, v in ROW.items() if k != "radius"}
    error = refused({"rows": [ROW, row]})
    assert error.status == 422
    assert error.body()["problems"] == [
        {"row": 1, "field": "radius", "message": "required feature is missing",
         "expected": "a number >= 0"}
    ]  # fmt: skip
    assert (
        str(error) == "row 1, field 'radius': required feature is missing; expected a number >= 0"
    )


def test_an_unknown_field_is_refused_with_a_suggestion() -> None:
    """A misspelt feature is an unknown field, and the close match is offered."""
    (problem,) = problems({"rows": [{**ROW, "radus": 1}]})
    assert problem == {
        "row": 0,
        "field": "radus",
        "message": "unknown field (did you mean 'radius'?)",
    }


@pytest.mark.parametrize(
    ("field", "value", "message", "expected"),
    [
        ("radius", "abc", "got a string ('abc')", "a number >= 0"),
        ("radius", True, "got true", "a number >= 0"),
        ("radius", [1], "got a list of 1 values", "a number >= 0"),
        ("radius", None, "got null", "a number >= 0"),
        ("radius", -0.5, "-0.5 is below the minimum 0", "a number >= 0"),
        ("radius", float("nan"), "nan is not a finite number", "a number >= 0"),
        ("radius", float("inf"), "inf is not a finite number", "a number >= 0"),
        ("radius", 10**400, "is too large for a 64-bit number", "a number >= 0"),
        ("cylinders", 4.5, "4.5 is not a whole number", "a whole number from 4 to 8"),
        ("cylinders", 12, "12 is above the maximum 8", "a whole number from 4 to 8"),
        ("cylinders", 2**70, f"{2**70} is outside the 64-bit integer range",
         "a whole number from 4 to 8"),
        ("manual", 1, "got the number 1", "true or false"),
        ("colour", "green", "got a string ('green'), which is not a category",
         'one of "red", "blue", 3'),
        ("colour", "3", "got a string ('3'), which is not a category", 'one of "red", "blue", 3'),
        ("note", 5, "got the number 5", "a string or null"),
    ],
)  # fmt: skip
def test_a_wrong_value_names_row_field_and_what_was_expected(
    field: str, value: Any, message: str, expected: str
) -> None:
    """Types, bounds, whole numbers, categories and finiteness are each checked."""
    (problem,) = problems({"rows": [ROW, {**ROW, field: value}]})
    assert problem == {"row": 1, "field": field, "message": message, "expected": expected}


def test_every_problem_is_reported_not_just_the_first() -> None:
    """Problems in several rows are all listed; the summary counts the rest."""
    error = refused({"rows": [{**ROW, "radius": -1}, {**ROW, "cylinders": 9, "manual": "yes"}]})
    assert [(p.row, p.field) for p in error.problems] == [
        (0, "radius"), (1, "cylinders"), (1, "manual")
    ]  # fmt: skip
    assert str(error).endswith("(and 2 more problems)")


def test_the_problem_list_is_capped_but_counted() -> None:
    """A huge bad request lists MAX_PROBLEMS problems and says how many there were."""
    rows = [{**ROW, "radius": -1}] * (MAX_PROBLEMS + 5)
    body = refused({"rows": rows}, max_rows=1000).body()
    assert body["problem_count"] == MAX_PROBLEMS + 5
    assert len(body["problems"]) == MAX_PROBLEMS


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, None, "no rows: send"),
        ({"rows": []}, "rows", "the request has no rows"),
        ({"rows": {"radius": 1}}, "rows", "got an object"),
        ({"rows": [ROW], "columns": ["radius"]}, None, "send either rows or columns"),
        ({"columns": "radius", "data": []}, "columns", "got a string"),
        ({"columns": ["radius", "radius"], "data": [[1, 2]]}, "columns", "names a column twice"),
        ({"columns": list(ROW), "data": 5}, "data", "got the number 5"),
    ],
)
def test_a_request_of_the_wrong_shape_is_a_400(
    body: dict[str, Any], field: str | None, message: str
) -> None:
    """No rows, both forms, non-list rows and bad columns."""
    error = refused(body)
    assert error.status == 400
    (problem,) = error.problems
    assert (problem.row, problem.field) == (None, field)
    assert problem.message.startswith(message)


def test_more_rows_than_the_limit_is_a_413_naming_it() -> None:
    for body in ({"rows": [ROW] * 11}, {"columns": list(ROW), "data": [list(ROW.values())] * 11}):
        error = refused(body)
        assert error.status == 413
        (problem,) = error.problems
        assert problem.message == "11 rows; the limit is 10 per request"
        assert problem.field in ("rows", "data")
        assert problem.expected == ("at most 10 rows (serving.api.limits.max_rows): split the"
                                    " request")  # fmt: skip


def test_a_row_that_is_not_an_object_is_named() -> None:
    """A bare list where a row object belongs: the row index says which."""
    (problem,) = problems({"rows": [ROW, [1, 2]]})
    assert problem == {"row": 1, "message": "got a list of 2 values",
                       "expected": "an object of feature values"}  # fmt: skip


def test_a_table_reports_its_columns_once_and_short_rows_by_index() -> None:
    """Unknown and missing columns are column problems (no row); a short data row is named."""
    columns = [c for c in ROW if c != "note"] + ["extra"]
    data = [[1.0, 6, True, "red", 0], [1.0, 6]]
    found = problems({"columns": columns, "data": data})
    assert found == [
        {"field": "extra", "message": "unknown field"},
        {"field": "note", "message": "required feature is missing",
         "expected": "a string or null"},
        {"row": 1, "message": "got a list of 2 values",
         "expected": "a list of 5 values, one per column"},
    ]  # fmt: skip


def test_the_smoke_row_prefers_the_models_example_and_falls_back_to_bounds() -> None:
    """A fitting example is used as is; otherwise typical values inside the bounds."""
    assert smoke_row(FEATURES, {**ROW, "extra": 1}) == ROW | {"radius": 1.5}
    built = smoke_row(FEATURES, {"radius": -3})
    assert built == {"radius": 0.0, "cylinders": 6, "manual": False, "colour": "red",
                     "note": "example"}  # fmt: skip


def test_a_signature_that_takes_integers_makes_numbers_whole() -> None:
    """A `number` the model's signature types as long must be whole; dtypes follow the
    signature, else the manifest."""
    schema = _Schema({"radius": "long", "cylinders": "double"})
    features, dtypes = model_schema(FEATURES, schema)
    assert features[0].whole and features[0].expected() == "a whole number >= 0"
    assert dtypes == {"radius": "int64", "cylinders": "float64", "manual": "bool",
                      "colour": "object", "note": "object"}  # fmt: skip
    (problem,) = check_request_problems({"rows": [{**ROW, "radius": 2.5}]}, features)
    assert problem.message == "2.5 is not a whole number"
    with pytest.raises(ManifestError, match=r"the model takes speed, not in model\.yaml"):
        model_schema(FEATURES, _Schema({"speed": "double"}))


def test_request_ids_are_echoed_only_when_safe() -> None:
    """A plain id up to 128 characters is kept; anything else is replaced by the server."""
    assert client_request_id("abc-123_x.y:z") == "abc-123_x.y:z"
    for unsafe in (None, "", "a b", "x" * 129, "id\nforged: yes"):
        assert client_request_id(unsafe) is None


MANIFEST = """
name: cars
task: regression
data:
  features:
    - {name: hp, type: number, minimum: 0}
"""


def env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    manifest = tmp_path / "model.yaml"
    manifest.write_text(MANIFEST)
    values = {"MLOPS_SERVE_MODEL": "cars", "MLOPS_SERVE_VERSION": "3",
              "MLOPS_SERVE_MANIFEST": str(manifest), "MLFLOW_TRACKING_URI": "sqlite:///x.db"}  # fmt: skip
    return {k: v for k, v in {**values, **overrides}.items() if v != "-"}


def test_the_configuration_pins_one_version(tmp_path: Path) -> None:
    """Defaults: the models:/ URI of that version, 1000 rows, no key, no log, environment
    `local`, no personal-data fields."""
    config = load_config(env(tmp_path))
    assert (config.model_uri, config.max_rows, config.api_key, config.prediction_logs) == (
        "models:/cars/3", 1000, None, None
    )  # fmt: skip
    assert (config.max_body, config.max_body_text) == (10 * 1024**2, "10Mi")
    assert config.environment == "local"
    assert config.protection.fields == frozenset()
    assert [f.name for f in config.features] == ["hp"] and config.task == "regression"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MLOPS_SERVE_VERSION": "latest"}, "MLOPS_SERVE_VERSION='latest' is not a pinned version"),
        ({"MLOPS_SERVE_VERSION": "-"}, "MLOPS_SERVE_VERSION is not set"),
        ({"MLOPS_SERVE_MODEL_URI": "models:/cars@champion"}, "names an alias"),
        ({"MLOPS_SERVE_MODEL_URI": "models:/cars/Production"}, "does not pin a version"),
        ({"MLOPS_SERVE_MODEL_URI": "models:/cars/4"}, "is not MLOPS_SERVE_MODEL=cars at version 3"),
        ({"MLFLOW_TRACKING_URI": "-"}, "MLFLOW_TRACKING_URI is not set"),
        ({"MLOPS_SERVE_MODEL": "bikes"}, "describes 'cars', not MLOPS_SERVE_MODEL=bikes"),
        ({"MLOPS_SERVE_MANIFEST": "/nope.yaml"}, "cannot read it"),
        ({"MLOPS_SERVE_API_KEY": " "}, "MLOPS_SERVE_API_KEY is set but empty"),
        ({"MLOPS_SERVE_MAX_ROWS": "0"}, "expected a positive whole number"),
        ({"MLOPS_SERVE_MAX_BODY": "1Gi"}, "MLOPS_SERVE_MAX_BODY='1Gi': expected a size from 1Ki"),
        ({"MLOPS_SERVE_MAX_BODY": "101Mi"}, "expected a size from 1Ki to 100Mi"),
        (
            {"MLOPS_SERVE_PREDICTION_LOGS": "/nope/logs"},
            "PREDICTION_LOGS=/nope/logs: no such folder",
        ),
        ({"MLOPS_SERVE_ENVIRONMENT": "Prod uction"}, "expected a name like production"),
    ],
)
def test_a_configuration_that_cannot_serve_is_refused(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    """Latest, aliases, stages, mismatches and missing settings each say what is wrong."""
    with pytest.raises(ConfigError) as caught:
        load_config(env(tmp_path, **overrides))
    assert message in caught.value.message


def test_the_manifests_limits_apply_unless_the_environment_sets_its_own(tmp_path: Path) -> None:
    manifest = tmp_path / "limited.yaml"
    manifest.write_text(MANIFEST + "serving:\n  api:\n    enabled: true\n"
                        "    limits: {max_rows: 5, max_body: 512Ki}\n")  # fmt: skip
    config = load_config(env(tmp_path, MLOPS_SERVE_MANIFEST=str(manifest)))
    assert (config.max_rows, config.max_body, config.max_body_text) == (5, 512 * 1024, "512Ki")
    config = load_config(env(tmp_path, MLOPS_SERVE_MANIFEST=str(manifest),
                             MLOPS_SERVE_MAX_ROWS="7", MLOPS_SERVE_MAX_BODY="3Mi"))  # fmt: skip
    assert (config.max_rows, config.max_body) == (7, 3 * 1024**2)


def test_the_workers_come_from_the_manifest_unless_the_environment_sets_them(tmp_path: Path
                                                                            ) -> None:  # fmt: skip
    """The count bentoml starts is read before the configuration is checked: anything
    unclear is one worker, and the check then names a bad setting."""
    from mlops.serving.config import serving_workers

    manifest = tmp_path / "workers.yaml"
    manifest.write_text(MANIFEST + "serving:\n  api:\n    enabled: true\n"
                        "    resources: {workers: 3}\n")  # fmt: skip
    assert serving_workers(env(tmp_path, MLOPS_SERVE_MANIFEST=str(manifest))) == 3
    assert load_config(env(tmp_path, MLOPS_SERVE_MANIFEST=str(manifest))).workers == 3
    assert serving_workers(env(tmp_path, MLOPS_SERVE_MANIFEST=str(manifest),
                               MLOPS_SERVE_WORKERS="2")) == 2  # fmt: skip
    assert serving_workers(env(tmp_path)) == 1
    assert serving_workers(env(tmp_path, MLOPS_SERVE_MANIFEST="/nope.yaml")) == 1
    assert serving_workers(env(tmp_path, MLOPS_SERVE_WORKERS="many")) == 1
    with pytest.raises(ConfigError, match="MLOPS_SERVE_WORKERS='many': expected a whole number"):
        load_config(env(tmp_path, MLOPS_SERVE_WORKERS="many"))


def test_other_immutable_uris_are_served_as_given(tmp_path: Path) -> None:
    """A runs:/ URI or a model directory is pinned by nature."""
    uri = str(tmp_path / "model")
    assert load_config(env(tmp_path, MLOPS_SERVE_MODEL_URI=uri)).model_uri == uri


class _Schema:
    """The two methods of an MLflow input schema that model_schema reads."""

    def __init__(self, types: dict[str, str]) -> None:
        self.types = types

    def has_input_names(self) -> bool:
        return True

    def input_types_dict(self) -> dict[str, str]:
        return self.types


def check_request_problems(body: dict[str, Any], features: list[Feature]) -> list[Any]:
    with pytest.raises(RequestRefused) as caught:
        check_request(body, features, 10)
    return caught.value.problems


def test_the_access_log_and_tracing_are_off_unless_turned_on(tmp_path: Path) -> None:
    """Every prediction is in the prediction log already, and spans need an exporter:
    BentoML's per-request log line and spans are made only when asked for."""
    from mlops.serving.config import service_options

    quiet = service_options(env(tmp_path))
    assert quiet["logging"] == {"access": {"enabled": False}}
    assert quiet["tracing"] == {"excluded_urls": [".*"]}
    assert (quiet["workers"], quiet["traffic"]) == (1, {"timeout": 120})
    loud = service_options(env(tmp_path, MLOPS_SERVE_ACCESS_LOG="on", MLOPS_SERVE_TRACING="1"))
    assert loud["logging"] == {"access": {"enabled": True}}
    assert loud["tracing"] == {"excluded_urls": []}


def test_the_rows_one_model_call_merges_can_be_bounded(tmp_path: Path) -> None:
    """MLOPS_SERVE_BATCH_ROWS bounds merging (1: every request in its own call)."""
    assert load_config(env(tmp_path)).batch_rows == 1000
    assert load_config(env(tmp_path, MLOPS_SERVE_BATCH_ROWS="1")).batch_rows == 1
    with pytest.raises(ConfigError, match="MLOPS_SERVE_BATCH_ROWS='0': expected a positive"):
        load_config(env(tmp_path, MLOPS_SERVE_BATCH_ROWS="0"))


@pytest.mark.parametrize("bad", ["-1", "0.5", "fast", "60001"])
def test_how_long_log_lines_may_wait_is_whole_milliseconds(tmp_path: Path, bad: str) -> None:
    """MLOPS_SERVE_LOG_FLUSH_MS: 50 by default, 0 writes at once, anything else is named."""
    assert load_config(env(tmp_path)).log_flush_ms == 50
    assert load_config(env(tmp_path, MLOPS_SERVE_LOG_FLUSH_MS="0")).log_flush_ms == 0
    with pytest.raises(ConfigError, match=f"MLOPS_SERVE_LOG_FLUSH_MS='{bad}': expected a whole"):
        load_config(env(tmp_path, MLOPS_SERVE_LOG_FLUSH_MS=bad))
