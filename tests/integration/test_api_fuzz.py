"""The served API against its own description: schemathesis generates requests from the OpenAPI
description a deployed model serves, sends them through nginx with a key, and checks that no
answer is a server error and every answer matches the description.

One breast-cancer version is trained, promoted to staging and deployed on the local target
(a real BentoML server behind a real nginx, API key on). The number of examples is bounded so
the run takes seconds, not minutes.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from deploying import MODEL, require_nginx, teardown
from hypothesis import HealthCheck, given, settings
from support import commit_all, make_repository, run_cli

from mlops.adapters.certificates import client_context
from mlops.adapters.probes import free_port
from mlops.adapters.settings import load_settings
from mlops.flows.rollout import environment_url, tls_files

KEY = "fuzz-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
EXAMPLES = 60

pytestmark = pytest.mark.system  # nginx


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The base URL of breast-cancer's staging deployment, behind nginx (HTTPS), key
    required, and the CA file that verifies it."""
    require_nginx()
    root = make_repository(tmp_path_factory.mktemp("fuzz") / "repo", (MODEL,))
    port = free_port()
    (root / "pyproject.toml").write_text(
        "[tool.mlops.deploy]\n"
        'target = "local"\n'
        f"ports = {{ staging = {port}, production = {free_port()} }}\n"
        "auth = true\n"
        "check_timeout = 90\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_SERVE_API_KEY", KEY)
        assert run_cli("--repo", root, "train", MODEL) == 0
        assert run_cli("--repo", root, "promote", MODEL, "1", "--to", "staging", "--apply") == 0
        commit_all(root, "promote 1")
        try:
            assert run_cli("--repo", root, "reconcile", "--env", "staging", "--apply") == 0
            deploy = load_settings(root)
            yield f"{environment_url(deploy, 'staging')}/{MODEL}", Path(tls_files(deploy).ca)
        finally:
            teardown(root)


@pytest.fixture
def served_api(staging: tuple[str, Path]) -> Any:
    """The OpenAPI description the deployment serves, fetched through nginx: /predict only."""
    url, ca = staging
    asked = urllib.request.Request(f"{url}/docs.json", headers=AUTH)
    with urllib.request.urlopen(asked, timeout=10, context=client_context(ca)) as answer:
        description = json.load(answer)
    return schemathesis.openapi.from_dict(description).include(path="/predict")


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=str)
def test_no_request_makes_a_server_error_or_breaks_the_description(
    served_api: Any, staging: tuple[str, Path], mode: schemathesis.GenerationMode
) -> None:
    """Bodies the description allows are answered 200 (or a key refusal), bodies it forbids
    are refused with a documented 4xx, every answer has the documented shape, never a 5xx."""
    statuses: list[int] = []
    url, ca = staging

    @given(case=served_api["/predict"]["POST"].as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case: Any) -> None:
        answer = case.call_and_validate(base_url=url, headers=AUTH, verify=str(ca))
        statuses.append(answer.status_code)

    check()
    assert len(statuses) >= EXAMPLES // 2, statuses  # the run was not cut short
    assert all(status < 500 for status in statuses)
    expected = 200 if mode is schemathesis.GenerationMode.POSITIVE else 422
    assert statuses.count(expected) + statuses.count(400) >= EXAMPLES // 4, sorted(statuses)
