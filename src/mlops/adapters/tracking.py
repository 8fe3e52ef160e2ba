"""MLflow tracking and registry: where runs, models and versions are recorded."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

from mlops.adapters.settings import Settings
from mlops.errors import MlopsError, first_line

P = ParamSpec("P")
T = TypeVar("T")


class TrackingUnavailable(MlopsError):
    """The tracking server cannot be reached."""


def _store_call(doing: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Turn the store's failures inside the decorated call into one error naming the store
    and what was being done (`doing` is formatted with the call's positional arguments)."""

    def wrap(function: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            from mlflow.exceptions import MlflowException

            try:
                return function(*args, **kwargs)
            except MlflowException as exc:
                raise _store_error(doing.format(*args), exc) from None

        return call

    return wrap


def _missing(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


def connect(settings: Settings) -> None:
    """Point MLflow at the configured store; a remote server must answer its health check."""
    # A workflow passes a repository variable the site left unset as "": MLflow would read
    # MLFLOW_S3_ENDPOINT_URL="" as an endpoint ("Invalid endpoint: "). Empty counts as unset.
    for name in [k for k, v in os.environ.items() if k.startswith("MLFLOW_") and not v]:
        del os.environ[name]
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if settings.s3_encryption is not None:  # artifacts this process uploads to S3 itself
        os.environ["MLFLOW_S3_UPLOAD_EXTRA_ARGS"] = json.dumps(settings.s3_encryption.upload_args())
    # Fail fast instead of MLflow's minutes of retries when a server is down.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    if settings.embedded:
        settings.artifacts.mkdir(parents=True, exist_ok=True)
    elif settings.tracking_uri.startswith(("http://", "https://")):
        check_server(settings.tracking_uri)
    import logging
    import warnings

    import mlflow

    # MLflow's advice (pickle caveats, integer schemas) is noise in a platform that chose them.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow\..*")
    # set_tracking_uri also exports MLFLOW_TRACKING_URI, which would then override the
    # repository's setting for every later caller in this process: keep the environment as is.
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)  # the registry lives in the same store
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


def store_missing(settings: Settings) -> bool:
    """Whether the embedded store has never been created (so it holds nothing): reading it
    then needs no MLflow, and must not create an empty database as a side effect."""
    if not settings.tracking_uri.startswith("sqlite:///"):
        return False
    return not Path(settings.tracking_uri.removeprefix("sqlite:///")).exists()


def check_server(uri: str, timeout: float = 5.0) -> None:
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            if response.status != 200:
                raise TrackingUnavailable(f"tracking server {uri} answered {response.status}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnavailable(
            f"tracking server {uri} is not answering ({reason})",
            hint="start it, or unset MLFLOW_TRACKING_URI to use the embedded store",
        ) from None


def public_uri(uri: str) -> str:
    """The tracking URI without credentials, safe to print and to post on a pull request."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return uri


def run_url(settings: Settings, run_id: str | None) -> str | None:
    """A link to the run in the tracking server's UI (None for the embedded store)."""
    uri = public_uri(settings.tracking_uri)
    if run_id is None or not uri.startswith(("http://", "https://")):
        return None
    from mlflow import MlflowClient

    experiment = MlflowClient().get_run(run_id).info.experiment_id
    return f"{uri.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}"


@_store_call("open the experiment {1!r}")
def experiment_id(settings: Settings, name: str) -> str:
    """The experiment `name` (`models/<model>`, `batch/<model>`), created on first use
    (artifacts in the state folder for the embedded store; the server decides otherwise)."""
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = (settings.artifacts / name).as_uri() if settings.embedded else None
    return str(mlflow.create_experiment(name, artifact_location=location))


def version_with_artifact(model: str, artifact_sha256: str) -> str | None:
    """An existing registered version of `model` whose artifact has this digest. A store that
    fails to answer is an error, never "no such version" (that would register a duplicate)."""
    found = _search_versions(model, "artifact_sha256", artifact_sha256)
    return found[-1] if found else None


def versions_with_tag(model: str, tag: str, value: str) -> list[str]:
    """The registered versions of `model` whose version tag `tag` is `value`, oldest first."""
    return _search_versions(model, tag, value)


def _search_versions(model: str, tag: str, value: str) -> list[str]:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    query = f"name='{model}' and tags.{tag}='{value}'"
    try:
        versions = MlflowClient().search_model_versions(query)
    except MlflowException as exc:
        raise _store_error(f"search the versions of {model!r}", exc) from None
    return sorted((str(v.version) for v in versions), key=int)


def registered_version(model: str, version: str) -> dict[str, str] | None:
    """A version's tags with its run id and creation time, None when the store says it does
    not exist; any other failure (the store down, credentials refused) is an error naming the
    store."""
    from datetime import UTC, datetime

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        found = MlflowClient().get_model_version(model, version)
    except MlflowException as exc:
        if _missing(exc):
            return None
        raise _store_error(f"read version {version} of {model!r}", exc) from None
    created = datetime.fromtimestamp(found.creation_timestamp / 1000, UTC)
    return {  # a `created` tag (training's start) wins over the registration time
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **dict(found.tags),
        "run_id": str(found.run_id or found.tags.get("run_id", "")),
    }


def _store_error(doing: str, exc: Exception) -> TrackingUnavailable:
    uri = public_uri(_current_uri())
    return TrackingUnavailable(
        f"the tracking store {uri} failed to {doing}: {first_line(exc)}",
        hint="check MLFLOW_TRACKING_URI and its credentials (MLFLOW_TRACKING_USERNAME/PASSWORD)",
    )


def _current_uri() -> str:
    import mlflow

    return str(mlflow.get_tracking_uri())


@contextmanager
def run(experiment: str, name: str, tags: dict[str, str]) -> Iterator[Any]:
    """An MLflow run that ends FINISHED on success and FAILED on any exception."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        active = mlflow.start_run(experiment_id=experiment, run_name=name, tags=tags)
    except MlflowException as exc:
        raise _store_error(f"start a run named {name!r}", exc) from None
    try:
        yield active
    except BaseException:
        with contextlib.suppress(MlflowException):  # the store may be what failed
            mlflow.end_run(status="FAILED")
        raise
    try:
        mlflow.end_run(status="FINISHED")
    except MlflowException as exc:
        raise _store_error(f"finish the run named {name!r}", exc) from None


@_store_call("log the run's data")
def log_run_data(params: dict[str, Any], metrics: dict[str, float], files: dict[str, str]) -> None:
    import mlflow

    mlflow.log_params({k: str(v) for k, v in params.items()})
    mlflow.log_metrics(metrics)
    for name, text in files.items():
        mlflow.log_text(text, name)


@_store_call("tag the run")
def set_tags(tags: dict[str, str]) -> None:
    import mlflow

    mlflow.set_tags(tags)


def run_text(run_id: str, path: str) -> str | None:
    """A text artifact of a run (lineage/dvc.lock...); None when the run has none."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow.artifacts.load_text(f"runs:/{run_id}/{path}"))
    except (MlflowException, OSError):
        return None


@_store_call("read run {0}")
def run_data(run_id: str) -> tuple[dict[str, str], dict[str, float]]:
    """A run's tags and metrics."""
    from mlflow import MlflowClient

    run = MlflowClient().get_run(run_id)
    return dict(run.data.tags), dict(run.data.metrics)


@_store_call("read the runs of experiment {0}")
def recent_run_tags(experiment: str, tags: dict[str, str], limit: int,
                    before: str | None = None) -> list[dict[str, str]]:  # fmt: skip
    """The tags of the experiment's newest finished runs carrying `tags` (at most `limit`,
    newest first, each with its `run_id`), leaving out run `before`."""
    from mlflow import MlflowClient

    wanted = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    found = MlflowClient().search_runs(
        [experiment], filter_string=f"{wanted} and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=limit + 1,
    )  # fmt: skip
    return [{**r.data.tags, "run_id": r.info.run_id} for r in found
            if r.info.run_id != before][:limit]  # fmt: skip


def log_sklearn(model_dir: Path, input_example: Any) -> str:
    """Log a pickled scikit-learn model in MLflow's native flavour; returns its model URI."""
    import pickle

    import mlflow

    with (model_dir / "model.pkl").open("rb") as fh:
        estimator = pickle.load(fh)  # our own pipeline's output, verified by digest upstream
    info = mlflow.sklearn.log_model(
        estimator, name="model", input_example=input_example,
        serialization_format="cloudpickle", pip_requirements=_requirements(estimator),
    )  # fmt: skip
    return str(info.model_uri)


def _requirements(estimator: Any) -> list[str]:
    """The model's serving requirements, pinned to what trained it. Stated rather than
    inferred: MLflow's inference reloads the model in a subprocess, ten seconds or more."""
    from importlib.metadata import PackageNotFoundError, version

    names = {"scikit-learn", "cloudpickle", "numpy", "pandas", "scipy"}
    module = type(estimator).__module__.split(".")[0]
    if module not in ("sklearn", "builtins"):
        names.add(module)
    pinned = []
    for name in sorted(names):
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue  # a module of the model's own code, not a distribution
    return pinned


@_store_call("register a version of {0!r}")
def register(model: str, model_uri: str, run_id: str, tags: dict[str, str]) -> str:
    """Register the logged model as a new version of `model`, tagged with its lineage."""
    import mlflow
    from mlflow import MlflowClient

    version = mlflow.register_model(model_uri, model, tags=tags)
    MlflowClient().set_model_version_tag(model, version.version, "run_id", run_id)
    return str(version.version)


def version_tags(model: str, version: str) -> dict[str, str]:
    """A registered version's tags (see `registered_version`); its absence is an error."""
    found = registered_version(model, version)
    if found is None:
        raise MlopsError(f"no registered version {version} of model {model!r}")
    return found


@_store_call("tag version {1} of {0!r}")
def set_version_tags(model: str, version: str, tags: dict[str, str]) -> None:
    """Add (or overwrite) tags on a registered version."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(model, version, key, value)


def download_model(model_uri: str, destination: Path) -> Path:
    """The logged MLflow model (the directory with MLmodel) copied into `destination`."""
    import mlflow.artifacts

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    destination.mkdir(parents=True, exist_ok=True)
    try:
        return Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(destination)))
    except Exception as exc:  # MLflow raises several unrelated types for a missing model
        raise MlopsError(f"cannot download {model_uri}: {first_line(exc)}") from None


# Written by MLflow into a model it downloads through the registry (the name and version it
# was fetched as): not part of the model, and different for each URI of the same model.
DOWNLOAD_METADATA = frozenset({"registered_model_meta"})


def model_digest(folder: Path) -> str:
    """SHA-256 over a model directory's files (paths and bytes), as served."""
    from mlops.adapters.pipeline_files import folder_digest

    return folder_digest(folder, DOWNLOAD_METADATA)


def logged_model_digest(model_uri: str) -> str:
    """The digest of a model just logged, read back from the artifact store."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        return model_digest(download_model(model_uri, Path(tmp)))


@_store_call("read the aliases and versions")
def aliases_and_versions(
    models: list[str],
) -> tuple[dict[str, dict[str, str]], dict[str, set[str]]]:
    """For each model: its aliases (alias -> version) and the versions the store knows."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    aliases: dict[str, dict[str, str]] = {}
    versions: dict[str, set[str]] = {}
    for name in models:
        try:
            registered = client.get_registered_model(name)
        except MlflowException as exc:
            if not _missing(exc):
                raise
            aliases[name], versions[name] = {}, set()  # never registered: nothing to label
            continue
        aliases[name] = {a: str(v) for a, v in (registered.aliases or {}).items()}
        found = client.search_model_versions(f"name = '{name}'")
        versions[name] = {str(v.version) for v in found}
    return aliases, versions


@_store_call("set alias {1!r} of {0!r} to version {2}")
def set_alias(model: str, alias: str, version: str) -> None:
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(model, alias, version)


@_store_call("remove alias {1!r} of {0!r}")
def remove_alias(model: str, alias: str) -> None:
    from mlflow import MlflowClient

    MlflowClient().delete_registered_model_alias(model, alias)


def load_model(model: str, version: str) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(f"models:/{model}/{version}")


@_store_call("log an artifact to run {1}")
def log_run_file(
    settings: Settings, run_id: str, local: Path, artifact: str
) -> dict[str, str | None]:
    """Log `local` as the artifact `artifact` (a relative path) of the finished run `run_id`.
    Returns its artifact URI and, for a tracking server, links to it in the UI
    (`artifact_url`) and to its bytes (`image_url`, what GitHub can fetch if it is public)."""
    import tempfile
    from urllib.parse import quote

    from mlflow import MlflowClient

    client = MlflowClient()
    folder, _, filename = artifact.rpartition("/")
    with tempfile.TemporaryDirectory(prefix="mlops-artifact-") as tmp:
        named = Path(tmp) / filename
        named.write_bytes(local.read_bytes())
        client.log_artifact(run_id, str(named), artifact_path=folder or None)
    info = client.get_run(run_id).info
    uri = public_uri(settings.tracking_uri).rstrip("/")
    remote = uri.startswith(("http://", "https://"))
    page = f"{uri}/#/experiments/{info.experiment_id}/runs/{run_id}/artifacts/{artifact}"
    image = f"{uri}/get-artifact?path={quote(artifact)}&run_uuid={run_id}"
    return {
        "artifact_uri": f"{str(info.artifact_uri).rstrip('/')}/{artifact}",
        "artifact_url": page if remote else None,
        "image_url": image if remote else None,
    }
