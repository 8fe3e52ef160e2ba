"""Clients' API keys end to end, and the audit of who called: `mlops keys` writes the keys
file, `mlops reconcile` gives it to the deploy host, the servers behind a real nginx accept
each key within its scope, a revocation on the deploy host is refused at the next request,
and `mlops audit` sums up the router's access log per key id, in which no key appears.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploying import MODEL, require_nginx, router_call, teardown
from support import commit_all, make_repository, run_cli

from mlops.adapters import probes
from mlops.adapters.settings import load_settings
from mlops.core.routing import ACCESS_LOG
from mlops.flows.rollout import router, smoke_row

pytestmark = pytest.mark.system  # nginx


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """breast-cancer v1 serving production on the local target, keys required."""
    require_nginx()
    root = make_repository(tmp_path_factory.mktemp("keys") / "repo", (MODEL,))
    (root / "pyproject.toml").write_text(
        "[tool.mlops.deploy]\n"
        'target = "local"\n'
        f"ports = {{ staging = {probes.free_port()}, production = {probes.free_port()} }}\n"
        "auth = true\n"
        "check_timeout = 90\n"
    )
    assert run_cli("--repo", root, "train", MODEL) == 0
    for stage in ("staging", "production"):
        assert run_cli("--repo", root, "promote", MODEL, "1", "--to", stage, "--apply") == 0
    commit_all(root, "promote 1")
    try:
        yield root
    finally:
        teardown(root)


def made_key(cli: Any, root: Path, client: str, *args: str) -> dict[str, Any]:
    done = cli("--repo", root, "keys", "create", client, *args, "--apply", "--json")
    assert done.code == 0, done.err
    return dict(json.loads(done.out))


def predict(root: Path, key: str | None, env: str = "production") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return router_call(root, env, f"/{MODEL}/predict", {"rows": [smoke_row(root, MODEL)]}, headers)


def test_keys_are_scoped_revoked_at_once_and_audited_by_id(deployed: Path, cli) -> None:
    root = deployed
    plan = cli("--repo", root, "keys", "create", "dashboard", "--model", MODEL)
    assert plan.code == 0 and "Run with --apply" in plan.out
    assert yaml.safe_load((root / "policies/api-keys.yaml").read_text())["keys"] == []

    dashboard = made_key(cli, root, "dashboard", "--model", MODEL)
    staging_only = made_key(cli, root, "tester", "--model", MODEL, "--env", "staging")
    recorded = (root / "policies/api-keys.yaml").read_text()
    assert dashboard["key"] not in recorded and dashboard["id"] in recorded
    assert run_cli("--repo", root, "validate") == 0
    commit_all(root, "keys for the dashboard and the tester")
    assert run_cli("--repo", root, "reconcile", "--apply") == 0

    assert predict(root, dashboard["key"])[0] == 200
    assert predict(root, staging_only["key"])[0] == 403
    assert predict(root, staging_only["key"], "staging")[0] == 200
    assert predict(root, None)[0] == 401
    assert predict(root, dashboard["key"][:-2] + "xx")[0] == 401

    listed = json.loads(cli("--repo", root, "keys", "list", "--json").out)["keys"]
    assert [(k["id"], k["client"], k["state"]) for k in listed] == [
        (dashboard["id"], "dashboard", "active"), (staging_only["id"], "tester", "active")
    ]  # fmt: skip
    assert all("sha256" not in k and "key" not in k for k in listed)

    revoked = cli("--repo", root, "keys", "revoke", dashboard["id"], "--apply")
    assert revoked.code == 0 and "refuse it now" in revoked.out, revoked.out
    status, body = predict(root, dashboard["key"])  # no reconcile, no restart
    assert status == 401 and body["error"] == f"API key {dashboard['id']} was revoked"
    again = cli("--repo", root, "keys", "revoke", dashboard["id"], "--apply")
    assert again.code == 2 and "was revoked at" in again.err

    time.sleep(1.5)  # the router writes its buffered log at least every second
    log = router(load_settings(root), "production").prefix / ACCESS_LOG
    text = log.read_text()
    assert dashboard["key"] not in text and staging_only["key"] not in text
    audited = cli("--repo", root, "audit", MODEL, "--env", "production", "--json")
    assert audited.code == 0, audited.err
    callers = {c["key_id"]: c for c in json.loads(audited.out)["callers"]}
    assert callers[dashboard["id"]]["outcomes"] == {"200": 1, "401": 1}
    assert callers[dashboard["id"]]["versions"] == {"1": 2}
    assert callers[staging_only["id"]]["outcomes"] == {"403": 1}
    assert callers["(no valid key)"]["outcomes"] == {"401": 2}
    assert set(callers) == {dashboard["id"], staging_only["id"], "(no valid key)"}
    assert all(c["latency_ms"]["p95"] is not None for c in callers.values())
    table = cli("--repo", root, "audit", MODEL)
    assert table.code == 0 and dashboard["id"] in table.out


def test_bad_keys_input_is_refused_and_nothing_written(deployed: Path, cli) -> None:
    root = deployed
    before = (root / "policies/api-keys.yaml").read_text()
    unknown = cli("--repo", root, "keys", "create", "x", "--model", "no-such", "--apply")
    assert unknown.code == 2 and "no model 'no-such'" in unknown.err
    past = cli("--repo", root, "keys", "create", "x", "--model", MODEL, "--expires",
               "2020-01-01", "--apply")  # fmt: skip
    assert past.code == 2 and "is not in the future" in past.err
    nonsense = cli("--repo", root, "keys", "create", "x", "--model", MODEL, "--expires", "soon")
    assert nonsense.code == 2 and "expected a number of days like 90d" in nonsense.err
    missing = cli("--repo", root, "keys", "revoke", "deadbeef", "--apply")
    assert missing.code == 2 and "no key 'deadbeef'" in missing.err
    assert (root / "policies/api-keys.yaml").read_text() == before
    (root / "policies/api-keys.yaml").write_text(before + "  - {id: XYZ}\n")
    broken = cli("--repo", root, "keys", "list")
    assert broken.code == 1 and "policies/api-keys.yaml" in broken.err
    (root / "policies/api-keys.yaml").write_text(before)
