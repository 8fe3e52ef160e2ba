"""The routing table of one environment, and the nginx configuration that serves it.

Blue/green and canary deployments are changes of weights in this table: which versions of a
model receive its traffic, at which addresses, in which share; a version running as several
replicas has one backend per replica, and they split its share evenly. The deployer renders
the table into a complete, self-contained nginx.conf and hands it to the router adapter; nginx
then serves the table back as JSON on `/-/routes`, so the state the deployer observes comes from the
target itself rather than from a file it wrote.

Pure: no I/O. Everything interpolated into the configuration is validated first (model names
are DNS-safe, versions and addresses have strict shapes) and then quoted, so a table can never
inject an nginx directive or a variable.

TLS: given the router's certificate files (`mlops.core.tls.TlsFiles`), the server listens
with TLS only (TLS 1.2 and 1.3, a shared session cache, HTTP/1.1 as before). A plain HTTP
request to that port is refused, never redirected: nginx answers 400 with a JSON body that
names the https URL, and nothing reaches a model. A redirect would let a client send its API
key and rows in clear text before being told to switch.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops.core.names import MODEL_NAME
from mlops.core.tls import TlsFiles

VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")
# host:port, the host an IPv4 address, a DNS name or a bracketed IPv6 address.
HOST = r"[0-9A-Za-z](?:[0-9A-Za-z.-]{0,251}[0-9A-Za-z])?|\[[0-9A-Fa-f:.]+\]"
ADDRESS = re.compile(rf"^(?:{HOST}):(\d{{1,5}})$")
ROUTES_PATH = "/-/routes"
HEALTH_PATH = "/-/healthz"
NEXT_UPSTREAM_TRIES = 3  # a request tries at most this many backends
KEEPALIVE_CONNECTIONS = 16  # idle upstream connections each worker keeps per model
# Below the backends' own idle timeout (uvicorn's default is 5 s), so nginx never reuses a
# connection the backend is closing at that very moment.
UPSTREAM_KEEPALIVE_TIMEOUT = "4s"
MAX_BODY = "100m"  # batch prediction requests can be large
# The router's access log, one JSON object a line, in its prefix: every request to a model
# with its time, request id, the id of the API key that called (never the key), the version
# that answered, status and latency. Buffered: a line is written within a second.
ACCESS_LOG = "access.jsonl"
ACCESS_FIELDS = (
    ("time", "$time_iso8601"), ("request_id", "$mlops_logged_id"),
    ("key_id", "$upstream_http_x_mlops_key_id"), ("model", "$mlops_model"),
    ("version", "$upstream_http_x_mlops_version"), ("method", "$request_method"),
    ("path", "$uri"), ("status", "$status"), ("request_time", "$request_time"),
    ("upstream", "$upstream_addr"), ("bytes", "$body_bytes_sent"),
)  # fmt: skip
NUMBERS = {"status", "request_time", "bytes"}
ACCESS_LOG_FORMAT = [
    "log_format mlops escape=json",
    *(
        f'    \'{"{" if i == 0 else ","}"{name}":'
        + (value if name in NUMBERS else f'"{value}"')
        + ("}';" if i == len(ACCESS_FIELDS) - 1 else "'")
        for i, (name, value) in enumerate(ACCESS_FIELDS)
    ),
]
TOO_LARGE = {
    "error": f"the request body is over {MAX_BODY.removesuffix('m')}Mi, the router's limit:"
    " split the request",
    "limit": f"{MAX_BODY.removesuffix('m')}Mi",
}


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_port(port: object, what: str) -> None:
    _require(
        isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536,
        f"{what} must be a TCP port 1..65535, not {port!r}",
    )


@dataclass(frozen=True)
class Backend:
    """One serving process (a replica) of one model version, and its version's share of the
    model's traffic: replicas of a version carry the same weight and split it evenly."""

    version: str  # model version served there, e.g. "3"
    address: str  # "127.0.0.1:PORT"
    weight: int  # percent of the model's traffic its version gets, 0..100

    def __post_init__(self) -> None:
        _require(
            isinstance(self.version, str) and bool(VERSION.match(self.version)),
            f"version {self.version!r} is not a valid version "
            "(letters, digits, '.', '_' and '-', at most 64 characters)",
        )
        match = ADDRESS.match(self.address) if isinstance(self.address, str) else None
        _require(match is not None, f"address {self.address!r} is not host:port")
        assert match is not None
        _check_port(int(match.group(1)), f"the port of address {self.address!r}")
        _require(
            isinstance(self.weight, int)
            and not isinstance(self.weight, bool)
            and 0 <= self.weight <= 100,
            f"weight {self.weight!r} of version {self.version} is not a percentage 0..100",
        )

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "address": self.address, "weight": self.weight}


def _backend_key(backend: Backend) -> tuple[tuple[tuple[int, str], ...], str, str]:
    """Natural version order (version "10" after "9"), then the replica's address."""
    parts = re.findall(r"\d+|\D+", backend.version)
    natural = tuple((int(p), "") if p.isdigit() else (-1, p) for p in parts)
    return natural, backend.version, backend.address


def _check_backends(model: str, backends: tuple[Backend, ...]) -> None:
    """Replicas of one version are backends with the same version and weight (the weight is
    the version's share, whatever its replica count); every address serves one backend."""
    _require(
        isinstance(model, str) and bool(MODEL_NAME.match(model)),
        f"model name {model!r} is not DNS-safe",
    )
    _require(all(isinstance(b, Backend) for b in backends), f"{model}: backends must be Backend")
    addresses = [b.address for b in backends]
    _require(len(set(addresses)) == len(addresses), f"{model}: an address appears twice")
    shares: dict[str, int] = {}
    for b in backends:
        _require(
            shares.setdefault(b.version, b.weight) == b.weight,
            f"{model}: the replicas of version {b.version} have different weights",
        )
    total = sum(shares.values())
    _require(total in (0, 100), f"{model}: the weights add up to {total}, not 100 (or 0)")


@dataclass(frozen=True)
class RouteTable:
    """Which backends serve each model in one environment, on the environment's stable port.

    Models are kept sorted by name and backends by version, so equal tables compare equal and
    have the same generation however they were built.
    """

    environment: str  # "staging" | "production" (any DNS-safe name)
    port: int  # the environment's stable port on 127.0.0.1
    routes: Mapping[str, tuple[Backend, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require(
            isinstance(self.environment, str) and bool(MODEL_NAME.match(self.environment)),
            f"environment {self.environment!r} is not a DNS-safe name",
        )
        _check_port(self.port, "the environment's port")
        routes = {m: tuple(sorted(b, key=_backend_key)) for m, b in sorted(self.routes.items())}
        for model, backends in routes.items():
            _check_backends(model, backends)
        object.__setattr__(self, "routes", routes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "port": self.port,
            "routes": {m: [b.to_dict() for b in bs] for m, bs in self.routes.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouteTable:
        """The table `to_dict` (or `/-/routes`) gave; ValueError when the shape is wrong, or
        when a `generation` it carries does not match its content."""
        _require(isinstance(data, Mapping), "a route table must be an object")
        _exact_keys(data, {"environment", "port", "routes"}, {"generation"}, "route table")
        routes = data["routes"]
        _require(isinstance(routes, Mapping), "routes must be an object of model -> backends")
        table = cls(
            environment=data["environment"],
            port=data["port"],
            routes={model: _backends_from(model, items) for model, items in routes.items()},
        )
        if "generation" in data:
            _require(
                data["generation"] == table.generation(),
                f"generation {data['generation']!r} does not match the routes it came with",
            )
        return table

    def generation(self) -> str:
        """A short stable hash of the content: it identifies one configuration."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def weights(self, model: str) -> dict[str, int]:
        """Version -> weight of the versions that receive `model`'s traffic (weight > 0)."""
        return {b.version: b.weight for b in self.routes.get(model, ()) if b.weight > 0}

    def replicas(self, model: str) -> dict[str, int]:
        """Version -> how many backends (replicas) serve it, standbys included."""
        return dict(Counter(b.version for b in self.routes.get(model, ())))


def _exact_keys(data: Mapping[str, Any], required: set[str], optional: set[str], what: str) -> None:
    missing = required - set(data)
    extra = set(data) - required - optional
    _require(not missing, f"{what} lacks {', '.join(sorted(missing))}")
    _require(not extra, f"{what} has unknown keys {', '.join(sorted(map(str, extra)))}")


def _backends_from(model: str, items: object) -> tuple[Backend, ...]:
    _require(isinstance(items, list), f"{model}: backends must be a list")
    assert isinstance(items, list)
    backends = []
    for item in items:
        _require(isinstance(item, Mapping), f"{model}: a backend must be an object")
        _exact_keys(item, {"version", "address", "weight"}, set(), f"{model} backend")
        backends.append(Backend(item["version"], item["address"], item["weight"]))
    return tuple(backends)


def quote(text: str) -> str:
    """`text` as one single-quoted nginx string. nginx expands `$` in many directives and has
    no escape for it, so a `$` is refused rather than quoted."""
    _require("$" not in text, f"{text!r} contains '$', which nginx would read as a variable")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def upstream_name(model: str) -> str:
    """A valid nginx identifier for the model's upstream (model names cannot contain '_', so
    replacing '-' by '_' keeps them distinct)."""
    _require(bool(MODEL_NAME.match(model)), f"model name {model!r} is not DNS-safe")
    return "model_" + model.replace("-", "_")


def routes_json(table: RouteTable) -> str:
    """The body of `/-/routes`: the table and its generation."""
    return json.dumps({**table.to_dict(), "generation": table.generation()}, sort_keys=True)


def render(
    table: RouteTable, prefix: str, user: str | None = None, tls: TlsFiles | None = None
) -> str:
    """A complete nginx.conf serving `table`, every file nginx writes kept under `prefix`;
    over TLS with `tls`'s certificate and key (the router always gives them).

    `user` ("name" or "name group") is who the worker processes run as. Only a master running
    as root switches user, so give it only then: the default, `nobody`, cannot write temporary
    files under a prefix it cannot reach.
    """
    _require(prefix.startswith("/"), f"prefix {prefix!r} must be an absolute path")
    base = prefix.rstrip("/")
    lines = [f"# generation {table.generation()}: {table.environment} on port {table.port}"]
    if user is not None:
        _require(bool(re.fullmatch(r"[A-Za-z0-9_.-]+( [A-Za-z0-9_.-]+)?", user)), f"user {user!r}")
        lines.append(f"user {user};")
    lines += [
        "daemon on;",
        "worker_processes 1;",
        f"pid {quote(base + '/nginx.pid')};",
        f"error_log {quote(base + '/error.log')} warn;",
        "events { worker_connections 1024; }",
        "http {",
        *_indent(_http_settings(base)),
        *(line for model in table.routes for line in _indent(_upstream(table, model))),
        *_indent(_server(table, base, tls)),
        "}",
    ]
    return "\n".join(lines) + "\n"


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line if line else line for line in lines]


def _http_settings(base: str) -> list[str]:
    temp = [
        f"{kind}_temp_path {quote(f'{base}/{kind}_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    ]
    return [
        *temp,
        "access_log off;",  # except for the models' locations: the log of who called what
        *ACCESS_LOG_FORMAT,
        "server_tokens off;",
        "default_type application/json;",
        f"client_max_body_size {MAX_BODY};",
        # The caller's request id, or nginx's own when it sent none, to the backend and back.
        'map $http_x_request_id $mlops_request_id { default $http_x_request_id; "" $request_id; }',
        # The model a path names, for the access log.
        'map $uri $mlops_model { default ""; ~^/(?<model>[^/]+)/ $model; }',
        # What the access log records: the id the backend answered with, else the one sent.
        "map $upstream_http_x_request_id $mlops_logged_id {",
        "    default $upstream_http_x_request_id;",
        '    "" $mlops_request_id;',
        "}",
        "",
    ]


def server_weights(backends: tuple[Backend, ...]) -> list[tuple[Backend, int]]:
    """nginx weights of the routed backends: a version's share split evenly over its replicas
    in whole numbers (the percentages themselves without replicas; 90% on two replicas and
    10% on one: 90, 90 and 20)."""
    live = [b for b in backends if b.weight > 0]
    counts = Counter(b.version for b in live)
    scale = math.lcm(*counts.values()) if counts else 1
    return [(b, b.weight * scale // counts[b.version]) for b in live]


def _upstream(table: RouteTable, model: str) -> list[str]:
    live = server_weights(table.routes[model])
    if not live:
        return []
    return [
        f"upstream {upstream_name(model)} {{",
        *(f"    server {b.address} weight={w};  # version {b.version}" for b, w in live),
        f"    keepalive {KEEPALIVE_CONNECTIONS};",
        f"    keepalive_timeout {UPSTREAM_KEEPALIVE_TIMEOUT};",
        "}",
        "",
    ]


def _server(table: RouteTable, base: str, tls: TlsFiles | None = None) -> list[str]:
    lines = [
        "server {",
        *(_indent(_tls(table, tls)) if tls else [f"    listen 127.0.0.1:{table.port};"]),
        "",
        f"    location = {HEALTH_PATH} {{ return 200 {quote(json.dumps({'status': 'ok'}))}; }}",
        f"    location = {ROUTES_PATH} {{",
        "        default_type application/json;",
        f"        return 200 {quote(routes_json(table))};",
        "    }",
        "    location / {",
        f"        return 404 {quote(json.dumps({'error': 'no such model'}))};",
        "    }",
        # A body over the router's own limit: JSON naming it, as the service's own 413 does.
        "    error_page 413 @too_large;",
        "    location @too_large {",
        "        default_type application/json;",
        f"        return 413 {quote(json.dumps(TOO_LARGE))};",
        "    }",
    ]
    for model, backends in table.routes.items():
        live = any(b.weight > 0 for b in backends)
        location = _proxy_location(model, base) if live else _empty_location(model)
        lines += ["", *_indent(location)]
    return [*lines, "}"]


def _tls(table: RouteTable, tls: TlsFiles) -> list[str]:
    """TLS only on the port; plain HTTP there (nginx's code 497) gets a JSON 400."""
    plain = {"error": f"this port speaks HTTPS only: call https://127.0.0.1:{table.port}/"}
    return [
        f"listen 127.0.0.1:{table.port} ssl;",
        f"ssl_certificate {quote(tls.cert)};",
        f"ssl_certificate_key {quote(tls.key)};",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_cache shared:mlops_tls:1m;",
        "ssl_session_timeout 1h;",
        "error_page 497 =400 @plain_http;",
        "location @plain_http {",
        "    default_type application/json;",
        f"    return 400 {quote(json.dumps(plain))};",
        "}",
    ]


def _proxy_location(model: str, base: str) -> list[str]:
    """`/<model>/x` to the model's upstream as `/x` (the trailing '/' of proxy_pass replaces
    the location's prefix). Failed connections and 502/503 answers go to the next backend;
    predictions have no side effects, so a POST may be retried too."""
    return [
        f"location /{model}/ {{",
        f"    access_log {quote(f'{base}/{ACCESS_LOG}')} mlops buffer=32k flush=1s;",
        f"    proxy_pass http://{upstream_name(model)}/;",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-For $remote_addr;",
        "    proxy_set_header X-Request-ID $mlops_request_id;",
        "    add_header X-Request-ID $mlops_request_id always;",
        "    add_header X-Upstream $upstream_addr always;",
        "    proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
        f"    proxy_next_upstream_tries {NEXT_UPSTREAM_TRIES};",
        "    proxy_connect_timeout 5s;",
        "    proxy_send_timeout 120s;",
        "    proxy_read_timeout 120s;",
        "}",
    ]


def _empty_location(model: str) -> list[str]:
    body = json.dumps({"error": f"no version of model {model} is deployed", "model": model})
    return [
        f"location /{model}/ {{",
        "    default_type application/json;",
        f"    return 503 {quote(body)};",
        "}",
    ]
