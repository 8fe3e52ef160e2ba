"""Repository settings: the image registry and the containers' network, from pyproject.toml or
the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.adapters.settings import DEPLOY_DIR_ENV, NETWORK_ENV, REGISTRY_ENV, load_settings
from mlops.errors import MlopsError


def repository(tmp_path: Path, deploy: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.mlops.deploy]\n{deploy}", encoding="utf-8")
    return tmp_path


def test_no_registry_configured_means_local_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a registry, images stay on the engine that built them."""
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    deploy = load_settings(repository(tmp_path)).deploy
    assert (deploy.registry, deploy.registry_setting) == (None, None)


def test_the_registry_comes_from_pyproject_and_the_environment_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[tool.mlops.deploy] registry` names it; MLOPS_IMAGE_REGISTRY wins when set and not
    empty (a workflow passes an unset repository variable as an empty string)."""
    root = repository(tmp_path, 'registry = "127.0.0.1:5000/acme"\n')
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    deploy = load_settings(root).deploy
    assert deploy.registry == "127.0.0.1:5000/acme"
    assert deploy.registry_setting == "pyproject.toml [tool.mlops.deploy] registry"
    monkeypatch.setenv(REGISTRY_ENV, "registry.example.com/ml")
    deploy = load_settings(root).deploy
    assert (deploy.registry, deploy.registry_setting) == ("registry.example.com/ml", REGISTRY_ENV)
    monkeypatch.setenv(REGISTRY_ENV, "")
    assert load_settings(root).deploy.registry == "127.0.0.1:5000/acme"


@pytest.mark.parametrize(
    ("deploy", "env", "message"),
    [
        ('registry = "acme"\n', None,
         "pyproject.toml [tool.mlops.deploy] registry = 'acme': 'acme' names no registry host"),
        ("registry = 5000\n", None,
         "pyproject.toml [tool.mlops.deploy] registry = 5000: expected a registry host[:port]"),
        ("", "127.0.0.1:5000/Acme",
         "MLOPS_IMAGE_REGISTRY = '127.0.0.1:5000/Acme': '127.0.0.1:5000/Acme' is not a registry"),
    ],
)  # fmt: skip
def test_a_bad_registry_is_refused_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deploy: str, env: str | None, message: str
) -> None:
    """A registry that names no host (or is not text) is refused before anything is built."""
    if env is None:
        monkeypatch.delenv(REGISTRY_ENV, raising=False)
    else:
        monkeypatch.setenv(REGISTRY_ENV, env)
    with pytest.raises(MlopsError) as raised:
        load_settings(repository(tmp_path, deploy))
    assert raised.value.message.startswith(message)


def test_the_containers_network_is_the_host_s_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serving containers join the host network by default; `network` (or
    MLOPS_DOCKER_NETWORK, which wins) may name a container whose namespace they share."""
    monkeypatch.delenv(NETWORK_ENV, raising=False)
    assert load_settings(repository(tmp_path)).deploy.network == "host"
    root = repository(tmp_path, 'network = "container:mlops-net"\n')
    assert load_settings(root).deploy.network == "container:mlops-net"
    monkeypatch.setenv(NETWORK_ENV, "host")
    assert load_settings(root).deploy.network == "host"


@pytest.mark.parametrize(
    ("deploy", "env", "named"),
    [('network = "bridge"\n', None, "pyproject.toml [tool.mlops.deploy] network = 'bridge'"),
     ("network = 1\n", None, "pyproject.toml [tool.mlops.deploy] network = 1"),
     ("", "container:", "MLOPS_DOCKER_NETWORK = 'container:'")],
)  # fmt: skip
def test_a_bad_network_is_refused_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deploy: str, env: str | None, named: str
) -> None:
    """Only the host network or a container's namespace: never a bridge network."""
    if env is None:
        monkeypatch.delenv(NETWORK_ENV, raising=False)
    else:
        monkeypatch.setenv(NETWORK_ENV, env)
    with pytest.raises(MlopsError) as raised:
        load_settings(repository(tmp_path, deploy))
    assert raised.value.message.startswith(f"{named}: expected host, or container:NAME")


def test_the_deploy_folder_is_the_host_s_when_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Routers and the generated API key live under the state folder unless the deploy host
    names its own folder (`state_dir` in the deploy table, or MLOPS_DEPLOY_DIR), which
    outlives a checkout that a runner cleans."""
    monkeypatch.delenv(DEPLOY_DIR_ENV, raising=False)
    settings = load_settings(repository(tmp_path))
    assert settings.deploy_dir("staging") == tmp_path / ".mlops" / "deploy" / "staging"
    root = repository(tmp_path, 'state_dir = "serving"\n')
    assert load_settings(root).deploy_folder == tmp_path / "serving"
    monkeypatch.setenv(DEPLOY_DIR_ENV, "/var/lib/mlops/deploy")
    assert load_settings(root).deploy_dir("production") == Path("/var/lib/mlops/deploy/production")
    with pytest.raises(MlopsError, match=r"state_dir = 3: expected a folder"):
        monkeypatch.delenv(DEPLOY_DIR_ENV)
        load_settings(repository(tmp_path, "state_dir = 3\n"))
