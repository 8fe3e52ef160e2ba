"""GitHub's published contract, applied to the traffic of the local GitHub API server.

`Contract` routes a request path to an operation of the vendored OpenAPI subset and checks
requests and responses with openapi-core. The OpenAPI object is built once per process.
Paths are matched by the server itself, so `x-multi-segment` parameters (`/contents/{path}`)
may hold slashes; every parameter is percent-encoded before openapi-core sees the path.

`ALIASES` maps paths that GitHub serves and PyGithub calls, but the description omits, to the
documented operation they are validated as: `Commit.get_statuses()` requests the legacy
`GET /repos/{owner}/{repo}/statuses/{sha}`, which answers like `.../commits/{ref}/statuses`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from jsonschema.exceptions import ValidationError, best_match
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import MultiDict

from mlops.testing.github_openapi import load_subset

DOCS = "https://docs.github.com/rest"
ALIASES = {
    ("get", "/repos/{owner}/{repo}/statuses/{ref}"): "/repos/{owner}/{repo}/commits/{ref}/statuses",
}
_PARAM = re.compile(r"(\{[^}]+\})")


def error_body(status: int, message: str, errors: list[Any] | None = None) -> dict[str, Any]:
    """GitHub's error shape: message, documentation_url, status (and `errors`, if any)."""
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return body


@functools.cache
def openapi() -> OpenAPI:
    """The vendored subset as an openapi-core object (its self-check runs as a test)."""
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
    return OpenAPI.from_dict(load_subset(), config=config)


@dataclass(frozen=True)
class Route:
    """A request matched to an operation: `template` is the documented path."""

    method: str
    template: str
    params: dict[str, str]
    operation_id: str

    @property
    def spec_path(self) -> str:
        """The request path with every parameter percent-encoded (slashes included)."""
        return _PARAM.sub(lambda m: quote(self.params[m.group(1)[1:-1]], safe=""), self.template)


def _describe(error: BaseException) -> list[str]:
    """Readable lines for an openapi-core error, one per schema error, with its JSON path."""
    cause = error.__cause__
    schema_errors: tuple[ValidationError, ...] = getattr(cause, "schema_errors", None) or ()
    if not schema_errors:
        detail = f": {cause}" if cause is not None else ""
        return [f"{type(error).__name__}({_name(error)}){detail}"]
    lines = []
    for schema_error in schema_errors:
        chosen = best_match(schema_error.context) if schema_error.context else schema_error
        path = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in chosen.absolute_path)
        lines.append(f"{_name(error)}${path}: {chosen.message}")
    return lines


def _name(error: BaseException) -> str:
    name = getattr(error, "name", None)
    return f"{getattr(error, 'location', '')} {name}".strip() if name else "body"


class Contract:
    """Routes and checks requests and responses against the vendored subset."""

    def __init__(self) -> None:
        spec = load_subset()
        self.api = openapi()
        self.server = spec["servers"][0]["url"]
        self.operations: dict[tuple[str, str], dict[str, Any]] = {}
        patterns: list[tuple[tuple[int, int], re.Pattern[str], str, str]] = []
        for template, item in spec["paths"].items():
            for method, operation in item.items():
                if method != "parameters":
                    self.operations[(method, template)] = operation
                    patterns.append(self._pattern(method, template, operation))
        for (method, alias), template in ALIASES.items():
            patterns.append(self._pattern(method, alias, self.operations[(method, template)]))
        self.patterns = sorted(patterns, key=lambda p: p[0])

    @staticmethod
    def _pattern(
        method: str, template: str, operation: Mapping[str, Any]
    ) -> tuple[tuple[int, int], re.Pattern[str], str, str]:
        multi = {
            p["name"] for p in operation.get("parameters", []) if p.get("x-multi-segment") is True
        }

        parts = []
        for part in _PARAM.split(template):
            is_param = part.startswith("{") and part.endswith("}")
            name = part[1:-1]
            pattern = f"(?P<{name}>.+)" if name in multi else f"(?P<{name}>[^/]+)"
            parts.append(pattern if is_param else re.escape(part))
        regex = re.compile("^" + "".join(parts) + "$")
        literal = len([s for s in template.split("/") if s and "{" not in s])
        return (-literal, template.count("{")), regex, method, template

    def match(self, method: str, raw_path: str) -> Route | None:
        """The operation for a request path (still percent-encoded), or None if unknown."""
        method = method.lower()
        for _, regex, pattern_method, template in self.patterns:
            found = regex.match(raw_path)
            if found and pattern_method == method:
                params = {k: unquote(v) for k, v in found.groupdict().items()}
                documented = ALIASES.get((method, template), template)
                operation = self.operations[(method, documented)]
                return Route(method, documented, params, operation["operationId"])
        return None

    def _request(
        self, route: Route, query: MultiDict[str, str], body: bytes, content_type: str
    ) -> MockRequest:
        return MockRequest(
            self.server,
            route.method,
            route.spec_path,
            args=query,
            data=body,
            content_type=content_type or "application/json",
        )

    def check_request(
        self, route: Route, query: MultiDict[str, str], body: bytes, content_type: str
    ) -> list[str]:
        """Contract errors of a request (empty: valid)."""
        request = self._request(route, query, body, content_type)
        return [line for e in self.api.iter_request_errors(request) for line in _describe(e)]

    def declares(self, route: Route, status: int) -> bool:
        responses = self.operations[(route.method, route.template)]["responses"]
        return str(status) in responses or "default" in responses

    def check_response(
        self, route: Route, query: MultiDict[str, str], status: int, body: bytes
    ) -> list[str]:
        """Contract errors of a response. A status the operation does not declare (GitHub
        answers 401, 403, 404 and 422 everywhere) must carry GitHub's error shape."""
        if not self.declares(route, status):
            return self._check_error_shape(status, body)
        request = self._request(route, query, b"", "application/json")
        response = MockResponse(body, status_code=status, content_type="application/json")
        errors = self.api.iter_response_errors(request, response)
        return [line for e in errors for line in _describe(e)]

    @staticmethod
    def _check_error_shape(status: int, body: bytes) -> list[str]:
        if status < 400:
            return [f"undocumented status {status}"]
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{status}: error body is not JSON"]
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            return [f"{status}: error body lacks a message"]
        return []
