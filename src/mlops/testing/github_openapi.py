"""The vendored subset of GitHub's OpenAPI description, and the script that regenerates it.

The subset holds only the operations in `OPERATIONS` (the calls our automation makes, as
PyGithub 2.10 sends them) plus the transitive closure of the components they reference. It is
trimmed from `generated/api.github.com.json` of the npm package `@octokit/openapi` and fixed
where openapi-core cannot take the description literally:

- an `enum` on a `nullable: true` schema gets `None` appended (GitHub returns `null` there);
- a `nullable: true` schema with `oneOf`/`anyOf` but no `type` (e.g. a commit's `author`) gets a
  null-only alternative: OpenAPI 3.0.3 ignores `nullable` without `type`, GitHub sends `null`;
- a label's `description` inside `pull-request-simple` is nullable, as it is inside
  `pull-request` (GitHub sends `null` for a label without one);
- `POST .../issues/{issue_number}/labels` also accepts a bare array of labels, as its own
  description says (PyGithub's `add_to_labels` sends one); the schema lists only the object;
- `x-multi-segment` path parameters (`/contents/{path}`) stay as they are: the server encodes
  the slashes of such a parameter before validating.

Regenerate (the `openapi` nox session does all of this)::

    npm pack @octokit/openapi@23.0.2
    tar xzf octokit-openapi-23.0.2.tgz package/generated/api.github.com.json
    python -m mlops.testing.github_openapi package/generated/api.github.com.json
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

SUBSET_PATH = Path(__file__).with_name("github_openapi.json")
SOURCE_PACKAGE = "@octokit/openapi"

_R = "/repos/{owner}/{repo}"
_TEAM = "/orgs/{org}/teams/{team_slug}"

OPERATIONS: tuple[tuple[str, str], ...] = (
    ("get", "/user"),
    ("get", "/users/{username}"),
    ("get", "/orgs/{org}"),
    ("get", _TEAM),
    ("get", f"{_TEAM}/members"),
    ("get", f"{_TEAM}/memberships/{{username}}"),
    ("get", _R),
    ("get", f"{_R}/collaborators/{{username}}/permission"),
    ("get", f"{_R}/contents/{{path}}"),
    ("get", f"{_R}/codeowners/errors"),
    ("get", f"{_R}/pulls"),
    ("post", f"{_R}/pulls"),
    ("get", f"{_R}/pulls/{{pull_number}}"),
    ("get", f"{_R}/pulls/{{pull_number}}/files"),
    ("get", f"{_R}/pulls/{{pull_number}}/reviews"),
    ("get", f"{_R}/pulls/{{pull_number}}/requested_reviewers"),
    ("get", f"{_R}/issues"),
    ("post", f"{_R}/issues"),
    ("get", f"{_R}/issues/{{issue_number}}"),
    ("patch", f"{_R}/issues/{{issue_number}}"),
    ("get", f"{_R}/issues/{{issue_number}}/comments"),
    ("post", f"{_R}/issues/{{issue_number}}/comments"),
    ("get", f"{_R}/issues/comments/{{comment_id}}"),
    ("patch", f"{_R}/issues/comments/{{comment_id}}"),
    ("get", f"{_R}/issues/{{issue_number}}/labels"),
    ("post", f"{_R}/issues/{{issue_number}}/labels"),
    ("delete", f"{_R}/issues/{{issue_number}}/labels/{{name}}"),
    ("get", f"{_R}/commits/{{ref}}"),
    ("get", f"{_R}/commits/{{ref}}/status"),
    ("get", f"{_R}/commits/{{ref}}/statuses"),
    ("get", f"{_R}/commits/{{ref}}/check-runs"),
    ("get", f"{_R}/commits/{{commit_sha}}/pulls"),
    ("post", f"{_R}/statuses/{{sha}}"),
    ("post", f"{_R}/check-runs"),
    ("get", f"{_R}/check-runs/{{check_run_id}}"),
    ("patch", f"{_R}/check-runs/{{check_run_id}}"),
    ("get", f"{_R}/deployments"),
    ("post", f"{_R}/deployments"),
    ("get", f"{_R}/deployments/{{deployment_id}}"),
    ("get", f"{_R}/deployments/{{deployment_id}}/statuses"),
    ("post", f"{_R}/deployments/{{deployment_id}}/statuses"),
    ("get", f"{_R}/branches/{{branch}}/protection"),
    ("put", f"{_R}/branches/{{branch}}/protection"),
    ("get", f"{_R}/environments/{{environment_name}}"),
    ("put", f"{_R}/environments/{{environment_name}}"),
    ("get", f"{_R}/actions/variables"),
    ("post", f"{_R}/actions/variables"),
    ("patch", f"{_R}/actions/variables/{{name}}"),
    ("get", f"{_R}/actions/secrets"),
    ("get", f"{_R}/actions/runners"),
)


def _refs(node: Any) -> Iterator[str]:
    """Every `$ref` string inside a JSON value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _allow_null_in_nullable_enums(node: Any) -> int:
    """Append `None` to each `enum` of a `nullable: true` schema that lacks it; count fixes."""
    fixed = 0
    if isinstance(node, dict):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)
            fixed += 1
        for value in node.values():
            fixed += _allow_null_in_nullable_enums(value)
    elif isinstance(node, list):
        for item in node:
            fixed += _allow_null_in_nullable_enums(item)
    return fixed


NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}
LABELS_BODY = ("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post")


def _allow_null_in_nullable_unions(node: Any) -> int:
    """Give each typeless `nullable: true` union a null-only alternative; count fixes."""
    fixed = 0
    if isinstance(node, dict):
        for key in ("oneOf", "anyOf"):
            union = node.get(key)
            if node.get("nullable") is True and "type" not in node and union is not None:
                if NULL_ONLY in union:
                    continue
                union.append(dict(NULL_ONLY))
                fixed += 1
        for value in node.values():
            fixed += _allow_null_in_nullable_unions(value)
    elif isinstance(node, list):
        for item in node:
            fixed += _allow_null_in_nullable_unions(item)
    return fixed


def _accept_bare_label_arrays(paths: dict[str, Any]) -> None:
    """Let the add-labels body be the array itself, as well as {"labels": [...]}."""
    path, method = LABELS_BODY
    if method not in paths.get(path, {}):
        return
    schema = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
    bare = schema["oneOf"][0]["properties"]["labels"]
    if bare not in schema["oneOf"]:
        schema["oneOf"].append(dict(bare))


def _allow_null_simple_pull_label_descriptions(schemas: dict[str, Any]) -> None:
    """Let a label in a `pull-request-simple` have a null description, as GitHub sends."""
    simple = schemas.get("pull-request-simple")
    if simple is not None:
        simple["properties"]["labels"]["items"]["properties"]["description"]["nullable"] = True


def trim(
    source: dict[str, Any], operations: Sequence[tuple[str, str]] = OPERATIONS
) -> dict[str, Any]:
    """The subset of `source` holding `operations` and the components they reach, fixed."""
    paths: dict[str, Any] = {}
    for method, path in operations:
        item = source["paths"].get(path, {})
        if method not in item:
            raise KeyError(f"{method.upper()} {path} is not in the source description")
        kept = paths.setdefault(path, {k: v for k, v in item.items() if k == "parameters"})
        kept[method] = item[method]
    components: dict[str, dict[str, Any]] = {}
    pending = list(_refs(paths))
    while pending:
        ref = pending.pop()
        _, _, kind, name = ref.split("/", 3)
        if name in components.get(kind, {}):
            continue
        value = source["components"][kind][name]
        components.setdefault(kind, {})[name] = value
        pending.extend(_refs(value))
    info = dict(source["info"])
    info["x-source"] = f"npm {SOURCE_PACKAGE}@{info['version']} generated/api.github.com.json"
    info["x-operations"] = len(operations)
    subset: dict[str, Any] = json.loads(
        json.dumps(
            {
                "openapi": source["openapi"],
                "info": info,
                "servers": source["servers"],
                "paths": paths,
                "components": components,
            }
        )
    )
    _allow_null_in_nullable_enums(subset)
    _allow_null_in_nullable_unions(subset)
    _accept_bare_label_arrays(subset["paths"])
    _allow_null_simple_pull_label_descriptions(subset["components"].get("schemas", {}))
    return subset


def dumps(subset: dict[str, Any]) -> str:
    """The subset as deterministic JSON text (sorted keys, one-space indent, final newline)."""
    return json.dumps(subset, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@functools.cache
def load_subset() -> dict[str, Any]:
    """The vendored subset, parsed once per process. Callers must not mutate it."""
    data: dict[str, Any] = json.loads(SUBSET_PATH.read_text(encoding="utf-8"))
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the vendored subset from the full description of the npm package."""
    parser = argparse.ArgumentParser(prog="python -m mlops.testing.github_openapi")
    parser.add_argument("source", type=Path, help="generated/api.github.com.json")
    parser.add_argument("-o", "--output", type=Path, default=SUBSET_PATH)
    args = parser.parse_args(argv)
    source = json.loads(args.source.read_text(encoding="utf-8"))
    subset = trim(source)
    args.output.write_text(dumps(subset), encoding="utf-8")
    count = sum(len(v) for v in subset["components"].values())
    print(f"{args.output}: {len(OPERATIONS)} operations, {count} components", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
