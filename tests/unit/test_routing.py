"""The route table and the nginx configuration rendered from it."""

from __future__ import annotations

import json
import re

import pytest

from mlops.core.routing import (
    Backend,
    RouteTable,
    quote,
    render,
    routes_json,
    server_weights,
    upstream_name,
)

PREFIX = "/srv/router/production"


def canary() -> RouteTable:
    return RouteTable(
        "production",
        18080,
        {
            "fraud-score": (
                Backend("10", "127.0.0.1:9102", 10),
                Backend("9", "127.0.0.1:9101", 90),
            ),
            "churn": (Backend("3", "127.0.0.1:9201", 100),),
        },
    )


def block(config: str, opening: str) -> str:
    """The text of the `{ ... }` block that starts with `opening` (blocks here nest once)."""
    start = config.index(opening)
    end = config.index("\n    }", start)
    return config[start:end]


def routes_body(config: str) -> dict[str, object]:
    """The JSON that `location = /-/routes` returns, unquoted as nginx would."""
    quoted = re.search(r"return 200 '((?:[^'\\]|\\.)*)';", block(config, "location = /-/routes"))
    assert quoted is not None
    return dict(json.loads(re.sub(r"\\(.)", r"\1", quoted.group(1))))


def test_weights_become_nginx_weights() -> None:
    """It gives each backend its percentage as nginx `weight=`, in one upstream per model."""
    upstream = block(render(canary(), PREFIX), "upstream model_fraud_score {")
    assert "server 127.0.0.1:9101 weight=90;" in upstream
    assert "server 127.0.0.1:9102 weight=10;" in upstream
    assert "keepalive 16;" in upstream


def test_weight_zero_backends_are_omitted() -> None:
    """It omits weight-0 backends: a green that is up but not yet switched gets no traffic."""
    table = RouteTable(
        "production", 18080, {"churn": (Backend("3", "127.0.0.1:9201", 100),
                                        Backend("4", "127.0.0.1:9202", 0))}
    )  # fmt: skip
    config = render(table, PREFIX)
    assert "127.0.0.1:9201 weight=100" in config
    assert "9202" not in block(config, "upstream model_churn {")
    assert table.weights("churn") == {"3": 100}


def test_a_model_without_traffic_answers_503() -> None:
    """It answers 503 with a JSON reason when no version of a model has weight, and renders
    no (empty, invalid) upstream for it."""
    table = RouteTable("staging", 18081, {"churn": (Backend("3", "127.0.0.1:9201", 0),)})
    config = render(table, PREFIX)
    location = block(config, "location /churn/ {")
    assert "return 503 '" in location
    body = re.search(r"return 503 '(.*)';", location)
    assert body is not None
    assert json.loads(body.group(1))["error"] == "no version of model churn is deployed"
    assert "proxy_pass" not in location
    assert "upstream model_" not in config and "proxy_pass" not in config


def test_locations_strip_the_model_prefix() -> None:
    """It proxies /<model>/ to the upstream root, so /<model>/predict arrives as /predict."""
    location = block(render(canary(), PREFIX), "location /fraud-score/ {")
    assert "proxy_pass http://model_fraud_score/;" in location
    assert "proxy_http_version 1.1;" in location
    assert 'proxy_set_header Connection "";' in location
    assert "add_header X-Upstream $upstream_addr always;" in location
    assert "proxy_set_header X-Request-ID $mlops_request_id;" in location
    assert "proxy_read_timeout 120s;" in location
    assert re.search(r"proxy_next_upstream error timeout http_502 http_503\b", location)
    assert re.search(r"proxy_next_upstream_tries [1-9];", location)


def test_upstream_names_are_nginx_identifiers() -> None:
    """It turns '-' into '_' in upstream names; model names have no '_', so none collide."""
    assert upstream_name("fraud-score-v2") == "model_fraud_score_v2"
    names = re.findall(r"upstream (\S+) \{", render(canary(), PREFIX))
    assert names == ["model_churn", "model_fraud_score"]
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in names)


def test_everything_nginx_writes_stays_in_the_prefix() -> None:
    """It keeps the pid file, error log and every temporary folder inside the prefix."""
    config = render(canary(), PREFIX + "/")
    paths = re.findall(r"^\s*(\w+) '(/[^']*)'", config, re.MULTILINE)
    assert {d for d, _ in paths} == {
        "pid", "error_log", "client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path",
        "uwsgi_temp_path", "scgi_temp_path", "access_log",
    }  # fmt: skip
    assert all(p.startswith(PREFIX + "/") and "//" not in p for _, p in paths)
    for line in ("daemon on;", "worker_processes 1;", "access_log off;",
                 "events { worker_connections 1024; }", "listen 127.0.0.1:18080;"):  # fmt: skip
        assert line in config


def test_user_is_emitted_only_when_given() -> None:
    """It leaves the worker user to nginx unless told whom to run workers as."""
    assert "user " not in render(canary(), PREFIX)
    assert "\nuser deploy deploy;\n" in render(canary(), PREFIX, "deploy deploy")
    with pytest.raises(ValueError, match="user"):
        render(canary(), PREFIX, "root; daemon off")


def test_routes_location_serves_the_table() -> None:
    """It serves the table and its generation on /-/routes, which reads back as the same
    table."""
    table = canary()
    body = routes_body(render(table, PREFIX))
    assert body["generation"] == table.generation()
    assert RouteTable.from_dict(body) == table
    assert json.loads(routes_json(table)) == body


def test_round_trip_through_dict() -> None:
    """It reads back what to_dict wrote, sorted the same way however it was built."""
    table = canary()
    assert RouteTable.from_dict(table.to_dict()) == table
    assert [b.version for b in table.routes["fraud-score"]] == ["9", "10"]
    assert list(table.routes) == ["churn", "fraud-score"]


def test_generation_is_stable_and_follows_content() -> None:
    """Its generation is the same for equal tables and changes with any weight, address,
    version, port or environment."""
    table = canary()
    assert table.generation() == canary().generation()
    assert re.fullmatch(r"[0-9a-f]{16}", table.generation())
    shifted = RouteTable(
        "production", 18080,
        {**table.routes, "fraud-score": (Backend("9", "127.0.0.1:9101", 80),
                                         Backend("10", "127.0.0.1:9102", 20))},
    )  # fmt: skip
    others = [
        shifted,
        RouteTable("production", 18081, table.routes),
        RouteTable("staging", 18080, table.routes),
        RouteTable("production", 18080, {"churn": table.routes["churn"]}),
    ]
    assert len({t.generation() for t in [table, *others]}) == 5


def test_weights_compare_desired_and_observed() -> None:
    """It lists a model's versions with traffic by weight, and none for an unknown model."""
    assert canary().weights("fraud-score") == {"9": 90, "10": 10}
    assert canary().weights("unknown") == {}


@pytest.mark.parametrize(
    "build",
    [
        lambda: Backend("3", "127.0.0.1:9201", 101),
        lambda: Backend("3", "127.0.0.1:9201", -1),
        lambda: Backend("3", "127.0.0.1:9201", True),
        lambda: Backend("3;", "127.0.0.1:9201", 100),
        lambda: Backend("$host", "127.0.0.1:9201", 100),
        lambda: Backend("", "127.0.0.1:9201", 100),
        lambda: Backend("3", "127.0.0.1", 100),
        lambda: Backend("3", "127.0.0.1:0", 100),
        lambda: Backend("3", "127.0.0.1:65536", 100),
        lambda: Backend("3", "127.0.0.1:80; }", 100),
        lambda: Backend("3", "unix:/tmp/x.sock", 100),
        lambda: RouteTable("production", 18080, {"Fraud": ()}),
        lambda: RouteTable("production", 18080, {"fraud_score": ()}),
        lambda: RouteTable("production", 18080, {"fraud-": ()}),
        lambda: RouteTable("production", 18080, {"a/b": ()}),
        lambda: RouteTable("prod env", 18080, {}),
        lambda: RouteTable("production", 0, {}),
        lambda: RouteTable("production", 18080, {"m": (Backend("1", "127.0.0.1:1", 60),)}),
        lambda: RouteTable("production", 18080, {"m": (Backend("1", "127.0.0.1:1", 50),
                                                       Backend("1", "127.0.0.1:2", 50))}),
        lambda: RouteTable("production", 18080, {"m": (Backend("1", "127.0.0.1:1", 50),
                                                       Backend("2", "127.0.0.1:1", 50))}),
        lambda: RouteTable("production", 18080, {"m": (Backend("1", "127.0.0.1:1", 100),
                                                       Backend("1", "127.0.0.1:2", 50))}),
    ],
)  # fmt: skip
def test_invalid_names_raise(build: object) -> None:
    """It refuses names, versions, addresses, weights and ports that are not what nginx and
    the platform accept, before anything is rendered."""
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"environment": "production", "port": 18080},
        {"environment": "production", "port": 18080, "routes": {}, "extra": 1},
        {"environment": "production", "port": "18080", "routes": {}},
        {"environment": "production", "port": 18080, "routes": {"m": {}}},
        {"environment": "production", "port": 18080, "routes": {"m": ["x"]}},
        {"environment": "production", "port": 18080,
         "routes": {"m": [{"version": "1", "address": "127.0.0.1:1"}]}},
        {"environment": "production", "port": 18080, "routes": {}, "generation": "0" * 16},
    ],
)  # fmt: skip
def test_from_dict_refuses_bad_shapes(data: object) -> None:
    """It raises ValueError for a document that is not a route table, including one whose
    generation does not match its content."""
    with pytest.raises(ValueError):
        RouteTable.from_dict(data)  # type: ignore[arg-type]


def test_quoting_cannot_break_out() -> None:
    """It quotes strings so that nginx reads them back verbatim, and refuses '$'."""
    assert quote("it's a \\ test") == "'it\\'s a \\\\ test'"
    with pytest.raises(ValueError, match="variable"):
        quote("$request_uri")
    with pytest.raises(ValueError, match="absolute"):
        render(canary(), "relative/prefix")


def test_a_versions_share_is_split_evenly_over_its_replicas() -> None:
    """90% on two replicas and 10% on one: nginx weights 90, 90 and 20, so each v1 replica
    gets 45% of the requests and the v2 replica 10%."""
    table = RouteTable("production", 18080, {"m": (
        Backend("2", "127.0.0.1:9203", 10),
        Backend("1", "127.0.0.1:9202", 90),
        Backend("1", "127.0.0.1:9201", 90),
        Backend("3", "127.0.0.1:9204", 0),
    )})  # fmt: skip
    assert [(b.address, w) for b, w in server_weights(table.routes["m"])] == [
        ("127.0.0.1:9201", 90),
        ("127.0.0.1:9202", 90),
        ("127.0.0.1:9203", 20),
    ]
    config = render(table, PREFIX)
    assert "127.0.0.1:9201 weight=90;" in config and "127.0.0.1:9203 weight=20;" in config
    assert "9204" not in config.split("server {")[0]  # the standby gets no traffic
    assert table.replicas("m") == {"1": 2, "2": 1, "3": 1}
    assert table.weights("m") == {"1": 90, "2": 10}
    assert RouteTable.from_dict(table.to_dict()) == table
