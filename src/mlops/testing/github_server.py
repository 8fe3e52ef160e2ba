"""A local, stateful GitHub REST API server for tests, checked against GitHub's OpenAPI description.

It answers the REST operations our automation uses (`github_openapi.OPERATIONS`) the way
GitHub does, keeps what they write, and checks every request and response against the vendored
subset of GitHub's OpenAPI description. It binds 127.0.0.1 only.

Seeding, inspecting and contract checking::

    with GitHubServer() as gh:                       # or mlops.testing.github_fixtures
        gh.add_user("mchen")
        gh.add_team("acme", "clinical-ml", members=["mchen"], maintainers=[])
        token = gh.add_token("secret", login="github-actions[bot]", can_read_org=False)
        gh.add_token("pat", login="mchen")            # a personal token: reads teams, no checks
        gh.add_repository("acme/models", default_branch="main", head_sha=None, private=False)
        gh.set_file("acme/models", ref="main", path=".github/CODEOWNERS", content="* @mchen")
        gh.back_with_git("acme/models", tmp_path / "models.git")  # a bare repository
        number = gh.add_pull_request(
            "acme/models", author="alice", head_ref="feat", head_sha="b" * 40,
            base_ref="main", base_sha=None, files=[("models/a/train.py", "modified")],
            title="", body=None, number=None, labels=(), requested_reviewers=(),
            requested_teams=(), draft=False, head_repo=None)
        gh.add_review("acme/models", number, user="mchen", state="APPROVED", commit_id=None)
        gh.push("acme/models", number, head_sha="c" * 40, files=None)
        gh.merge("acme/models", number, by="mchen")   # base branch -> merge commit sha
        gh.add_commit("acme/models", sha, message="", author=None, parents=(), branch=None)
        gh.set_branch(...); gh.set_collaborator("acme/models", "mchen", "write")
        gh.add_issue(...); gh.add_comment(...); gh.add_status(...); gh.set_codeowners_errors(...)
        gh.protect("acme/models", "main", contexts=["mlops gate"], code_owner_reviews=True,
                   approvals=1)                       # repository settings (github_admin)
        gh.add_environment(repo, "production", teams=["ml-platform"]); gh.set_variable(repo, n, v)
        gh.set_secret(repo, name); gh.add_runner(repo, "r1", labels=["deploy"], status="online")

        gh.api_url                     # http://127.0.0.1:PORT/api/v3 (GITHUB_API_URL)
        gh.comments("acme/models", number)            # [{"id", "body", "user", ...}]
        gh.statuses(repo, sha=None); gh.check_runs(repo, head_sha=None)
        gh.deployments(repo, environment=None); gh.deployment_statuses(repo, deployment_id)
        gh.issues(repo, state="all"); gh.labels(repo, number); gh.pull_request(repo, number)
        gh.protections(repo); gh.environments(repo); gh.variables(repo)
        gh.requests                    # [(method, path without prefix, status), ...]
        gh.violations                  # contract violations found so far (strings)
        gh.save("state.json"); GitHubServer.load("state.json")

Commits must be known before statuses, check runs or deployments refer to them: branch heads,
pull request heads and bases, `push`, `merge` and `add_commit` make them known. Likewise a
client opens a pull request (`POST .../pulls`) only between branches the server knows; it is
an issue too, numbered with the issues (`github_rules` lists the checks).

Branches pushed with git: GitHub knows a branch because it was pushed to it. A repository
backed by a bare git repository (`back_with_git`, or `git_dir` in a seed) is the remote a test
pushes to; when a request names a branch or a commit sha of it that the state does not know
(a pull request's head or base, `GET .../commits/{ref}`, a status, check run or deployment),
the server reads it from git (`github_git`: exactly `refs/heads/<name>`, or a sha) and keeps
the branch and commit before answering, so a client can push a branch and open a pull request
from it. Only unknown names are read: a branch the state knows keeps its sha until
`set_branch` moves it.

Behaviour: a request without a seeded token answers 401; a `read_only` token gets 403 on every
write; a token with `can_read_org=False` gets 404 from team endpoints; an installation token
(login ending in `[bot]`, or `app=`) gets 403 from `GET /user` and is the only kind that may
write check runs. Repository settings need a repository admin's token (`github_admin`).
An invalid request answers 422 Validation Failed; it, an invalid response and
an unknown route (404) are recorded in `violations`. `response_hook(method, path, body)` may
replace response bodies (to prove the checks catch a broken answer). `fail(method, path_end)`
makes the next matching requests answer a server error, before or after doing their work
(to prove a client retries without doing the work twice).

Command line (seed and dump files share one JSON format, `github_model.State`)::

    python -m mlops.testing.github_server --port 8765 --seed seed.json --dump state.json

serves until SIGTERM or SIGINT, prints the API URL once listening, and writes the state
(with `log` and `violations`) atomically on exit.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from mlops.testing import github_routes_admin, github_routes_pulls
from mlops.testing.github_contract import Contract, Route, error_body
from mlops.testing.github_model import LogEntry, State, Token
from mlops.testing.github_payloads_admin import AdminPayloads
from mlops.testing.github_routes import HANDLERS, Call, Listing
from mlops.testing.github_seeding import GitHubSeeding
from mlops.testing.github_state import GitHubError

PREFIX = "/api/v3"
# importing a routes module registers its handlers
ROUTE_MODULES = (github_routes_admin, github_routes_pulls)
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
ResponseHook = Callable[[str, str, Any], Any]


@dataclass
class Outage:
    """The next `times` requests of `method` to a path ending in `path_end` answer `status`;
    with `after`, each is carried out first (GitHub did the work, the answer was lost)."""

    method: str
    path_end: str
    status: int = 502
    times: int = 1
    after: bool = False


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        """Requests are recorded in `GitHubServer.requests`, not printed."""


class GitHubServer(GitHubSeeding):
    """The server and its state; a context manager that starts and stops it."""

    def __init__(self, state: State | None = None, *, port: int = 0, host: str = "127.0.0.1"):
        super().__init__(state)
        self.host, self.port = host, port
        self.contract = Contract()
        self.response_hook: ResponseHook | None = None
        self.outages: list[Outage] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def load(cls, path: str | Path, *, port: int = 0) -> Self:
        return cls(cls.read_state(path), port=port)

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = make_server(
            self.host, self.port, self._wsgi, threaded=False, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        server = self._server
        self._thread = threading.Thread(target=lambda: server.serve_forever(0.05), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def html_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.html_url + PREFIX

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        return [(e.method, e.path, e.status) for e in self.data.log]

    @property
    def violations(self) -> list[str]:
        return self.data.violations

    def fail(self, method: str, path_end: str, status: int = 502, times: int = 1,
             after: bool = False) -> None:  # fmt: skip
        """Answer the next `times` `method` requests to a path ending in `path_end` with
        `status`; with `after`, carry each out first."""
        self.outages.append(Outage(method.upper(), path_end, status, times, after))

    def _outage(self, method: str, path: str, after: bool) -> Outage | None:
        for outage in self.outages:
            if (outage.method, outage.after) == (method, after) and path.endswith(outage.path_end):
                outage.times -= 1
                if outage.times <= 0:
                    self.outages.remove(outage)
                return outage
        return None

    # requests --------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        raw = request.environ.get("RAW_URI") or quote(request.path)
        raw_path = raw.split("?", 1)[0].split("://", 1)[-1]
        raw_path = raw_path if raw_path.startswith("/") else "/" + raw_path.split("/", 1)[-1]
        prefixed = raw_path.startswith(PREFIX + "/")
        path = raw_path.removeprefix(PREFIX) if prefixed else raw_path
        method = request.method
        route = self.contract.match(method, path) if prefixed else None
        if route is None:
            self.violations.append(f"{method} {raw_path}: no such operation in the description")
            return self._reply(method, path, None, 404, error_body(404, "Not Found"), None)
        token = self._token(request)
        if token is None:
            return self._reply(method, path, route, 401, self._unauthorized(request), None)
        query = MultiDict(request.args)
        errors = self.contract.check_request(route, query, request.get_data(), request.mimetype)
        if errors:
            self.violations.extend(f"{method} {path}: request {e}" for e in errors)
            details = [
                {"resource": route.operation_id, "code": "invalid", "message": e} for e in errors
            ]
            body = error_body(422, "Validation Failed", details)
            return self._reply(method, path, route, 422, body, query)
        if method in WRITES and token.read_only:
            body = error_body(403, "Resource not accessible by integration")
            return self._reply(method, path, route, 403, body, query)
        lost = self._outage(method, path, after=False)
        if lost is not None:
            body = error_body(lost.status, "Server Error")
            return self._reply(method, path, None, lost.status, body, query)
        call = Call(self, self._payloads(), route.params, query, self._json(request), token)
        try:
            reply = HANDLERS[(route.method, route.template)](call)
        except GitHubError as error:
            body = error_body(error.status, error.message, error.errors)
            return self._reply(method, path, route, error.status, body, query)
        except Exception as error:  # a fault of this server: record it, answer like GitHub
            self.violations.append(f"{method} {path}: server error {error!r}")
            return self._reply(method, path, None, 500, error_body(500, "Server Error"), query)
        lost = self._outage(method, path, after=True)
        if lost is not None:
            body = error_body(lost.status, "Server Error")
            return self._reply(method, path, None, lost.status, body, query)
        if isinstance(reply, Listing):
            return self._page(method, path, route, reply, query)
        return self._reply(method, path, route, reply[0], reply[1], query)

    def _payloads(self) -> AdminPayloads:
        return AdminPayloads(self, self.api_url, self.html_url)

    @staticmethod
    def _json(request: Request) -> Any:
        data = request.get_data()
        return json.loads(data) if data.strip() else {}

    def _token(self, request: Request) -> Token | None:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        return self.token(secret.strip()) if scheme.lower() in ("token", "bearer") else None

    @staticmethod
    def _unauthorized(request: Request) -> dict[str, Any]:
        if "Authorization" not in request.headers:
            return error_body(401, "Requires authentication")
        return error_body(401, "Bad credentials")

    def _page(
        self, method: str, path: str, route: Route, listing: Listing, query: MultiDict[str, str]
    ) -> Response:
        per_page = min(max(int(query.get("per_page", 30)), 1), listing.max_per_page)
        page = max(int(query.get("page", 1)), 1)
        items = listing.items[(page - 1) * per_page : page * per_page]
        built = [listing.build(item) for item in items]
        body: Any = built
        if listing.key:
            body = {"total_count": len(listing.items), listing.key: built}
        last = max(1, -(-len(listing.items) // per_page))
        rels = [("next", page + 1), ("last", last)] if page < last else []
        rels += [("first", 1), ("prev", min(page, last + 1) - 1)] if page > 1 else []
        params = [(k, v) for k, v in query.items(multi=True) if k != "page"]
        parts = []
        for rel, number in rels:
            url = f"{self.api_url}{path}?{urlencode([*params, ('page', str(number))])}"
            parts.append(f'<{url}>; rel="{rel}"')
        headers = {"Link": ", ".join(parts)} if parts else {}
        return self._reply(method, path, route, 200, body, query, headers)

    def _reply(
        self, method: str, path: str, route: Route | None, status: int, body: Any,
        query: MultiDict[str, str] | None, headers: dict[str, str] | None = None,
    ) -> Response:  # fmt: skip
        if self.response_hook is not None:
            body = self.response_hook(method, path, body)
        text = b"" if status == 204 else json.dumps(body).encode()
        if route is not None:
            errors = self.contract.check_response(route, query or MultiDict(), status, text)
            self.violations.extend(f"{method} {path}: response {status} {e}" for e in errors)
        self.data.log.append(LogEntry(method, path, status))
        response = Response(text, status=status, content_type="application/json; charset=utf-8")
        response.headers.update(headers or {})
        response.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
        response.headers["X-GitHub-Request-Id"] = uuid.uuid4().hex[:20].upper()
        response.headers["X-RateLimit-Limit"] = "5000"
        response.headers["X-RateLimit-Remaining"] = "4999"
        response.headers["X-RateLimit-Resource"] = "core"
        response.headers["X-RateLimit-Reset"] = str(int(time.time()) + 3600)
        return response


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until SIGTERM or SIGINT; dump the state on exit."""
    parser = argparse.ArgumentParser(prog="python -m mlops.testing.github_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=Path, help="a state (seed or dump) JSON file")
    parser.add_argument("--dump", type=Path, help="write the state here on exit")
    args = parser.parse_args(argv)
    state = GitHubSeeding.read_state(args.seed) if args.seed else None
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    with GitHubServer(state, port=args.port, host=args.host) as gh:
        print(gh.api_url, flush=True)
        while not stop.wait(0.2):
            pass
    if args.dump:
        gh.save(args.dump)
    for violation in gh.violations:
        print(f"contract violation: {violation}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
