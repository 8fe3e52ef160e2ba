"""Repository settings: `[tool.mlops]` in pyproject.toml, then environment variables.

    [tool.mlops]
    state_dir = ".mlops"                    # local tracking store and artifacts (git-ignored)
    tracking_uri = "http://127.0.0.1:5000"  # omit for the embedded SQLite store

    [tool.mlops.deploy]
    target = "local"                        # local (processes) | docker | none (aliases only)
    ports = { staging = 8701, production = 8700 }   # each environment's stable nginx port
    auth = true                             # API key on /predict (default: on for docker)
    base_images = { python = "python:3.11-slim" }   # per language, for the docker target
    check_timeout = 120                     # seconds a new instance has to become ready
    standby = true                          # keep the version traffic left warm (fast revert)
    registry = "127.0.0.1:5000/acme"        # OCI image registry (host[:port][/path]) images
                                            # are pushed to and deploy hosts pull from
    network = "host"                        # docker target: host, or container:NAME (share
                                            # the network namespace container NAME holds)
    state_dir = "/var/lib/mlops/deploy"     # the deploy host's routers, local instances and
                                            # generated API key (default: <state_dir>/deploy)
    tls = { cert = "tls/router.pem", key = "tls/router-key.pem", ca = "tls/ca.pem" }
                                            # the routers' own certificate, key and CA (paths
                                            # relative to the checkout); default: a local CA
                                            # in <deploy folder>/tls (mlops.adapters.certificates)

    [tool.mlops.data]
    remote = "s3://bucket/dvc"              # the shared DVC remote (default: .dvc/config's)
    endpoint_url = "https://s3.example"     # an S3-compatible endpoint, when not AWS

    [tool.mlops.storage]                    # what every object written to S3 asks for
    encryption = "aws:kms"                  # server-side: AES256 or aws:kms (the DVC remote,
    kms_key_id = "alias/mlops"              # MLflow artifacts uploaded here, backups)

    [tool.mlops.batch]
    spark_master = "spark://host:7077"      # `mlops score --engine spark` (default local[*])

    [tool.mlops.github]                     # what `mlops github setup` makes true on GitHub
    branch = "main"                         # the protected branch
    production_reviewers = ["@acme/ml-platform"]  # default: policies/platform.yaml owners
    gate_check = "mlops gate"               # default: the pr.yml job that runs `mlops gate`
    deploy_runner = "mlops-deploy"          # default: the value of the variable runs-on reads
    variables = { DEPLOY_RUNNER = "mlops-deploy" }  # values of the workflows' `vars.X`
    optional = ["MLOPS_DVC_ENDPOINT_URL"]   # `vars.X` / `secrets.X` a site may leave unset

    [tool.mlops.backup]                     # `mlops backup`
    destination = "/srv/backups/mlops"      # a folder or s3://bucket/prefix (default: the
                                            # folder mlops-backups beside the checkout)
    key_env = "MLOPS_BACKUP_KEY"            # the variable holding the key (base64, 32 bytes)

Environment variables override the file (an empty value counts as unset), so CI and laptops
differ by environment only: `MLFLOW_TRACKING_URI` the tracking store, `MLOPS_DEPLOY_TARGET`
the deploy target, `MLOPS_DEPLOY_DIR` the deploy host's folder, `MLOPS_DOCKER_NETWORK` its
containers' network, `MLOPS_SERVE_API_KEY` the key /predict requires, `MLOPS_IMAGE_REGISTRY`
the image registry, `MLOPS_SPARK_MASTER` the Spark master of `mlops score --engine spark`,
`MLOPS_DVC_REMOTE` and `MLOPS_DVC_ENDPOINT_URL` the data remote (its credentials are the usual
`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, read by DVC itself),
`MLOPS_BACKUP_DESTINATION` where backups go. The backup key itself is never in the file.
With no registry, images stay on the engine that built them and registry.yaml records their
image ID only, as for a single Docker host.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mlops.core.image_reference import registry_problem
from mlops.core.stages import PRODUCTION, STAGING
from mlops.core.tls import TlsFiles
from mlops.errors import MlopsError

DEFAULT_PORTS = {STAGING: 8701, PRODUCTION: 8700}
TARGETS = ("local", "docker", "none")
REGISTRY_ENV = "MLOPS_IMAGE_REGISTRY"
NETWORK_ENV = "MLOPS_DOCKER_NETWORK"
DEPLOY_DIR_ENV = "MLOPS_DEPLOY_DIR"
SPARK_MASTER_ENV = "MLOPS_SPARK_MASTER"
PROMETHEUS_ENV = "MLOPS_PROMETHEUS_URL"
BACKUP_DESTINATION_ENV = "MLOPS_BACKUP_DESTINATION"
DEFAULT_SPARK_MASTER = "local[*]"
NETWORK = re.compile(r"host|container:[A-Za-z0-9][A-Za-z0-9_.-]*")  # a container name or ID
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
OWNER = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
# Images every site can pull; air-gapped sites build local ones (scripts/build-base-images).
DEFAULT_BASE_IMAGES = {
    "python": "python:3.11-slim-bookworm",
    "r": "local/r-python:bookworm",
    "julia": "local/julia-python:bookworm",
}


@dataclass(frozen=True)
class DeploySettings:
    target: str
    ports: dict[str, int]
    auth: bool
    base_images: dict[str, str]
    check_timeout: float
    standby: bool
    registry: str | None = None  # "127.0.0.1:5000/acme"; None: local images only
    registry_setting: str | None = None  # where `registry` was set, for messages
    network: str = "host"  # the docker target's containers: host, or container:NAME
    tls: TlsFiles | None = None  # the routers' configured certificate; None: the local CA


@dataclass(frozen=True)
class S3Encryption:
    """`[tool.mlops.storage]`: the server-side encryption every object the platform writes to
    S3 asks for (the DVC remote, MLflow artifacts it uploads, backups)."""

    algorithm: str  # AES256 (S3-managed keys) or aws:kms
    kms_key_id: str | None = None  # with aws:kms: the key (default: the bucket's AWS key)

    def upload_args(self) -> dict[str, str]:
        """The S3 PutObject arguments that request it."""
        args = {"ServerSideEncryption": self.algorithm}
        return args | ({"SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {})


@dataclass(frozen=True)
class DataRemote:
    """The shared DVC remote configured for this checkout (overrides `.dvc/config`'s)."""

    url: str
    endpoint_url: str | None = None


@dataclass(frozen=True)
class GitHubSettings:
    """`[tool.mlops.github]`; None means "derive it" (see `flows.github_settings`)."""

    branch: str = "main"
    production_reviewers: tuple[str, ...] | None = None
    gate_check: str | None = None
    deploy_runner: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    optional: tuple[str, ...] = ()  # variables and secrets a site may leave unset


@dataclass(frozen=True)
class BackupSettings:
    """`[tool.mlops.backup]`: where backups go and which variable holds their key."""

    destination: str | None = None  # a folder (absolute) or s3:// URL; None: the default
    key_env: str = "MLOPS_BACKUP_KEY"


@dataclass(frozen=True)
class Settings:
    root: Path
    state_dir: Path
    tracking_uri: str
    deploy: DeploySettings = field(default_factory=lambda: _deploy({}))
    data_remote: DataRemote | None = None
    github: GitHubSettings = field(default_factory=GitHubSettings)
    deploy_root: Path | None = None  # None: <state_dir>/deploy
    spark_master: str = DEFAULT_SPARK_MASTER  # where `mlops score --engine spark` runs
    prometheus_url: str | None = None  # where `mlops monitor` reads service health
    backup: BackupSettings = field(default_factory=BackupSettings)
    s3_encryption: S3Encryption | None = None  # what every object written to S3 asks for

    @property
    def embedded(self) -> bool:
        """Whether tracking uses the embedded SQLite store (artifacts in the state folder)."""
        return self.tracking_uri.startswith("sqlite:")

    @property
    def artifacts(self) -> Path:
        return self.state_dir / "artifacts"

    @property
    def candidates(self) -> Path:
        return self.state_dir / "candidates"

    @property
    def deploy_folder(self) -> Path:
        """Where the deploy host keeps its routers' and instances' files and its generated
        API key: a folder of the host that outlives a checkout on a deploy runner."""
        return self.deploy_root or self.state_dir / "deploy"

    @property
    def prediction_logs(self) -> Path:
        """Where every instance on this deploy host logs its predictions (both targets)."""
        return self.deploy_folder / "predictions"

    @property
    def access_keys(self) -> Path:
        """The clients' API keys this deploy host's servers accept (`mlops keys`; JSON)."""
        return self.deploy_folder / "access" / "keys.json"

    def deploy_dir(self, environment: str) -> Path:
        """Where an environment's router and local instances keep their files."""
        return self.deploy_folder / environment

    def router_dir(self, environment: str) -> Path:
        """Where an environment's router (nginx) keeps its configuration and logs."""
        return self.deploy_dir(environment) / "nginx"


def load_settings(root: Path) -> Settings:
    config = _tool_config(root / "pyproject.toml")
    state = Path(config.get("state_dir", ".mlops"))
    state_dir = state if state.is_absolute() else root / state
    default_uri = f"sqlite:///{state_dir / 'mlflow.db'}"
    uri = os.environ.get("MLFLOW_TRACKING_URI") or config.get("tracking_uri") or default_uri
    deploy = replace(_deploy(config.get("deploy", {})), tls=_tls(root, config.get("deploy", {})))
    return Settings(
        root, state_dir, str(uri), deploy, _data_remote(config.get("data", {})),
        _github(config.get("github", {})), _deploy_root(root, config.get("deploy", {})),
        _spark_master(config.get("batch", {})), _prometheus(config.get("monitoring", {})),
        _backup(root, config.get("backup", {})), _s3_encryption(config.get("storage", {})),
    )  # fmt: skip


def _text_setting(env: str, section: Any, table: str, key: str, expected: str) -> str | None:
    """The variable `env`, else `key` of `[tool.mlops.<table>]`, stripped; None when neither
    is set; MlopsError naming the one that is set but empty or not text."""
    given = os.environ.get(env)
    value = given or (section.get(key) if isinstance(section, dict) else None)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        named = env if given else f"pyproject.toml [tool.mlops.{table}] {key}"
        raise MlopsError(f"{named} = {value!r}: expected {expected}")
    return value.strip()


def _prometheus(section: Any) -> str | None:
    """MLOPS_PROMETHEUS_URL, else `[tool.mlops.monitoring] prometheus_url`; None: not set."""
    found = _text_setting(PROMETHEUS_ENV, section, "monitoring", "prometheus_url",
                          "Prometheus's URL, like http://127.0.0.1:9090")  # fmt: skip
    if found is not None and not found.startswith(("http://", "https://")):
        raise MlopsError(f"Prometheus URL {found!r} ({PROMETHEUS_ENV} or [tool.mlops.monitoring]"
                         " prometheus_url): expected an http:// or https:// URL")  # fmt: skip
    return found.rstrip("/") if found else None


def _backup(root: Path, section: Any) -> BackupSettings:
    """MLOPS_BACKUP_DESTINATION, else `[tool.mlops.backup] destination` (a folder relative
    to the checkout, or s3://); `key_env` names the variable that holds the key."""
    if not isinstance(section, dict):
        raise MlopsError("pyproject.toml [tool.mlops.backup] must be a table")
    found = _text_setting(BACKUP_DESTINATION_ENV, section, "backup", "destination",
                          "a folder or an s3:// URL")  # fmt: skip
    if found is not None and "://" not in found and not Path(found).is_absolute():
        found = str(root / found)
    key_env = section.get("key_env", "MLOPS_BACKUP_KEY")
    if not isinstance(key_env, str) or not VARIABLE_NAME.match(key_env):
        raise MlopsError(f"pyproject.toml [tool.mlops.backup] key_env = {key_env!r}: expected"
                         " the name of an environment variable")  # fmt: skip
    return BackupSettings(found, key_env)


def _spark_master(section: Any) -> str:
    """MLOPS_SPARK_MASTER, else `[tool.mlops.batch] spark_master`, else local[*]."""
    found = _text_setting(SPARK_MASTER_ENV, section, "batch", "spark_master",
                          "a Spark master URL such as local[2]")  # fmt: skip
    return found or DEFAULT_SPARK_MASTER


def _deploy_root(root: Path, section: Any) -> Path | None:
    """MLOPS_DEPLOY_DIR, else `[tool.mlops.deploy] state_dir` (relative to the checkout)."""
    found = _text_setting(DEPLOY_DIR_ENV, section, "deploy", "state_dir", "a folder")
    if found is None:
        return None
    path = Path(found)
    return path if path.is_absolute() else root / path


def _tls(root: Path, section: Any) -> TlsFiles | None:
    """`[tool.mlops.deploy] tls = { cert, key, ca }`: files relative to the checkout (checked
    when a router is applied, by `mlops.adapters.certificates`); None: the local CA."""
    given = section.get("tls") if isinstance(section, dict) else None
    if given is None:
        return None
    where = "pyproject.toml [tool.mlops.deploy] tls"
    if not isinstance(given, dict) or set(given) != {"cert", "key", "ca"}:
        raise MlopsError(f"{where} = {given!r}: expected {{ cert = ..., key = ..., ca = ... }}",
                         hint="omit tls for a local CA generated in the deploy folder")  # fmt: skip
    paths = {}
    for name, value in given.items():
        if not isinstance(value, str) or not value.strip():
            raise MlopsError(f"{where}.{name} = {value!r}: expected the path of a PEM file")
        path = Path(value.strip())
        paths[name] = str(path if path.is_absolute() else (root / path).absolute())
    return TlsFiles(paths["cert"], paths["key"], paths["ca"])


ENCRYPTIONS = ("AES256", "aws:kms")


def _s3_encryption(section: Any) -> S3Encryption | None:
    """MLOPS_S3_ENCRYPTION, else `[tool.mlops.storage] encryption`; `kms_key_id` (or
    MLOPS_S3_KMS_KEY_ID) only with aws:kms."""
    if not isinstance(section, dict):
        raise MlopsError("pyproject.toml [tool.mlops.storage] must be a table")
    algorithm = _text_setting("MLOPS_S3_ENCRYPTION", section, "storage", "encryption",
                              "AES256 or aws:kms")  # fmt: skip
    key = _text_setting("MLOPS_S3_KMS_KEY_ID", section, "storage", "kms_key_id", "a KMS key id")
    if algorithm is None:
        if key is not None:
            raise MlopsError("[tool.mlops.storage] kms_key_id is set without encryption",
                             hint='set encryption = "aws:kms" too')  # fmt: skip
        return None
    if algorithm not in ENCRYPTIONS:
        choices = " or ".join(ENCRYPTIONS)
        raise MlopsError(f"[tool.mlops.storage] encryption = {algorithm!r}"
                         f" (or MLOPS_S3_ENCRYPTION): expected {choices}")  # fmt: skip
    if key is not None and algorithm != "aws:kms":
        raise MlopsError('[tool.mlops.storage] kms_key_id needs encryption = "aws:kms"')
    return S3Encryption(algorithm, key)


def _data_remote(section: Any) -> DataRemote | None:
    where = "pyproject.toml [tool.mlops.data]"
    if not isinstance(section, dict):
        raise MlopsError(f"{where} must be a table")
    url = os.environ.get("MLOPS_DVC_REMOTE") or section.get("remote")
    endpoint = os.environ.get("MLOPS_DVC_ENDPOINT_URL") or section.get("endpoint_url")
    for name, value in (("remote", url), ("endpoint_url", endpoint)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise MlopsError(f"{where} {name} = {value!r}: expected a URL")
    if url is None:
        if endpoint is not None:
            raise MlopsError(
                f"{where}: endpoint_url (or MLOPS_DVC_ENDPOINT_URL) is set without a remote",
                hint="set remote (or MLOPS_DVC_REMOTE) too, e.g. s3://bucket/dvc",
            )
        return None
    return DataRemote(str(url), str(endpoint) if endpoint else None)


def _deploy(section: Any) -> DeploySettings:
    where = "pyproject.toml [tool.mlops.deploy]"
    if not isinstance(section, dict):
        raise MlopsError(f"{where} must be a table")
    target = os.environ.get("MLOPS_DEPLOY_TARGET") or section.get("target", "local")
    if target not in TARGETS:
        raise MlopsError(f"{where} target = {target!r}: expected one of {', '.join(TARGETS)}")
    ports = {**DEFAULT_PORTS, **section.get("ports", {})}
    for env, port in ports.items():
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise MlopsError(f"{where} ports.{env} = {port!r}: expected a port number")
    auth = section.get("auth", target == "docker")
    if not isinstance(auth, bool):
        raise MlopsError(f"{where} auth = {auth!r}: expected true or false")
    images = {**DEFAULT_BASE_IMAGES, **section.get("base_images", {})}
    timeout = section.get("check_timeout", 120)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise MlopsError(f"{where} check_timeout = {timeout!r}: expected seconds")
    standby = section.get("standby", True)
    if not isinstance(standby, bool):
        raise MlopsError(f"{where} standby = {standby!r}: expected true or false")
    registry, setting = _registry(section, where)
    network = os.environ.get(NETWORK_ENV) or section.get("network", "host")
    if not isinstance(network, str) or not NETWORK.fullmatch(network):
        named = NETWORK_ENV if os.environ.get(NETWORK_ENV) else f"{where} network"
        raise MlopsError(
            f"{named} = {network!r}: expected host, or container:NAME (a container whose "
            "network namespace the serving containers share)"
        )
    return DeploySettings(str(target), ports, auth, {k: str(v) for k, v in images.items()},
                          float(timeout), standby, registry, setting, network)  # fmt: skip


def _registry(section: dict[str, Any], where: str) -> tuple[str | None, str | None]:
    """The image registry and the setting that named it (the environment first)."""
    given = os.environ.get(REGISTRY_ENV)
    if given:
        value, setting = given, REGISTRY_ENV
    elif "registry" in section:
        value, setting = section["registry"], f"{where} registry"
    else:
        return None, None
    if not isinstance(value, str):
        raise MlopsError(f"{setting} = {value!r}: expected a registry host[:port][/path]")
    problem = registry_problem(value)
    if problem:
        raise MlopsError(f"{setting} = {value!r}: {problem}")
    return value.rstrip("/"), setting


def _github(section: Any) -> GitHubSettings:
    where = "pyproject.toml [tool.mlops.github]"
    if not isinstance(section, dict):
        raise MlopsError(f"{where} must be a table")
    unknown = sorted(set(section) - {f.name for f in fields(GitHubSettings)})
    if unknown:
        raise MlopsError(f"{where}: unknown key {unknown[0]!r}",
                         hint="expected branch, production_reviewers, gate_check, "
                         "deploy_runner, variables or optional")  # fmt: skip
    text = {}
    for key in ("branch", "gate_check", "deploy_runner"):
        value = section.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise MlopsError(f"{where} {key} = {value!r}: expected a non-empty string")
        text[key] = value
    reviewers = section.get("production_reviewers")
    if reviewers is not None:
        if not isinstance(reviewers, list) or not all(_owner(r) for r in reviewers):
            raise MlopsError(f"{where} production_reviewers = {reviewers!r}: expected a list "
                             'of "@user" or "@org/team"')  # fmt: skip
        reviewers = tuple(reviewers)
    variables = section.get("variables", {})
    if not isinstance(variables, dict):
        raise MlopsError(f'{where} variables must be a table of NAME = "value"')
    for name, value in variables.items():
        if not VARIABLE_NAME.match(name) or not isinstance(value, str):
            raise MlopsError(f"{where} variables.{name} = {value!r}: expected NAME = \"value\" "
                             "(a letter or _, then letters, digits or _)")  # fmt: skip
    optional = section.get("optional", [])
    if not isinstance(optional, list) or not all(
        isinstance(n, str) and VARIABLE_NAME.match(n) for n in optional
    ):
        raise MlopsError(f"{where} optional = {optional!r}: expected a list of variable and "
                         "secret names")  # fmt: skip
    return GitHubSettings(
        text["branch"] or "main", reviewers, text["gate_check"], text["deploy_runner"],
        {name.upper(): value for name, value in variables.items()},
        tuple(n.upper() for n in optional),
    )  # fmt: skip


def _owner(value: Any) -> bool:
    return isinstance(value, str) and bool(OWNER.match(value))


def _tool_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MlopsError(f"{path.name}: cannot read [tool.mlops]: {exc}") from exc
    section = data.get("tool", {}).get("mlops", {})
    if not isinstance(section, dict):
        raise MlopsError(f"{path.name}: [tool.mlops] must be a table")
    return section
