"""`[tool.mlops.github]` in pyproject.toml: what setup makes true, read and checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops.adapters.settings import GitHubSettings, load_settings
from mlops.errors import MlopsError


def _github(tmp_path: Path, text: str) -> GitHubSettings:
    (tmp_path / "pyproject.toml").write_text(text)
    return load_settings(tmp_path).github


def test_defaults_derive_everything(tmp_path: Path) -> None:
    assert _github(tmp_path, "") == GitHubSettings()


def test_every_key(tmp_path: Path) -> None:
    text = (
        '[tool.mlops.github]\nbranch = "trunk"\nproduction_reviewers = ["@mchen", "@acme/sre"]\n'
        'gate_check = "gate"\ndeploy_runner = "gpu"\nvariables = { deploy_runner = "gpu" }\n'
    )
    assert _github(tmp_path, text) == GitHubSettings(
        "trunk", ("@mchen", "@acme/sre"), "gate", "gpu", {"DEPLOY_RUNNER": "gpu"}
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("brnach = 'x'", "unknown key 'brnach'"),
        ("branch = ''", "branch = '': expected a non-empty string"),
        ("production_reviewers = ['mchen']", 'expected a list of "@user" or "@org/team"'),
        ("variables = { X = 1 }", 'variables.X = 1: expected NAME = "value"'),
        ("variables = 'X'", "variables must be a table"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MlopsError, match=re.escape("pyproject.toml [tool.mlops.github]")) as caught:
        _github(tmp_path, f"[tool.mlops.github]\n{text}\n")
    assert message in caught.value.message
