"""What a deployer sets per serving process, read from the environment and checked up front.

MLOPS_SERVE_MODEL           the registered model's name, e.g. breast-cancer (required)
MLOPS_SERVE_VERSION         the exact registered version, e.g. 3 (required; never latest)
MLOPS_SERVE_MODEL_URI       where to load it from (default models:/<model>/<version>); a
                            models:/ URI must name that same model and version: aliases
                            (@champion), stages and `latest` are refused, because they
                            move under a running server
MLFLOW_TRACKING_URI         the tracking server or store holding the registry (required
                            for models:/ and runs:/ URIs)
MLOPS_SERVE_MANIFEST        path of the model's model.yaml: its features are the request
                            schema (required)
MLOPS_SERVE_API_KEY         when set, /predict needs `Authorization: Bearer <key>` or
                            `X-API-Key: <key>`; /healthz, /readyz and /metrics stay open
MLOPS_SERVE_KEYS            the clients' keys file (JSON, `mlops.core.api_keys`): its keys are
                            accepted too, each within its models and environments; the file
                            is reread when it changes, so a revoked key is refused at once
MLOPS_SERVE_PREDICTION_LOGS log every prediction (one JSON line per row) under this folder,
                            in day partitions (`mlops.core.prediction_log` says how); the
                            model's compliance.pii_fields are hashed or left out
MLOPS_SERVE_ENVIRONMENT     the environment this instance serves, recorded in every log line
                            (default `local`)
MLOPS_SERVE_PII_KEY         the secret the personal-data fields are hashed with in the logs;
                            unset, they are left out of the logs
MLOPS_SERVE_MAX_ROWS        the most rows one request may carry (default: the manifest's
                            serving.api.limits.max_rows, else 1000)
MLOPS_SERVE_MAX_BODY        the largest request body, as 512Ki or 10Mi (default: the
                            manifest's serving.api.limits.max_body, else 10Mi)
MLOPS_SERVE_WORKERS         worker processes of this instance, each with its own copy of
                            the model (default: the manifest's serving.api.resources.workers,
                            else 1)
MLOPS_SERVE_BATCH_ROWS      the most rows one model call merges from requests that waited
                            while the model was busy (default 1000; 1 scores every request
                            in a call of its own)
MLOPS_SERVE_LOG_FLUSH_MS    how long prediction log lines may wait to be written, in ms
                            (default 50: one write for every request of those moments; 0
                            writes each scored batch's lines before any of its requests is
                            answered, one write per batch). A graceful stop writes what
                            waits; only a process killed outright loses its last moments
MLOPS_SERVE_ACCESS_LOG      `on`: BentoML's access log line for every request (default off:
                            the prediction log already holds each request's id, latency and
                            answer, and a log line costs a tenth of a request)
MLOPS_SERVE_TRACING         `on`: OpenTelemetry spans for every request, for a tracing
                            exporter set in BentoML's configuration (default off: with no
                            exporter the spans go nowhere, and making them costs a fifth of
                            a request)

A request over either limit is refused with 413 naming it, before its body is parsed.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops.core.features import Feature, ManifestError, features_from_manifest
from mlops.core.names import MODEL_NAME
from mlops.core.prediction_log import Protection, pii_fields
from mlops.errors import MlopsError

PREFIX = "MLOPS_SERVE_"
DEFAULT_MAX_ROWS = 1000
DEFAULT_BATCH_ROWS = 1000
DEFAULT_LOG_FLUSH_MS = 50
DEFAULT_MAX_BODY = "10Mi"
_VERSION = re.compile(r"[1-9][0-9]*")
_SIZE = re.compile(r"([1-9][0-9]*)(Ki|Mi)")


class ConfigError(MlopsError):
    """The serving configuration cannot serve one pinned model version."""


@dataclass(frozen=True)
class ServeConfig:
    model: str
    version: str
    model_uri: str
    tracking_uri: str | None
    manifest: Path
    features: tuple[Feature, ...]
    task: str
    api_key: str | None
    prediction_logs: Path | None
    environment: str
    protection: Protection
    max_rows: int
    max_body: int  # bytes
    max_body_text: str = DEFAULT_MAX_BODY  # as configured, e.g. 10Mi
    batch_rows: int = DEFAULT_BATCH_ROWS  # the most rows one model call merges
    workers: int = 1
    log_flush_ms: int = DEFAULT_LOG_FLUSH_MS  # how long log lines may wait; 0: not at all
    keys_file: Path | None = None  # the clients' keys (MLOPS_SERVE_KEYS)


def load_config(environ: Mapping[str, str] | None = None) -> ServeConfig:
    """The configuration from `environ` (default: this process's); ConfigError lists every
    problem found, not just the first."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    def value(name: str, required: bool = False) -> str | None:
        found = env.get(name)
        if found is not None and not found.strip():
            problems.append(f"{name} is set but empty" + ("" if required else ": unset it"))
            return None
        if found is None and required:
            problems.append(f"{name} is not set")
        return found.strip() if found is not None else None

    model = value(f"{PREFIX}MODEL", required=True)
    version = value(f"{PREFIX}VERSION", required=True)
    pinned = version is not None and _VERSION.fullmatch(version) is not None
    if version is not None and not pinned:
        problems.append(
            f"{PREFIX}VERSION={version!r} is not a pinned version: set the exact registered"
            " version (e.g. 3); latest, aliases and stages move under a running server"
        )
    uri = value(f"{PREFIX}MODEL_URI") or (f"models:/{model}/{version}" if model else None)
    if uri is not None and model and version and pinned:
        problems += _uri_problems(uri, model, version)
    tracking_uri = env.get("MLFLOW_TRACKING_URI") or None
    if uri is not None and uri.startswith(("models:/", "runs:/")) and tracking_uri is None:
        problems.append(f"MLFLOW_TRACKING_URI is not set: it says where {uri} is registered")
    manifest_path = value(f"{PREFIX}MANIFEST", required=True)
    features: list[Feature] = []
    task = ""
    manifest: dict[str, Any] = {}
    if manifest_path is not None:
        manifest = _read_manifest(Path(manifest_path), model, problems)
        features, task = _features(manifest, Path(manifest_path), problems)
    api_key = value(f"{PREFIX}API_KEY")
    keys_text = value(f"{PREFIX}KEYS")
    log_dir = value(f"{PREFIX}PREDICTION_LOGS")
    if log_dir is not None and not Path(log_dir).is_dir():
        problems.append(f"{PREFIX}PREDICTION_LOGS={log_dir}: no such folder")
    environment = value(f"{PREFIX}ENVIRONMENT") or "local"
    if not MODEL_NAME.match(environment):
        problems.append(f"{PREFIX}ENVIRONMENT={environment!r}: expected a name like production")
    pii_key = value(f"{PREFIX}PII_KEY")
    limits = ((manifest.get("serving") or {}).get("api") or {}).get("limits") or {}
    rows_text = value(f"{PREFIX}MAX_ROWS")
    max_rows = _positive(rows_text, f"{PREFIX}MAX_ROWS", problems)
    if rows_text is None and isinstance(limits.get("max_rows"), int):
        max_rows = limits["max_rows"]
    body_env = value(f"{PREFIX}MAX_BODY")
    body_text = body_env or str(limits.get("max_body") or DEFAULT_MAX_BODY)
    where = f"{PREFIX}MAX_BODY" if body_env else f"{manifest_path}: serving.api.limits.max_body"
    max_body = _size(body_text, where, problems)
    batch_text = value(f"{PREFIX}BATCH_ROWS")
    batch_rows = _positive(batch_text, f"{PREFIX}BATCH_ROWS", problems, DEFAULT_BATCH_ROWS)
    flush_text = value(f"{PREFIX}LOG_FLUSH_MS")
    log_flush_ms = DEFAULT_LOG_FLUSH_MS
    if flush_text is not None:
        if flush_text.isdigit() and int(flush_text) <= 60_000:
            log_flush_ms = int(flush_text)
        else:
            problems.append(f"{PREFIX}LOG_FLUSH_MS={flush_text!r}: expected a whole number of"
                            " milliseconds from 0 to 60000")  # fmt: skip
    workers_text = value(f"{PREFIX}WORKERS")
    workers = _workers(workers_text, manifest)
    if workers_text is not None and (not workers_text.isdigit() or not 1 <= workers <= 64):
        problems.append(f"{PREFIX}WORKERS={workers_text!r}: expected a whole number from 1 to 64")
    if problems or model is None or version is None or uri is None or manifest_path is None:
        bullets = "".join(f"\n  - {problem}" for problem in problems)
        listed = f" {problems[0]}" if len(problems) == 1 else bullets
        raise ConfigError(
            f"cannot serve:{listed}",
            hint="set the MLOPS_SERVE_* variables (see mlops.serving.config)",
        )
    return ServeConfig(
        model=model, version=version, model_uri=uri, tracking_uri=tracking_uri,
        manifest=Path(manifest_path), features=tuple(features), task=task, api_key=api_key,
        keys_file=Path(keys_text) if keys_text else None,
        prediction_logs=Path(log_dir) if log_dir else None, environment=environment,
        protection=Protection(pii_fields(manifest), pii_key.encode() if pii_key else None),
        max_rows=max_rows, max_body=max_body, max_body_text=body_text, workers=workers,
        batch_rows=batch_rows, log_flush_ms=log_flush_ms,
    )  # fmt: skip


def serving_workers(environ: Mapping[str, str] | None = None) -> int:
    """The worker processes to start, read before any configuration is checked (a bad
    configuration then stops the start with its own message): 1 when unclear."""
    env = os.environ if environ is None else environ
    manifest: Any = {}
    with contextlib.suppress(KeyError, OSError, yaml.YAMLError, TypeError):
        manifest = yaml.safe_load(Path(env[f"{PREFIX}MANIFEST"]).read_text(encoding="utf-8"))
    found = _workers(env.get(f"{PREFIX}WORKERS"), manifest if isinstance(manifest, dict) else {})
    return found if 1 <= found <= 64 else 1


def service_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """BentoML's configuration of the service: its workers, and its access log and request
    tracing only when turned on (see the module docstring)."""
    env = os.environ if environ is None else environ

    def on(name: str) -> bool:
        return env.get(f"{PREFIX}{name}", "").strip().lower() in ("on", "1", "true", "yes")

    return {
        "traffic": {"timeout": 120},
        "workers": serving_workers(env),
        "logging": {"access": {"enabled": on("ACCESS_LOG")}},
        "tracing": {"excluded_urls": [] if on("TRACING") else [".*"]},
    }


def _workers(text: str | None, manifest: Mapping[str, Any]) -> int:
    if text is not None:
        return int(text) if text.strip().isdigit() else 0
    resources = ((manifest.get("serving") or {}).get("api") or {}).get("resources") or {}
    workers = resources.get("workers", 1)
    return workers if isinstance(workers, int) and not isinstance(workers, bool) else 1


def _uri_problems(uri: str, model: str, version: str) -> list[str]:
    """A models:/ URI must pin the configured model and version; other URIs are immutable."""
    if not uri.startswith("models:/"):
        return []
    rest = uri.removeprefix("models:/").strip("/")
    if "@" in rest:
        return [f"{PREFIX}MODEL_URI={uri} names an alias: pin models:/{model}/{version}"]
    name, _, pinned = rest.rpartition("/")
    if not _VERSION.fullmatch(pinned):
        return [f"{PREFIX}MODEL_URI={uri} does not pin a version: use models:/{model}/{version}"]
    if (name, pinned) != (model, version):
        return [f"{PREFIX}MODEL_URI={uri} is not {PREFIX}MODEL={model} at version {version}"]
    return []


def _read_manifest(path: Path, model: str | None, problems: list[str]) -> dict[str, Any]:
    where = f"{PREFIX}MANIFEST={path}"
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{where}: cannot read it ({exc.strerror or exc})")
        return {}
    except yaml.YAMLError as exc:
        problems.append(f"{where}: not valid YAML ({exc})")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a model.yaml mapping")
        return {}
    if model is not None and data.get("name") != model:
        problems.append(f"{where} describes {data.get('name')!r}, not {PREFIX}MODEL={model}")
    return data


def _features(manifest: dict[str, Any], path: Path, problems: list[str]
              ) -> tuple[list[Feature], str]:  # fmt: skip
    if not manifest:
        return [], ""
    try:
        features = features_from_manifest(manifest)
    except ManifestError as exc:
        problems.append(f"{PREFIX}MANIFEST={path}: {exc}")
        return [], ""
    return features, str(manifest.get("task", ""))


def _size(text: str, where: str, problems: list[str]) -> int:
    """Bytes of a size such as 512Ki or 10Mi (at most 100Mi, what the router passes)."""
    match = _SIZE.fullmatch(text)
    size = int(match.group(1)) * (1024 if match.group(2) == "Ki" else 1024**2) if match else 0
    if not 0 < size <= 100 * 1024**2:
        problems.append(f"{where}={text!r}: expected a size from 1Ki to 100Mi, such as 10Mi")
        return 10 * 1024**2
    return size


def _positive(text: str | None, name: str, problems: list[str],
              default: int = DEFAULT_MAX_ROWS) -> int:  # fmt: skip
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        problems.append(f"{name}={text!r}: expected a positive whole number")
        return default
    return int(text)
